"""The general start-up logic: every target, every configuration, rebuilds.

``cert_session_hook`` (the tiny module the .pth imports) handles the common
steady state itself and comes here for everything else: other targets, a
changed input, no state yet, debugging, and the explicit API
(``cert_session.activate()``, ``cert-session rebuild``). It never imports
more than ``os`` and ``sys`` unless it has to rebuild, when it imports
``cert_session._rebuild``. See docs/design.md.
"""

import os
import sys

import cert_session_hook
from cert_session_hook import (  # shared with the fast path, defined once
    _EUID,
    _S_IFDIR,
    _S_IFREG,
    HERE,
    STATE_MAGIC,
    VerifyGuardFinder,
    __version__,
    digest64,
    env_key,
    fingerprint,
    is_ours,
    parse_state,
    read_state,
    trusted,
    user_cache_dir,
    verify_guard,
)
from cert_session_hook import (
    check_state as _check_state,
)

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
PACKAGE_CERTS_DIR = os.path.join(HERE, "cert_session", "certs")
# Prebuilt by `cert-session rebuild --system` for read-only images.
SYSTEM_CACHE_DIR = os.path.join(HERE, "cert_session", "_prebuilt")
# Variables whose values decide everything activate() computes.
_WATCHED_ENV = tuple(TARGETS.values()) + tuple(ORIG_PREFIX + v for v in TARGETS.values()) + (
    "CERT_SESSION_CERTS",
    "CERT_SESSION_TARGETS",
    "CERT_SESSION_CACHE_DIR",
    "XDG_CACHE_HOME",
    "HOME",
)
# Names defined in cert_session_hook and used through this module by the package.
__all__ = [
    "HERE", "STATE_MAGIC", "VerifyGuardFinder", "__version__", "digest64", "env_key", "fingerprint",
    "is_ours", "parse_state", "read_state", "trusted", "user_cache_dir", "verify_guard", "_S_IFDIR",
    "_S_IFREG", "_EUID",
]

TYPE_CHECKING = False  # typing is not imported at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Iterator

    from cert_session_hook import State

_done = None  # type: tuple[tuple[str | None, ...], dict[str, str]] | None
last_reason = "no state yet"  # why the last rebuild happened, for status


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
    raw = os.environ.get("CERT_SESSION_TARGETS") or cert_session_hook.DEFAULT_TARGETS
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


def fallback_cache_dir() -> str:
    """A private place when the user cache cannot be used safely."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "cert-session")
    tmp = os.environ.get("TMPDIR", "")
    if not os.path.isabs(tmp):
        tmp = "/tmp"  # noqa: S108 - only a parent: the directory under it must be ours and 0700
    return os.path.join(tmp, "cert-session-%d" % _EUID)


def candidate_dirs() -> "Iterator[str]":
    """State directories to read, best first (lazily: the fallback costs a stat)."""
    yield SYSTEM_CACHE_DIR
    key = env_key()
    primary = user_cache_dir()
    if primary:
        yield os.path.join(primary, key)
    yield os.path.join(fallback_cache_dir(), key)


def state_path(directory: str, config: str) -> str:
    return os.path.join(directory, "state-" + digest64(config))


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
    exports, why = _check_state(directory, state)
    if exports is None:
        last_reason = why
    return exports


def debug(message: str) -> None:
    if os.environ.get("CERT_SESSION_DEBUG", "") not in ("", "0"):
        sys.stderr.write("cert-session: debug: %s\n" % message)


def warn(message: str) -> None:
    """Write one line to stderr (the hook's only output)."""
    try:
        sys.stderr.write("cert-session: %s\n" % " ".join(str(message).split()))
    except Exception:  # noqa: BLE001, S110 - a closed stderr must not break start-up
        pass
