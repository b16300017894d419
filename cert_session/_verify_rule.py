"""The verify rule the guard applies at every request (``cert_session._verify_guard``).

- default (``verify`` left alone at request and session level): the merged
  bundle, also when ``trust_env`` is False (requests then ignores the
  environment);
- ``verify=False`` stays off: we never turn verification on or off;
- ``verify=<file>``: that file plus the company certificates, built and cached
  like the main bundle (the append rule of a preset ``REQUESTS_CA_BUNDLE``);
- a directory, a missing file or anything else: what requests resolved.

Loaded by the first request, not at ``import requests``. Everything here runs
at every request, so its cost is counted (benchmarks/per_request.py): the
default choice makes no system call, an own bundle one ``stat``.
"""

from __future__ import annotations

import os
import stat
import time

from . import _layout, _log

__all__ = ["decide", "choose", "appended", "RECHECK_SECONDS"]

# _config.TARGETS["requests"] (tests/test_verify_guard.py pins it): _config
# would be one more module to load at the first request.
_VAR = "REQUESTS_CA_BUNDLE"


def decide(package: str, asked: object, resolved: object, bundle: str) -> object:
    """``choose``, saying on the debug channel when it changes what requests resolved."""
    # An own bundle (choose()'s str branch) without the call to choose: a tool
    # with its own bundle gets here at every request.
    used = appended(asked) if type(asked) is str and asked else choose(asked, resolved, bundle)
    # _log.debugging(), inline, for the same reason.
    if used is not resolved and used != resolved and _log.getenv("CERT_SESSION_DEBUG") not in ("", "0"):
        _log.debug(
            "%s: verify=%s asked for; using %s instead of %s"
            % (package, _describe(asked), _describe(used), _describe(resolved))
        )
    return used


def choose(asked: object, resolved: object, bundle: str) -> object:
    """The ``verify`` value to use.

    ``asked`` is what the caller chose (request level, else session level),
    ``resolved`` what requests made of it and the environment, ``bundle`` the
    merged bundle the hook exported.
    """
    if asked is None or asked is True:
        if resolved == bundle:
            # The common case, from REQUESTS_CA_BUNDLE as exported (or from
            # CURL_CA_BUNDLE with it unset): exactly what the rest would choose.
            return resolved
        if isinstance(resolved, str) and resolved and not _layout.is_ours(resolved):
            # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE was set to another file at
            # run time: the same append rule as for a preset value.
            return appended(resolved)
        # The variable may have been re-exported since start-up
        # (cert_session.activate()); prefer what the environment says now.
        current = _log.getenv(_VAR)
        return current if _layout.is_ours(current) else bundle
    if asked is False:
        return False
    if type(asked) is str:  # before the ABC check below, which costs more than the rest
        return appended(asked) if asked else resolved
    if isinstance(asked, os.PathLike):
        asked = os.fspath(asked)
    if isinstance(asked, str) and asked:
        return appended(asked)
    return resolved


# A tool's own bundle -> (its stat fingerprint, CERT_SESSION_CERTS, when checked, the bundle
# to use, the (path, fingerprint) of each input and bundle that keeps it fresh).
TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    _Known = tuple[tuple[int, int, int, int, int], str, float, str, list[tuple[str, str]]]
_appended: dict[str, _Known] = {}
# How long an own bundle's merge is reused without checking the company
# certificates again: a changed company certificate reaches a tool's own
# bundle within this many seconds. A full check (``bundle_for``) costs 13
# system calls and about half a million instructions, the one stat of the own
# file below costs one, at every request (issue #18); a recheck stats what the
# merge's state recorded, and calls ``bundle_for`` only if one of them changed
# (issue #22: under callgrind a second is a few requests, and the full check
# cost an own bundle 1.5% of every request).
RECHECK_SECONDS = 1.0


def appended(path: str) -> str:
    """``path`` plus the company certificates, or ``path`` itself.

    A directory is left as it is (we only append to files), and a missing
    file too, so requests reports it exactly as it would without us.
    A rewritten ``path`` is noticed at once (its stat); a changed company
    certificate, or ``CERT_SESSION_CERTS``, within ``RECHECK_SECONDS``.
    """
    known = _appended.get(path)
    if known is None and _layout.is_ours(path):
        return path
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return path
    # _layout.stat_key, inline (st[6], st[1], st[2]: st_size, st_ino, st_dev): this runs at every request.
    seen = st[6], st.st_mtime_ns, st.st_ctime_ns, st[1], st[2]
    now = time.monotonic()
    if known is not None and known[0] == seen:  # the same regular file as before
        if now - known[2] < RECHECK_SECONDS:
            return known[3]
        # The company certificates: CERT_SESSION_CERTS, then what the merge's state recorded.
        if known[1] == _log.getenv("CERT_SESSION_CERTS") and known[4]:
            if all(_layout.fingerprint(p) == fp for p, fp in known[4]):
                _appended[path] = (seen, known[1], now, known[3], known[4])
                return known[3]
    if not stat.S_ISREG(st.st_mode):
        return path
    from ._rebuild import watched_bundle_for

    try:
        result, watch = watched_bundle_for("file:" + os.path.abspath(path), [])
    except Exception as exc:  # noqa: BLE001 - keep the tool's own choice rather than fail
        _log.debug("cannot add company certificates to %s (%s); using it as it is" % (path, exc))
        return path
    if len(_appended) >= 64:  # a tool cycling through temp files: keep the memory bounded
        _appended.clear()
    _appended[path] = (seen, _log.getenv("CERT_SESSION_CERTS"), now, result, watch)
    return result


def _describe(value: object) -> str:
    if value is None or value is True:
        return "default"  # requests: its own certifi bundle, or the environment's
    return str(value)
