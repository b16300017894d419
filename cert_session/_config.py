"""What the environment asks for: targets, their base bundles, the configuration key.

The configuration string names a full state (``_state.state_name``): the
version, the hook's directory, ``CERT_SESSION_CERTS`` made absolute, and for
each selected target its base spec (``file:<preset>``, ``certifi:``,
``openssl:``, ``openssl+certifi:`` or ``none:``). It is computed without touching the disk.
"""

from __future__ import annotations

import os

from . import _defaults, _layout, _log
from ._platform import CURRENT

__all__ = [
    "TARGETS",
    "ORIG_PREFIX",
    "WATCHED_ENV",
    "Config",
    "current_config",
    "selected_targets",
    "export_enabled",
    "original_value",
    "originals",
    "base_spec",
    "absolute_paths",
    "cwd_independent",
    "os_store_spec",
    "OS_STORE_MARK",
    "GIT_CONFIG",
    "GIT_CONFIG_MARK",
    "git_config_include",
    "KEPT",
    "kept_os_store",
]

TARGETS = {  # target -> variable it exports
    "requests": "REQUESTS_CA_BUNDLE",
    "ssl": "SSL_CERT_FILE",
    "curl": "CURL_CA_BUNDLE",
    "aws": "AWS_CA_BUNDLE",
    "git": "GIT_SSL_CAINFO",
    "node": "NODE_EXTRA_CA_CERTS",
}
# A target's base when nobody preset its variable: the union of what every
# client that reads the variable trusted before we set it (issue #11), so
# that no client loses a root it had. README "Which clients trust ..." lists
# the readers per target.
_DEFAULT_BASE = {
    "requests": "certifi:",  # requests (certifi); pip >= 24.2 keeps its system store through truststore
    "ssl": "openssl+certifi:",  # urllib/ssl (OpenSSL's default file) and httpx, uv (certifi/webpki)
    "curl": "openssl+certifi:",  # curl (OpenSSL's default file) and requests' CURL_CA_BUNDLE fallback
    "aws": "certifi:",  # botocore (certifi)
    "git": "openssl:",  # git (its TLS library's default file)
    "node": "none:",  # Node appends NODE_EXTRA_CA_CERTS to its own roots
}
ORIG_PREFIX = "CERT_SESSION_ORIG_"
# The git target's variable when the user has not set GIT_SSL_CAINFO (issue
# #23): GIT_SSL_CAINFO beats every git setting, `git -c http.sslCAInfo=...`
# and ~/.gitconfig included, while the system config file is the one git
# reads first, so every other setting of the user's wins over it.
GIT_CONFIG = "GIT_CONFIG_SYSTEM"
# A git base spec "<spec>+gitconfig:<file to include>": exported through GIT_CONFIG.
GIT_CONFIG_MARK = "+gitconfig:"
_VARIABLES = tuple(TARGETS.values()) + (GIT_CONFIG,)
# Variables whose values decide everything activate() computes.
WATCHED_ENV = _VARIABLES + tuple(ORIG_PREFIX + v for v in _VARIABLES) + (
    "CERT_SESSION_CERTS",
    "CERT_SESSION_TARGETS",
    "CERT_SESSION_EXPORT",
    "CERT_SESSION_OS_STORE",
    "SSL_CERT_DIR",
    "GIT_CONFIG_NOSYSTEM",
    "CERT_SESSION_CACHE_DIR",
    "XDG_CACHE_HOME",
    "HOME",
    "LOCALAPPDATA",
)

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    Config = tuple[str, list[tuple[str, str]], str, dict[str, str]]


def current_config() -> Config:
    """(config key, [(target, base spec)], CERT_SESSION_CERTS made absolute, originals)."""
    environ = os.environ
    origs = originals()
    certs_env = absolute_paths(environ.get("CERT_SESSION_CERTS", ""))
    store = os_store_spec(origs)
    bases = []
    for t in selected_targets():
        extra = OS_STORE_MARK + store if store else ""
        if not store and kept_os_store(t, origs):
            extra = OS_STORE_MARK + KEPT + CURRENT.os_store
        bases.append((t, base_spec(t, origs) + extra))
    include = git_config_include(origs)
    if include is not None:
        bases = [(t, spec + GIT_CONFIG_MARK + include if t == "git" else spec) for t, spec in bases]
    config = "\x1f".join([_defaults.__version__, certs_env, _layout.HERE] + ["%s=%s" % tb for tb in bases])
    return config, bases, certs_env, origs


# A base spec "<spec>+os:<store>" is that base plus the operating system's store.
OS_STORE_MARK = "+os:"
# "<spec>+os:kept:<store>": the store joins the base only to keep what the
# target's clients verified with before (kept_os_store); with no company
# certificate nothing is exported for it, as for any base.
KEPT = "kept:"


def kept_os_store(target: str, origs: dict[str, str]) -> bool:
    """Whether ``target``'s base gains the OS store so that its clients keep it.

    Where a client of the target verifies with the operating system's store
    while the variable is unset (``_platform.Policy.os_verifier_targets``:
    httpx2 through truststore on Windows and macOS, uv with
    ``UV_SYSTEM_CERTS``), exporting the variable replaces that store with our
    file, so the file holds it. Not when the variable was preset (the client
    used that file, not the store), nor with ``CERT_SESSION_OS_STORE=0`` set.
    """
    if target not in CURRENT.os_verifier_targets or origs[TARGETS[target]]:
        return False
    raw = os.environ.get("CERT_SESSION_OS_STORE", "")
    return raw.strip().lower() not in ("0", "no", "false", "off")


def os_store_spec(origs: dict[str, str]) -> str | None:
    """The OS trust store to add to every base (CERT_SESSION_OS_STORE=1), or None.

    The spec names what decides its content, so that a change means another
    state: on OpenSSL platforms the CA file and directory that OpenSSL would
    use, with SSL_CERT_FILE (its original value, not our export) and
    SSL_CERT_DIR applied as OpenSSL documents.
    """
    raw = os.environ.get("CERT_SESSION_OS_STORE") or _defaults.DEFAULT_OS_STORE
    if raw.strip().lower() not in ("1", "true", "yes", "on"):
        return None
    if CURRENT.os_store != "openssl":
        return CURRENT.os_store
    cafile, capath = CURRENT.openssl_default_paths()
    cafile = origs.get("SSL_CERT_FILE", "") or cafile
    capath = os.environ.get("SSL_CERT_DIR", "") or capath
    return "openssl:%s|%s" % (os.path.abspath(cafile) if cafile else "", os.path.abspath(capath) if capath else "")


def git_config_include(origs: dict[str, str]) -> str | None:
    """The system git config that our GIT_CONFIG_SYSTEM file includes, or None: export GIT_SSL_CAINFO.

    A GIT_SSL_CAINFO the user set beats any git config, so it stays the
    variable, with the company certificates appended as for every target.
    """
    if origs.get(TARGETS["git"]):
        return None
    # git reads no system config at all then (git's git_env_bool): ours would be ignored.
    if os.environ.get("GIT_CONFIG_NOSYSTEM", "").strip().lower() not in ("", "0", "false", "no", "off"):
        return None
    preset = origs.get(GIT_CONFIG, "")
    if preset:
        return os.path.abspath(preset)
    return CURRENT.git_system_config or None


def selected_targets() -> list[str]:
    raw = os.environ.get("CERT_SESSION_TARGETS") or _defaults.DEFAULT_TARGETS
    chosen = []
    for name in raw.split(","):
        name = name.strip().lower()
        if name in TARGETS and name not in chosen:
            chosen.append(name)
        elif name and name not in TARGETS:
            _log.debug("unknown target %r in CERT_SESSION_TARGETS ignored" % name)
    return chosen


def export_enabled() -> bool:
    """Whether the targets' variables go into os.environ (CERT_SESSION_EXPORT, default 1).

    With "0" nothing is exported: children inherit nothing from us, and only
    requests and pip in this process use the merged bundle, through the
    verify guard.
    """
    raw = os.environ.get("CERT_SESSION_EXPORT") or _defaults.DEFAULT_EXPORT
    return raw.strip().lower() not in ("0", "no", "false", "off")


def originals() -> dict[str, str]:
    """Every target variable's value (and GIT_CONFIG_SYSTEM's) before any cert-session hook touched it."""
    return {var: original_value(var) for var in _VARIABLES}


def original_value(var: str) -> str:
    """The value ``var`` had before any cert-session hook touched it.

    A child inherits our variable: re-derive from the saved original, so a
    merged bundle is never merged into itself.
    """
    value = os.environ.get(var, "")
    if _layout.is_ours(value):
        value = os.environ.get(ORIG_PREFIX + var, "")
        if _layout.is_ours(value):
            value = ""
    return value


def base_spec(target: str, origs: dict[str, str]) -> str:
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
    if all(CURRENT.is_absolute(p) for p in parts if p):
        return value
    return os.pathsep.join(os.path.abspath(os.path.expanduser(p)) for p in parts if p)


def cwd_independent() -> bool:
    """Whether what the environment asks for is the same in every directory.

    A relative CERT_SESSION_CERTS or preset bundle means something else after
    a chdir, so no fast state is written for it (the general path resolves it
    at every start).
    """
    parts = os.environ.get("CERT_SESSION_CERTS", "").split(os.pathsep)
    parts += originals().values()
    return all(CURRENT.is_absolute(p) for p in parts if p)
