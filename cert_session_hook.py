"""cert-session's start-up hook: the steady-state fast path, nothing else.

Runs in every Python process of the environment (cert_session_hook.pth, or
cert_session_hook.start under PEP 829), so it may only use os and sys,
which are already loaded, and must stay small. For the common case (target
``requests``, nothing changed since the last start) it reads one state file,
stats the inputs listed there and sets REQUESTS_CA_BUNDLE. Anything else
(another target, a changed input, no state, debugging) goes to
cert_session._startup, which holds the general logic. See docs/design.md.
"""

import os
import sys

__version__ = "0.1.0"

# A company may change this default in its wheel (cert-session package
# --targets); CERT_SESSION_TARGETS overrides it.
DEFAULT_TARGETS = "requests"

HERE = os.path.dirname(os.path.abspath(__file__))
STATE_MAGIC = "cert-session-state 1"
ORIG = "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE"
# The other targets' variables: one of ours inherited there needs the full path.
_OTHER_VARS = ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "AWS_CA_BUNDLE", "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS")
_PREBUILT = os.path.join(HERE, "cert_session", "_prebuilt")
_S_IFMT = 0o170000
_S_IFREG = 0o100000
_S_IFDIR = 0o040000
_EUID = os.geteuid() if hasattr(os, "geteuid") else -1
GUARDED_MODULES = ("requests.sessions", "pip._vendor.requests.sessions")

TYPE_CHECKING = False  # typing is not imported at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    State = tuple[str, list[tuple[str, str, int]], list[tuple[str, str]]]

_guard = None  # type: VerifyGuardFinder | None


def start() -> None:
    """Entry point of the .pth line and of the PEP 829 .start file."""
    environ = os.environ
    if environ.get("CERT_SESSION_DISABLE", "") not in ("", "0"):
        return
    try:
        if _steady(environ):
            return
    except Exception:  # noqa: BLE001, S110 - the full path below decides and reports
        pass
    try:
        from cert_session import _startup

        _startup.start()
    except Exception as exc:  # noqa: BLE001 - start-up must never fail because of us
        sys.stderr.write("cert-session: start-up hook failed (%s: %s); CERT_SESSION_DISABLE=1 turns it off\n" % (type(exc).__name__, exc))


def _steady(environ: "os._Environ[str]") -> bool:
    """Apply the recorded exports if this is the plain requests case and nothing changed.

    It must accept only what cert_session._startup would accept for the same
    environment, with the same result (tests/test_startup_fast_path.py).
    """
    if environ.get("CERT_SESSION_DEBUG", "") not in ("", "0"):
        return False
    fast = fast_config(environ)
    if fast is None:
        return False
    config, orig = fast
    try:
        os.lstat(_PREBUILT)
        return False  # a prebuilt bundle is preferred: the full path checks it
    except OSError:
        pass
    cache = user_cache_dir()
    if cache is None:
        return False
    directory = os.path.join(cache, env_key())
    if not trusted(os.lstat(directory), _S_IFDIR):
        return False
    state = read_state(os.path.join(directory, "state-" + digest64(config)))
    if state is None or state[0] != config:
        return False
    exports, _ = check_state(directory, state)
    if exports is None or list(exports) != ["REQUESTS_CA_BUNDLE"]:
        return False
    environ["REQUESTS_CA_BUNDLE"] = exports["REQUESTS_CA_BUNDLE"]
    environ[ORIG] = orig
    verify_guard(exports["REQUESTS_CA_BUNDLE"])
    return True


def fast_config(environ: "os._Environ[str]") -> "tuple[str, str] | None":
    """(configuration key, original REQUESTS_CA_BUNDLE) of the plain requests case, else None.

    The key equals cert_session._startup.current_config()'s for the same
    environment (tests/test_startup_fast_path.py); None sends the start to
    the general path.
    """
    if (environ.get("CERT_SESSION_TARGETS") or DEFAULT_TARGETS) != "requests":
        return None
    certs = environ.get("CERT_SESSION_CERTS", "")
    if certs and not all(os.path.isabs(p) for p in certs.split(os.pathsep) if p):
        return None
    for var in _OTHER_VARS:  # an inherited export of another target must be undone
        if is_ours(environ.get(var, "")):
            return None
    orig = environ.get("REQUESTS_CA_BUNDLE", "")
    if orig and is_ours(orig):
        orig = environ.get(ORIG, "")
        if is_ours(orig):
            orig = ""
    base = orig or environ.get("CURL_CA_BUNDLE", "")
    spec = "file:" + os.path.abspath(base) if base else "certifi:"
    return "\x1f".join((__version__, certs, HERE, "requests=" + spec)), orig


def is_ours(value: str) -> bool:
    """True for a path to one of our bundles (cert-session-<32 hex>.pem)."""
    name = os.path.basename(value)
    return (
        len(name) == 49
        and name.startswith("cert-session-")
        and name.endswith(".pem")
        and not name[13:45].strip("0123456789abcdef")
    )


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


def env_key() -> str:
    """Per-environment sub-directory name: readable, and unique by sys.prefix."""
    name = os.path.basename(sys.prefix.rstrip("/\\"))[:24]
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        name = "env"
    return "%s-%s" % (name, digest64(sys.prefix)[:12])


def trusted(st: "os.stat_result", kind: int) -> bool:
    """Ours (or root's), of the expected type (so not a symlink), not writable by others."""
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


def read_state(path: str) -> "State | None":
    """Parse a state file we may trust, or return None."""
    try:
        # O_NONBLOCK: a FIFO planted here must not hang every start.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not trusted(os.fstat(fd), _S_IFREG):
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


def check_state(directory: str, state: "State") -> "tuple[dict[str, str] | None, str]":
    """(exports, "") if every input and bundle is unchanged, else (None, why)."""
    _, exports, inputs = state
    bundles = {path for _, path, _ in exports}
    recorded = dict(inputs)
    for path, fp in inputs:
        if path not in bundles and fingerprint(path) != fp:
            return None, "changed: %s" % path
    result = {}
    for var, path, size in exports:
        try:
            st = os.lstat(path)  # one stat: ownership, type, size and content identity
        except OSError:
            return None, "bundle missing: %s" % path
        if (
            os.path.dirname(path) != directory
            or not trusted(st, _S_IFREG)
            or st.st_size != size
            or recorded.get(path) != _fp(st)
        ):
            return None, "bundle not usable: %s" % path
        result[var] = path
    return result, ""


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
