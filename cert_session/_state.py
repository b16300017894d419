"""The two state files: the full state of a configuration, and the compact fast state.

``state-<digest64(config)>`` belongs to a *configuration* (what decides the
bundles: version, company certificates, targets and their bases). The
general path and ``cert-session status`` read it. Format (UTF-8, tab
separated)::

    cert-session-state 2
    C	<configuration string>
    W	<epoch of the rebuild>	<why it was rebuilt>
    E	<VARIABLE>	<bundle path>	<bundle size>
    I	<input path>	<size:mtime_ns:ctime_ns:inode:device or ->
    Z

``fast-<digest64(key)>`` belongs to the *raw environment* the start-up fast
path sees (``FAST_KEY_VARS``, verbatim): it is what the general path did for
exactly that environment, written after it did it, so the fast path
(``cert_session_hook``) needs no defaults, targets or base rules, only a
loop::

    cert-session-fast 1
    K	<key>
    S	<VARIABLE>	<value>      set
    U	<VARIABLE>               unset (an inherited export we no longer make)
    G	<bundle>                 the requests verify guard's bundle
    I	<path>	<fingerprint>     stat() must give this fingerprint
    B	<path>	<fingerprint>     lstat(): a safe regular file with this fingerprint
    P	<directory>              lstat(): a safe directory (a bundle's, if not the cache's)
    Z

``environment`` marks a per-environment cache directory as ours: the
general path writes it (``0600``) into every directory it writes bundles
to, and only a directory with a safe marker whose prefix maps to the
directory's own name is ever removed as dead (``_cache.prune_environments``)::

    cert-session-environment 1
    P	<sys.prefix of the environment>
    Z

``certifi-where`` remembers ``certifi.where()`` in an environment's cache
directory, so a rebuild imports certifi only when its code changed
(``_rebuild._certifi_where``); the key holds the stat fingerprints of
certifi's ``__init__.py`` and ``core.py``::

    cert-session-where 1
    K	<key>
    W	<where()'s answer>
    Z

``Z`` ends all four: a file cut at a line boundary would otherwise parse and
silently drop lines.
"""

from __future__ import annotations

import os
import stat

from . import _layout
from ._platform import CURRENT

__all__ = [
    "STATE_MAGIC",
    "FAST_MAGIC",
    "FAST_KEY_VARS",
    "read_state",
    "parse_state",
    "check_state",
    "state_name",
    "state_text",
    "fast_key",
    "fast_name",
    "fast_text",
    "read_file",
    "ENV_MARKER",
    "env_marker_text",
    "parse_env_marker",
    "where_memo_text",
    "parse_where_memo",
]

STATE_MAGIC = "cert-session-state 2"
FAST_MAGIC = "cert-session-fast 1"
# Every variable whose value changes what the general path does, in the
# order the fast path joins them (cert_session_hook._NAMES_TEXT, pinned by
# tests/test_startup_fast_path.py).
FAST_KEY_VARS = (
    "CERT_SESSION_TARGETS",
    "CERT_SESSION_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "CERT_SESSION_ORIG_CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CERT_SESSION_ORIG_SSL_CERT_FILE",
    "AWS_CA_BUNDLE",
    "CERT_SESSION_ORIG_AWS_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "CERT_SESSION_ORIG_GIT_SSL_CAINFO",
    "GIT_CONFIG_SYSTEM",
    "CERT_SESSION_ORIG_GIT_CONFIG_SYSTEM",
    "NODE_EXTRA_CA_CERTS",
    "CERT_SESSION_ORIG_NODE_EXTRA_CA_CERTS",
    "CERT_SESSION_EXPORT",
    "CERT_SESSION_OS_STORE",
    "SSL_CERT_DIR",
    "GIT_CONFIG_NOSYSTEM",
)
MAX_STATE_SIZE = 1 << 16
ENV_MAGIC = "cert-session-environment 1"
WHERE_MAGIC = "cert-session-where 1"
ENV_MARKER = "environment"  # the marker's file name in each environment's cache directory

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from collections.abc import Mapping

    State = tuple[str, list[tuple[str, str, int]], list[tuple[str, str]], str]


def read_file(path: str) -> bytes | None:
    """A small state file's bytes if it is safe to trust (ours, not writable by others), else None."""
    try:
        fd = os.open(path, CURRENT.read_flags())
    except OSError:
        return None
    try:
        if not CURRENT.safe(os.fstat(fd), stat.S_IFREG):
            return None
        return os.read(fd, MAX_STATE_SIZE)
    except OSError:
        return None
    finally:
        os.close(fd)


# -- the full state ------------------------------------------------------------


def state_name(config: str) -> str:
    return "state-" + _layout.digest64(config)


def read_state(path: str) -> State | None:
    data = read_file(path)
    return None if data is None else parse_state(data)


def parse_state(data: bytes) -> State | None:
    """State text -> (config, exports, inputs, reason), or None if malformed."""
    try:
        text = data.decode("utf-8", "surrogateescape")
    except (UnicodeError, AttributeError):  # surrogateescape takes any bytes; not bytes at all
        return None
    lines = text.split("\n")
    if len(lines) < 4 or lines[0] != STATE_MAGIC or lines[-2:] != ["Z", ""]:
        return None
    config = None
    reason = ""
    exports: list[tuple[str, str, int]] = []
    inputs: list[tuple[str, str]] = []
    for line in lines[1:-2]:
        fields = line.split("\t")
        kind = fields[0]
        if kind == "C" and len(fields) == 2 and config is None:
            config = fields[1]
        elif kind == "E" and len(fields) == 4 and fields[3].isdigit():
            exports.append((fields[1], fields[2], int(fields[3])))
        elif kind == "I" and len(fields) == 3:
            inputs.append((fields[1], fields[2]))
        elif kind == "W" and len(fields) == 3:
            reason = fields[2]
        else:
            return None
    if config is None:
        return None
    return config, exports, inputs, reason


def check_state(directory: str, state: State) -> tuple[dict[str, str] | None, str]:
    """(exports, "") if every input and bundle is unchanged, else (None, why)."""
    _, exports, inputs, _ = state
    bundles = {path for _, path, _ in exports}
    recorded = dict(inputs)
    for path, fp in inputs:
        if path not in bundles and _layout.fingerprint(path) != fp:
            return None, "changed: %s" % path
    result = {}
    for var, path, size in exports:
        try:
            st = os.lstat(path)  # one stat: ownership, type, size and content identity
        except OSError:
            return None, "bundle missing: %s" % path
        if (
            os.path.dirname(path) != directory
            or not CURRENT.safe(st, stat.S_IFREG)
            or st.st_size != size
            or recorded.get(path) != _layout.stat_fingerprint(st)
        ):
            return None, "bundle not usable: %s" % path
        result[var] = path
    return result, ""


def state_text(
    config: str, reason: str, when: float, exports: dict[str, tuple[str, int]], fingerprints: list[tuple[str, str]]
) -> bytes:
    lines = [STATE_MAGIC, "C\t" + config, "W\t%d\t%s" % (when, " ".join(reason.split()))]
    lines += ["E\t%s\t%s\t%d" % (var, path, size) for var, (path, size) in sorted(exports.items())]
    lines += ["I\t%s\t%s" % item for item in fingerprints]
    lines.append("Z")
    return _encode(lines, 3)


# -- the fast state ------------------------------------------------------------


def fast_key(environ: Mapping[str, str], here: str = _layout.HERE) -> str:
    """What the fast path computes: the hook's directory and the raw variables."""
    return "\x1f".join([here] + [environ.get(name, "") for name in FAST_KEY_VARS])


def fast_name(key: str) -> str:
    return "fast-" + _layout.digest64(key)


def fast_text(
    key: str,
    sets: list[tuple[str, str]],
    unsets: list[str],
    guard: str | None,
    inputs: list[tuple[str, str]],
    bundles: list[tuple[str, str]],
    dirs: list[str],
) -> bytes:
    if "\t" in key or "\n" in key:
        raise ValueError("a variable contains a tab or newline; not caching")
    lines = [FAST_MAGIC, "K\t" + key]
    lines += ["S\t%s\t%s" % item for item in sets]
    lines += ["U\t" + var for var in unsets]
    if guard is not None:
        lines.append("G\t" + guard)
    lines += ["I\t%s\t%s" % item for item in inputs]
    lines += ["B\t%s\t%s" % item for item in bundles]
    lines += ["P\t" + d for d in dirs]
    lines.append("Z")
    return _encode(lines, 2)


def parse_fast(data: bytes) -> list[list[str]] | None:
    """The fast state's lines split on tabs (for prune and tests), or None."""
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 4 or lines[0] != FAST_MAGIC or lines[-2:] != ["Z", ""]:
        return None
    return [line.split("\t") for line in lines[1:-2]]


def _encode(lines: list[str], max_tabs: int) -> bytes:
    text = "\n".join(lines) + "\n"
    # Both readers split on tabs and newlines, and the key holds raw
    # variables: a value containing either is simply not cached.
    if text.count("\n") != len(lines) or any(line.count("\t") > max_tabs for line in lines[1:]):
        raise ValueError("a path or variable contains a tab or newline; not caching")
    return text.encode("utf-8", "surrogateescape")


def env_marker_text(prefix: str) -> bytes:
    """The marker of the environment at ``prefix``."""
    return _encode([ENV_MAGIC, "P\t" + prefix, "Z"], 1)


def parse_env_marker(data: bytes) -> str | None:
    """The prefix a marker records, or None if it is not one of ours."""
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) != 4 or lines[0] != ENV_MAGIC or lines[2:] != ["Z", ""] or not lines[1].startswith("P\t"):
        return None
    prefix = lines[1][2:]
    return prefix if prefix and "\t" not in prefix else None


def where_memo_text(key: str, where: str) -> bytes:
    """The remembered ``certifi.where()`` of the certifi ``key`` describes."""
    return _encode([WHERE_MAGIC, "K\t" + key, "W\t" + where, "Z"], 1)


def parse_where_memo(data: bytes, key: str) -> str | None:
    """The remembered answer if the memo is for exactly ``key``, else None."""
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) != 5 or lines[0] != WHERE_MAGIC or lines[1] != "K\t" + key or lines[3:] != ["Z", ""]:
        return None
    if not lines[2].startswith("W\t") or "\t" in lines[2][2:] or not lines[2][2:]:
        return None
    return lines[2][2:]
