"""Start-up hook of cert-session: point HTTPS clients at a merged CA bundle.

Runs in *every* Python process of the environment, from
``cert_session_hook.pth`` (or ``cert_session_hook.start``, PEP 829). Don't
import any costly modules here: only ``os`` and ``sys``, already loaded.
In steady state it reads one small state file, stats the inputs recorded
there and sets environment variables. Only when a fingerprint changed does
it import ``cert_session._rebuild``. It never raises, prints nothing on
success and at most one line on trouble; ``CERT_SESSION_DEBUG=1`` explains.
See docs/design.md. Every line here costs every Python start: keep it small.
"""

import os
import sys

__version__ = "0.1.0"

# A company may change this default in its wheel (cert-session package
# --targets); CERT_SESSION_TARGETS overrides it.
DEFAULT_TARGETS = "requests"

TARGETS = {  # target -> variable it exports
    "requests": "REQUESTS_CA_BUNDLE",
    "ssl": "SSL_CERT_FILE",
    "curl": "CURL_CA_BUNDLE",
    "aws": "AWS_CA_BUNDLE",
    "git": "GIT_SSL_CAINFO",
    "node": "NODE_EXTRA_CA_CERTS",
}
_DEFAULT_BASE = {  # a target's base when nobody preset its variable
    "requests": "certifi:",
    "ssl": "openssl:",
    "curl": "openssl:",
    "aws": "certifi:",
    "git": "openssl:",
    "node": "none:",  # Node appends NODE_EXTRA_CA_CERTS to its own roots
}
ORIG_PREFIX = "CERT_SESSION_ORIG_"
BUNDLE_PREFIX = "cert-session-"
STATE_MAGIC = "cert-session-state 1"
HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_CERTS_DIR = os.path.join(HERE, "cert_session", "certs")
# Prebuilt by `cert-session rebuild --system` for read-only images.
SYSTEM_CACHE_DIR = os.path.join(HERE, "cert_session", "_prebuilt")
GUARDED_MODULES = ("requests.sessions", "pip._vendor.requests.sessions")
# Variables whose values decide everything activate() computes.
_WATCHED_ENV = tuple(TARGETS.values()) + tuple(ORIG_PREFIX + v for v in TARGETS.values()) + (
    "CERT_SESSION_CERTS",
    "CERT_SESSION_TARGETS",
    "CERT_SESSION_CACHE_DIR",
    "XDG_CACHE_HOME",
    "HOME",
)

_S_IFMT = 0o170000
_S_IFREG = 0o100000
_S_IFDIR = 0o040000
_EUID = os.geteuid() if hasattr(os, "geteuid") else -1

TYPE_CHECKING = False  # typing is not imported at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    State = tuple[str, list[tuple[str, str, int]], list[tuple[str, str]]]

_done = None  # type: tuple[tuple[str | None, ...], dict[str, str]] | None
last_reason = "no state yet"  # why the last rebuild happened, for status
_guard = None  # type: VerifyGuardFinder | None


def start() -> None:
    """Entry point of the ``.pth`` line and the PEP 829 ``.start`` file."""
    try:
        if os.environ.get("CERT_SESSION_DISABLE", "") not in ("", "0"):
            debug("CERT_SESSION_DISABLE is set: doing nothing")
            return
        activate()
    except Exception as exc:  # noqa: BLE001 - start-up must never fail because of us
        warn(
            "start-up hook failed (%s: %s); continuing without company certificates. "
            "CERT_SESSION_DEBUG=1 explains, CERT_SESSION_DISABLE=1 turns the hook off"
            % (type(exc).__name__, exc)
        )


def activate(force: bool = False) -> "dict[str, str]":
    """Export the merged bundles; return {VAR: path} of what was exported.

    Raises on unexpected errors; ``start()`` is the never-raising wrapper.
    """
    global _done, last_reason
    environ = os.environ
    if _done is not None and not force:
        # A venv's .pth lines run twice on some Pythons: nothing changed since.
        if tuple(environ.get(v) for v in _WATCHED_ENV) == _done[0]:
            return _done[1]
    config, bases, certs_env, origs = current_config()
    last_reason = "asked for (cert-session rebuild)" if force else "no state yet"
    exports = None if force else load_fresh_state(config)
    if exports is None:
        debug("rebuilding: %s" % last_reason)
        from cert_session import _rebuild

        exports = _rebuild.rebuild(config, bases, certs_env)
    apply(exports, origs)
    _done = (tuple(environ.get(v) for v in _WATCHED_ENV), exports)
    return exports


def current_config() -> "tuple[str, list[tuple[str, str]], str, dict[str, str]]":
    """(config key, [(target, base spec)], CERT_SESSION_CERTS, originals)."""
    environ = os.environ
    origs = {}
    for var in TARGETS.values():  # original_value(), inlined: this runs at every start
        value = environ.get(var, "")
        if value and is_ours(value):
            value = environ.get(ORIG_PREFIX + var, "")
            if is_ours(value):
                value = ""
        origs[var] = value
    certs_env = absolute_paths(environ.get("CERT_SESSION_CERTS", ""))
    bases = [(t, base_spec(t, origs)) for t in selected_targets()]
    config = "\x1f".join([__version__, certs_env, HERE] + ["%s=%s" % tb for tb in bases])
    return config, bases, certs_env, origs


def apply(exports: "dict[str, str]", origs: "dict[str, str]") -> None:
    """Set exported variables; undo inherited ones we no longer export."""
    environ = os.environ
    for var, orig in origs.items():
        if var in exports:
            debug("%s=%s (base %s)" % (var, exports[var], orig or "default"))
            environ[var] = exports[var]
            environ[ORIG_PREFIX + var] = orig
        elif is_ours(environ.get(var, "")):
            # Inherited from a parent that exported it; we no longer do.
            if orig:
                environ[var] = orig
            else:
                del environ[var]
            environ.pop(ORIG_PREFIX + var, None)
    verify_guard(exports.get(TARGETS["requests"]))


def selected_targets() -> "list[str]":
    raw = os.environ.get("CERT_SESSION_TARGETS") or DEFAULT_TARGETS
    if raw == "requests":
        return ["requests"]
    chosen = []
    for name in raw.split(","):
        name = name.strip().lower()
        if name in TARGETS and name not in chosen:
            chosen.append(name)
        elif name and name not in TARGETS:
            debug("unknown target %r in CERT_SESSION_TARGETS ignored" % name)
    return chosen


def is_ours(value: str) -> bool:
    """True for a path to one of our bundles (cert-session-<32 hex>.pem)."""
    name = os.path.basename(value)
    return (
        len(name) == 49
        and name.startswith(BUNDLE_PREFIX)
        and name.endswith(".pem")
        and not name[13:45].strip("0123456789abcdef")
    )


def original_value(var: str) -> str:
    """The value ``var`` had before any cert-session hook touched it.

    A child inherits our variable: re-derive from the saved original, so a
    merged bundle is never merged into itself.
    """
    value = os.environ.get(var, "")
    if is_ours(value):
        value = os.environ.get(ORIG_PREFIX + var, "")
        if is_ours(value):
            value = ""
    return value


def base_spec(target: str, origs: "dict[str, str]") -> str:
    """Describe the bundle ``target``'s client would use without us."""
    var = TARGETS[target]
    if origs[var]:
        return "file:" + os.path.abspath(origs[var])
    if target == "requests" and origs["CURL_CA_BUNDLE"]:
        # requests falls back on CURL_CA_BUNDLE (requests/sessions.py)
        return "file:" + os.path.abspath(origs["CURL_CA_BUNDLE"])
    return _DEFAULT_BASE[target]


def absolute_paths(value: str) -> str:
    """Make relative entries absolute: a state must not depend on the cwd."""
    if not value:
        return value
    parts = value.split(os.pathsep)
    if all(os.path.isabs(p) for p in parts if p):
        return value
    return os.pathsep.join(os.path.abspath(os.path.expanduser(p)) for p in parts if p)


def digest64(text: str) -> str:
    """A stable 64-bit name for ``text`` without importing hashlib.

    Not for security: the state file holds the full configuration, compared
    exactly. Big-int arithmetic runs in C, unlike a per-byte Python loop.
    """
    data = text.encode("utf-8", "surrogateescape")
    return "%016x" % ((int.from_bytes(data, "little") * 31 + len(data)) % 0xFFFFFFFFFFFFFFC5)


def user_cache_dir() -> "str | None":
    """The platform's per-user cache directory for us, or None."""
    environ = os.environ
    configured = environ.get("CERT_SESSION_CACHE_DIR")
    # A relative one would put a cache in every working directory and export
    # bundle paths that break after a chdir: ignored, as XDG ignores them.
    if configured and os.path.isabs(configured):
        return configured
    if configured:
        debug("CERT_SESSION_CACHE_DIR=%s is not an absolute path: ignored" % configured)
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA")
        return os.path.join(base, "cert-session", "Cache") if base else None
    home = environ.get("HOME", "")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "cert-session") if home else None
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "cert-session")
    if home and os.path.isabs(home):
        return os.path.join(home, ".cache", "cert-session")
    return None


def fallback_cache_dir() -> str:
    """A private place when the user cache cannot be used safely."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "cert-session")
    tmp = os.environ.get("TMPDIR", "")
    if not os.path.isabs(tmp):
        tmp = "/tmp"  # noqa: S108 - only a parent: the directory under it must be ours and 0700
    return os.path.join(tmp, "cert-session-%d" % _EUID)


def env_key() -> str:
    """Per-environment sub-directory name: readable, and unique by sys.prefix."""
    name = os.path.basename(sys.prefix.rstrip("/\\"))[:24]
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        name = "env"
    return "%s-%s" % (name, digest64(sys.prefix)[:12])


def candidate_dirs() -> "Iterator[str]":
    """State directories to read, best first (lazily: the fallback costs a stat)."""
    yield SYSTEM_CACHE_DIR
    key = env_key()
    primary = user_cache_dir()
    if primary:
        yield os.path.join(primary, key)
    yield os.path.join(fallback_cache_dir(), key)


def trusted(st: "os.stat_result", kind: int) -> bool:
    """A file or directory we may trust: ours (or root's), not a symlink, not writable by others."""
    if st.st_mode & _S_IFMT != kind:
        return False
    if _EUID != -1 and st.st_uid != _EUID and st.st_uid != 0:
        return False
    return not st.st_mode & 0o022


def _fp(st: "os.stat_result") -> str:
    return "%d:%d:%d:%d:%d" % (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def fingerprint(path: str) -> str:
    """Cheap identity of a file's content: stat only, never a read."""
    try:
        return _fp(os.stat(path))
    except OSError:
        return "-"


def state_path(directory: str, config: str) -> str:
    return os.path.join(directory, "state-" + digest64(config))


def read_state(path: str) -> "State | None":
    """Parse a state file we may trust, or return None."""
    try:
        # O_NONBLOCK: a FIFO planted here must not hang every start.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not trusted(os.fstat(fd), _S_IFREG):
            debug("ignoring %s: not ours, not a regular file, or writable by others" % path)
            return None
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    return parse_state(data)


def parse_state(data: bytes) -> "State | None":
    """State text -> (config, exports, inputs), or None if malformed."""
    try:
        text = data.decode("utf-8", "surrogateescape")
    except (UnicodeError, AttributeError):  # surrogateescape takes any bytes; not bytes at all
        return None
    lines = text.split("\n")
    # "Z" ends every state: a file cut at a line boundary still parses line
    # by line, and would silently drop exports and inputs.
    if len(lines) < 4 or lines[0] != STATE_MAGIC or lines[-2:] != ["Z", ""]:
        return None
    config = None
    exports = []  # type: list[tuple[str, str, int]]
    inputs = []  # type: list[tuple[str, str]]
    for line in lines[1:-2]:
        fields = line.split("\t")
        kind = fields[0]
        if kind == "C" and len(fields) == 2 and config is None:
            config = fields[1]
        elif kind == "E" and len(fields) == 4 and fields[3].isdigit():
            exports.append((fields[1], fields[2], int(fields[3])))
        elif kind == "I" and len(fields) == 3:
            inputs.append((fields[1], fields[2]))
        elif kind != "W":
            return None
    if config is None:
        return None
    return config, exports, inputs


def load_fresh_state(config: str) -> "dict[str, str] | None":
    """The exports recorded for ``config`` if every input is unchanged."""
    name = "state-" + digest64(config)
    for directory in candidate_dirs():
        try:
            st = os.lstat(directory)
        except OSError:
            continue
        if not trusted(st, _S_IFDIR):
            debug("ignoring %s: not ours, a symlink, or writable by others" % directory)
            continue
        state = read_state(os.path.join(directory, name))
        if state is None or state[0] != config:
            continue
        exports = check_state(directory, state)
        if exports is not None:
            debug("steady state from %s" % directory)
            return exports
    return None


def check_state(directory: str, state: "State") -> "dict[str, str] | None":
    """Exports of a state whose inputs and bundles are all unchanged, else None."""
    global last_reason
    _, exports, inputs = state
    bundles = {path for _, path, _ in exports}
    recorded = dict(inputs)
    for path, fp in inputs:
        if path not in bundles and fingerprint(path) != fp:
            last_reason = "changed: %s" % path
            return None
    result = {}
    for var, path, size in exports:
        try:
            st = os.lstat(path)  # one stat: ownership, type, size and content identity
        except OSError:
            last_reason = "bundle missing: %s" % path
            return None
        if (
            os.path.dirname(path) != directory
            or not trusted(st, _S_IFREG)
            or st.st_size != size
            or recorded.get(path) != _fp(st)
        ):
            last_reason = "bundle not usable: %s" % path
            return None
        result[var] = path
    return result


def debug(message: str) -> None:
    if os.environ.get("CERT_SESSION_DEBUG", "") not in ("", "0"):
        sys.stderr.write("cert-session: debug: %s\n" % message)


def warn(message: str) -> None:
    """Write one line to stderr (the hook's only output)."""
    try:
        sys.stderr.write("cert-session: %s\n" % " ".join(str(message).split()))
    except Exception:  # noqa: BLE001, S110 - a closed stderr must not break start-up
        pass


# requests lets REQUESTS_CA_BUNDLE beat Session.verify (psf/requests#3829),
# so exporting it would override a tool's own verify=False or verify=<file>.
# This finder costs one set lookup per import until requests' sessions module
# (or pip's vendored copy) is imported; cert_session._verify_guard then
# applies the rule. It leaves sys.meta_path once both copies are guarded.
class VerifyGuardFinder:
    def __init__(self, bundle: "str | None") -> None:
        self.bundle = bundle
        self.pending = set(GUARDED_MODULES)

    def current_bundle(self) -> "str | None":
        return self.bundle

    def find_spec(
        self, name: str, path: "Sequence[str] | None", target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name not in self.pending:
            return None
        from cert_session import _verify_guard

        return _verify_guard.find_spec(self, name, path, target)


def verify_guard(bundle: "str | None") -> None:
    """Apply the verify rule to requests with ``bundle`` as the default (None: off)."""
    global _guard
    if _guard is None:
        if bundle is None:
            return
        _guard = VerifyGuardFinder(bundle)
        if any(name in sys.modules for name in GUARDED_MODULES):  # activate() after import
            from cert_session import _verify_guard

            for name in GUARDED_MODULES:
                if name in sys.modules:
                    _verify_guard.guard(_guard, name, sys.modules[name])
        if _guard.pending:
            sys.meta_path.insert(0, _guard)
    _guard.bundle = bundle
