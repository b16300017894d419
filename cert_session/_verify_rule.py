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
    used = choose(asked, resolved, bundle)
    if used is not resolved and used != resolved and _log.debugging():
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


# A tool's own bundle -> (its stat fingerprint, CERT_SESSION_CERTS, when checked, the bundle to use).
_appended: dict[str, tuple[tuple[int, int, int, int, int], str, float, str]] = {}
# How long an own bundle's merge is reused without checking the company
# certificates again: a changed company certificate reaches a tool's own
# bundle within this many seconds. Checking them costs 13 system calls, the
# one stat of the own file below costs one, at every request (issue #18).
RECHECK_SECONDS = 1.0


def appended(path: str) -> str:
    """``path`` plus the company certificates, or ``path`` itself.

    A directory is left as it is (we only append to files), and a missing
    file too, so requests reports it exactly as it would without us.
    A rewritten ``path`` is noticed at once (its stat); a changed company
    certificate within ``RECHECK_SECONDS``.
    """
    known = _appended.get(path)
    if known is None and _layout.is_ours(path):
        return path
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return path
    if not stat.S_ISREG(st.st_mode):
        return path
    seen = _layout.stat_key(st)
    certs = _log.getenv("CERT_SESSION_CERTS")
    now = time.monotonic()
    if known is not None and known[0] == seen and known[1] == certs and now - known[2] < RECHECK_SECONDS:
        return known[3]
    from ._rebuild import bundle_for

    try:
        result = bundle_for("file:" + os.path.abspath(path), [])
    except Exception as exc:  # noqa: BLE001 - keep the tool's own choice rather than fail
        _log.debug("cannot add company certificates to %s (%s); using it as it is" % (path, exc))
        return path
    if len(_appended) >= 64:  # a tool cycling through temp files: keep the memory bounded
        _appended.clear()
    _appended[path] = (seen, certs, now, result)
    return result


def _describe(value: object) -> str:
    if value is None or value is True:
        return "default"  # requests: its own certifi bundle, or the environment's
    return str(value)
