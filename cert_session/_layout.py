"""Names and places: where the package, its certificates and its cache live.

The bottom of the package with ``_platform`` and ``_defaults``: everything
above imports these names from here. The start-up fast path
(``cert_session_hook``) repeats ``digest64``, ``env_key``, ``is_ours`` and
the fingerprint format inline, because it may import nothing;
tests/test_startup_fast_path.py pins the copies to these.
"""

from __future__ import annotations

import functools
import os
import sys

# ``_platform`` is imported by the functions that need it, not here: the
# verify guard imports this module at ``import requests`` for ``is_ours`` and
# ``stat_fingerprint``, and _platform would cost it 1.1 million instructions
# there (issue #18).

__all__ = [
    "HERE",
    "PACKAGE_DIR",
    "PACKAGE_CERTS_DIR",
    "SYSTEM_CACHE_DIR",
    "DEFAULTS_FILE",
    "BUNDLE_PREFIX",
    "GITCONFIG_SUFFIX",
    "is_ours",
    "digest64",
    "env_key",
    "fingerprint",
    "stat_fingerprint",
    "stat_key",
    "user_cache_dir",
    "fallback_cache_dir",
]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(PACKAGE_DIR)  # the site-packages directory holding the hook
PACKAGE_CERTS_DIR = os.path.join(PACKAGE_DIR, "certs")
# Prebuilt by `cert-session rebuild --system` for read-only images.
SYSTEM_CACHE_DIR = os.path.join(PACKAGE_DIR, "_prebuilt")
# Holds the version and the company defaults; watched by every fast state.
DEFAULTS_FILE = os.path.join(PACKAGE_DIR, "_defaults.py")
BUNDLE_PREFIX = "cert-session-"
GITCONFIG_SUFFIX = ".gitconfig"  # the git target's GIT_CONFIG_SYSTEM file, beside its bundle


# Memoized: the verify guard and the preload ask it of the same few paths at
# every request (about 1,500 instructions a call; a hit costs a dict look-up).
@functools.lru_cache(maxsize=256)
def is_ours(value: str) -> bool:
    """True for a path to one of our bundles (cert-session-<32 hex>.pem) or git configs (.gitconfig)."""
    name = os.path.basename(value)
    return (
        ((len(name) == 49 and name.endswith(".pem")) or (len(name) == 55 and name.endswith(GITCONFIG_SUFFIX)))
        and name.startswith(BUNDLE_PREFIX)
        and not name[13:45].strip("0123456789abcdef")
    )


def digest64(text: str) -> str:
    """A stable 64-bit name for ``text`` without importing hashlib.

    Not for security: every state file holds its full key, compared exactly.
    Big-int arithmetic runs in C, unlike a per-byte Python loop.
    """
    data = text.encode("utf-8", "surrogateescape")
    return "%016x" % ((int.from_bytes(data, "little") * 31 + len(data)) % 0xFFFFFFFFFFFFFFC5)


def env_key(prefix: str | None = None) -> str:
    """Per-environment sub-directory name: readable, and unique by sys.prefix."""
    prefix = sys.prefix if prefix is None else prefix
    name = os.path.basename(prefix.rstrip("/\\"))[:24]
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        name = "env"
    return "%s-%s" % (name, digest64(prefix)[:12])


def stat_fingerprint(st: os.stat_result) -> str:
    """size:mtime:ctime:inode:device. pip replaces files (new inode);
    update-ca-certificates rewrites in place (new mtime and ctime)."""
    return "%d:%d:%d:%d:%d" % (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """``stat_fingerprint``'s fields as a tuple: the same identity, compared without formatting
    (for what runs at every request)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def fingerprint(path: str) -> str:
    """Cheap identity of a file's content: stat only, never a read. "-" if missing.

    ``registry:`` inputs (the Windows certificate stores) are keys, not files:
    their last-write time stands in for the stat.
    """
    if path.startswith("registry:"):
        from ._platform import CURRENT

        return CURRENT.registry_fingerprint(path)
    try:
        return stat_fingerprint(os.stat(path))
    except OSError:
        return "-"


def user_cache_dir() -> str | None:
    from ._platform import CURRENT

    return CURRENT.user_cache_dir(os.environ)


def fallback_cache_dir() -> str:
    from ._platform import CURRENT

    return CURRENT.fallback_dir(os.environ)
