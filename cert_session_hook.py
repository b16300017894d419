"""Start-up hook of cert-session: point HTTPS clients at a merged CA bundle.

This module runs in *every* Python process of the environment, from
``cert_session_hook.pth`` (or ``cert_session_hook.start`` under PEP 829).
Don't import any costly modules here: it may only use ``os`` and ``sys``,
which the interpreter has already loaded. In steady state (inputs unchanged)
it reads one small state file, makes a few ``stat`` calls and sets
environment variables. Only when an input changed does it import
``cert_session._rebuild``, which does the real work.

It never raises and prints nothing on success; on trouble it writes at most
one line to stderr. ``CERT_SESSION_DEBUG=1`` explains each decision.
"""

import os
import sys

__version__ = "0.1.0"

# Targets a company may enable by default when it builds its wheel
# (``cert-session package --targets``); ``CERT_SESSION_TARGETS`` overrides.
DEFAULT_TARGETS = "requests"

# target name -> environment variable it exports
TARGETS = {
    "requests": "REQUESTS_CA_BUNDLE",
    "ssl": "SSL_CERT_FILE",
    "curl": "CURL_CA_BUNDLE",
    "aws": "AWS_CA_BUNDLE",
    "git": "GIT_SSL_CAINFO",
    "node": "NODE_EXTRA_CA_CERTS",
}
# Where a target's base comes from when nobody preset its variable.
_DEFAULT_BASE = {
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
# A bundle prebuilt into the environment (``cert-session rebuild --system``),
# for read-only images. Preferred over the user cache when it is fresh.
SYSTEM_CACHE_DIR = os.path.join(HERE, "cert_session", "_prebuilt")

_S_IFMT = 0o170000
_S_IFREG = 0o100000
_S_IFDIR = 0o040000
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

_done = None  # the (config, exports) last applied in this process
last_reason = "no state yet"  # why the last rebuild happened, for status


def start() -> None:
    """Entry point of the ``.pth`` line and the PEP 829 ``.start`` file."""
    try:
        if os.environ.get("CERT_SESSION_DISABLE", "") not in ("", "0"):
            debug("CERT_SESSION_DISABLE is set: doing nothing")
            return
        activate()
    except Exception as exc:  # start-up must never fail because of us
        warn(
            "start-up hook failed (%s: %s); continuing without company "
            "certificates. Set CERT_SESSION_DEBUG=1 for details, "
            "CERT_SESSION_DISABLE=1 to turn the hook off" % (type(exc).__name__, exc)
        )


def activate(force=False):
    """Export the merged bundles; return {VAR: path} of what was exported.

    Raises on unexpected errors; ``start()`` is the never-raising wrapper.
    """
    global _done
    environ = os.environ
    config, bases, certs_env, origs = current_config()
    if _done is not None and _done[0] == config and not force:
        exports = _done[1]
        if all(environ.get(var) == path for var, path in exports.items()):
            debug("already active in this process")
            return exports
    global last_reason
    last_reason = "no state yet"
    exports = None if force else load_fresh_state(config)
    if force:
        last_reason = "asked for (cert-session rebuild)"
    if exports is None:
        debug("rebuilding: %s" % last_reason)
        from cert_session import _rebuild

        exports = _rebuild.rebuild(config, bases, certs_env)
    apply(exports, origs)
    _done = (config, exports)
    return exports


def current_config():
    """(config key, [(target, base spec)], CERT_SESSION_CERTS, originals)."""
    origs = {}
    for var in TARGETS.values():
        origs[var] = original_value(var)
    certs_env = absolute_paths(os.environ.get("CERT_SESSION_CERTS", ""))
    bases = [(t, base_spec(t, origs)) for t in selected_targets()]
    config = "\x1f".join([__version__, certs_env, HERE] + ["%s=%s" % tb for tb in bases])
    return config, bases, certs_env, origs


def apply(exports, origs):
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
    # verify guard (issue #3): see the section at the end of this file.
    verify_guard(exports.get(TARGETS["requests"]))


def selected_targets():
    raw = os.environ.get("CERT_SESSION_TARGETS") or DEFAULT_TARGETS
    chosen = []
    for name in raw.split(","):
        name = name.strip().lower()
        if name in TARGETS and name not in chosen:
            chosen.append(name)
        elif name and name not in TARGETS:
            debug("unknown target %r in CERT_SESSION_TARGETS ignored" % name)
    return chosen


def is_ours(value):
    """True for a path to one of our bundles (cert-session-<32 hex>.pem)."""
    name = os.path.basename(value)
    if len(name) != len(BUNDLE_PREFIX) + 36 or not name.startswith(BUNDLE_PREFIX):
        return False
    if not name.endswith(".pem"):
        return False
    digest = name[len(BUNDLE_PREFIX) : -4]
    return digest.strip("0123456789abcdef") == ""


def original_value(var):
    """The value ``var`` had before any cert-session hook touched it.

    A child process inherits our variable; re-derive from the saved original
    so that a merged bundle is never merged into itself.
    """
    value = os.environ.get(var, "")
    if is_ours(value):
        value = os.environ.get(ORIG_PREFIX + var, "")
        if is_ours(value):
            value = ""
    return value


def base_spec(target, origs):
    """Describe the bundle ``target``'s client would use without us."""
    var = TARGETS[target]
    if origs[var]:
        return "file:" + os.path.abspath(origs[var])
    if target == "requests" and origs["CURL_CA_BUNDLE"]:
        # requests falls back on CURL_CA_BUNDLE (requests/sessions.py)
        return "file:" + os.path.abspath(origs["CURL_CA_BUNDLE"])
    return _DEFAULT_BASE[target]


def absolute_paths(value):
    """Make relative entries absolute: a state must not depend on the cwd."""
    parts = value.split(os.pathsep)
    if all(os.path.isabs(p) for p in parts if p):
        return value
    return os.pathsep.join(os.path.abspath(os.path.expanduser(p)) for p in parts if p)


def fnv1a(text):
    """64-bit FNV-1a: a stable, import-free name for a configuration."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


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
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return os.path.join(tmp, "cert-session-%d" % uid)


def env_key():
    """Per-environment sub-directory name."""
    name = os.path.basename(sys.prefix.rstrip("/\\")) or "env"
    return "%s-%s" % ("".join(c for c in name[:24] if c.isalnum() or c in "-_."), fnv1a(sys.prefix)[:12])


def candidate_dirs() -> "list[str]":
    """State directories to read, best first."""
    dirs = [os.path.join(SYSTEM_CACHE_DIR, "")]
    primary = user_cache_dir()
    if primary:
        dirs.append(os.path.join(primary, env_key()))
    dirs.append(os.path.join(fallback_cache_dir(), env_key()))
    return dirs


def trusted(st: "os.stat_result", kind: int) -> bool:
    """A file or directory we may trust: ours, not a symlink, not writable by others."""
    if st.st_mode & _S_IFMT != kind:
        return False
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        # the prebuilt bundle belongs to whoever built the image (often root)
        if st.st_uid != 0:
            return False
    return not st.st_mode & 0o022


def fingerprint(path: str) -> str:
    """Cheap identity of a file's content: stat only, never a read."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return "%d:%d:%d:%d:%d" % (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def state_path(directory, config):
    return os.path.join(directory, "state-" + fnv1a(config))


def read_state(path: str) -> "tuple[str, list[tuple[str, str, int]], list[tuple[str, str]]] | None":
    """Parse a state file we may trust, or return None."""
    try:
        # O_NONBLOCK: a FIFO planted here must not hang every start.
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not trusted(os.fstat(fd), _S_IFREG):
            warn_once_untrusted(path)
            return None
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    return parse_state(data)


def parse_state(data: bytes) -> "tuple[str, list[tuple[str, str, int]], list[tuple[str, str]]] | None":
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
    for directory in candidate_dirs():
        try:
            st = os.lstat(directory)
        except OSError:
            continue
        if not trusted(st, _S_IFDIR):
            warn_once_untrusted(directory)
            continue
        state = read_state(state_path(directory, config))
        if state is None or state[0] != config:
            continue
        exports = check_state(directory, state)
        if exports is not None:
            debug("steady state from %s" % directory)
            return exports
    return None


def check_state(directory: str, state: "tuple[str, list[tuple[str, str, int]], list[tuple[str, str]]]") -> "dict[str, str] | None":
    global last_reason
    _, exports, inputs = state
    for path, recorded in inputs:
        if fingerprint(path) != recorded:
            last_reason = "changed: %s" % path
            return None
    result = {}  # type: dict[str, str]
    for var, path, size in exports:
        if os.path.dirname(path) != directory.rstrip(os.sep):
            return None
        try:
            st = os.lstat(path)
        except OSError:
            last_reason = "bundle missing: %s" % path
            return None
        if not trusted(st, _S_IFREG) or st.st_size != size:
            last_reason = "bundle not usable: %s" % path
            return None
        result[var] = path
    return result


_warned = []


def warn_once_untrusted(path):
    if path not in _warned:
        _warned.append(path)
        debug(
            "ignoring %s: not owned by this user, a symlink, or writable by "
            "others" % path
        )


def debug(message):
    if os.environ.get("CERT_SESSION_DEBUG", "") not in ("", "0"):
        sys.stderr.write("cert-session: debug: %s\n" % message)


def warn(message):
    """Write one line to stderr (the hook's only output)."""
    try:
        sys.stderr.write("cert-session: %s\n" % " ".join(str(message).split()))
    except Exception:
        pass


# ---- verify guard: lazy import hook (issue #3) ------------------------------
# requests lets REQUESTS_CA_BUNDLE beat Session.verify (psf/requests#3829), so
# exporting it would override a tool's own verify=False or verify=<file>.
# This finder waits until requests' sessions module (or pip's vendored copy)
# is imported, then hands it to cert_session._verify_guard, which applies our
# rule. Until then each import costs one set lookup, and nothing is imported
# at start-up. It leaves sys.meta_path once both copies are guarded.

GUARDED_MODULES = ("requests.sessions", "pip._vendor.requests.sessions")

TYPE_CHECKING = False  # typing is not imported at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_guard = None  # the VerifyGuardFinder of this process, once installed


class VerifyGuardFinder:
    """A ``sys.meta_path`` entry that guards requests right after it loads."""

    def __init__(self) -> None:
        self.bundle = None  # type: str | None
        self.pending = set(GUARDED_MODULES)

    def current_bundle(self) -> "str | None":
        return self.bundle

    def find_spec(
        self, name: str, path: "Sequence[str] | None", target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name not in self.pending:
            return None
        spec = None
        for finder in sys.meta_path:  # the real spec, as if we were not here
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None:
                spec = find(name, path, target)
                if spec is not None:
                    break
        loader = getattr(spec, "loader", None)
        real_exec = getattr(loader, "exec_module", None)
        if real_exec is None:
            return spec
        # Shadow exec_module on this loader instance only; a zipimport loader
        # is shared by a whole archive, so restore it and pass others through.
        saved = getattr(loader, "__dict__", {}).get("exec_module")

        def exec_module(module: "ModuleType") -> None:
            if getattr(module, "__name__", None) != name:
                real_exec(module)
                return
            try:
                real_exec(module)
            finally:
                if saved is None:
                    delattr(loader, "exec_module")
                else:
                    setattr(loader, "exec_module", saved)  # noqa: B010
            self.guard(name, module)

        try:
            setattr(loader, "exec_module", exec_module)  # noqa: B010
        except (AttributeError, TypeError):
            debug("cannot watch %s: its loader is read-only" % name)
        return spec

    def guard(self, name: str, module: "ModuleType") -> None:
        self.pending.discard(name)
        if not self.pending and self in sys.meta_path:
            # Not while importlib iterates sys.meta_path for this thread: this
            # runs after the module executed, outside any find_spec loop.
            sys.meta_path.remove(self)
        try:
            from cert_session import _verify_guard

            _verify_guard.install(module, self.current_bundle)
        except Exception as exc:  # noqa: BLE001 - start-up code never raises
            warn(
                "cannot guard verify= of %s (%s: %s); REQUESTS_CA_BUNDLE may "
                "override a tool's own bundle" % (name, type(exc).__name__, exc)
            )


def verify_guard(bundle: "str | None") -> None:
    """Apply the verify rule to requests with ``bundle`` as the default (None: off)."""
    global _guard
    if _guard is None:
        if bundle is None:
            return
        _guard = VerifyGuardFinder()
        _guard.bundle = bundle
        for name in GUARDED_MODULES:
            if name in sys.modules:  # activate() called after requests was imported
                _guard.guard(name, sys.modules[name])
        if _guard.pending:
            sys.meta_path.insert(0, _guard)
    _guard.bundle = bundle
