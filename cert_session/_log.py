"""The hook's only output: one line on stderr, or debugging on request.

Also ``getenv``, the switch look-up of code that runs at every request.
"""

from __future__ import annotations

import os
import sys

__all__ = ["warn", "debug", "debugging", "getenv"]

# os.environ's own key for each name looked up: its encodekey is a Python
# function (about 1,000 instructions a call), and a name's key never changes.
_keys: dict[str, object] = {}


def getenv(name: str) -> str:
    """``os.environ.get(name, "")`` without the KeyError it raises and catches for an unset name.

    For the verify guard and the preload, which read their switches at every
    request, where they are usually unset: os.environ's own dict, keyed by
    bytes on POSIX and by upper-case str on Windows, through its own
    ``encodekey``. The exception cost about 2,000 instructions a look-up (issue #18).
    """
    environ = os.environ
    data = getattr(environ, "_data", None)
    if data is None:
        return environ.get(name, "")
    key = _keys.get(name)
    if key is None:
        key = _keys[name] = environ.encodekey(name)
    value = data.get(key)
    return "" if value is None else environ.decodevalue(value)


def debugging() -> bool:
    return getenv("CERT_SESSION_DEBUG") not in ("", "0")


def debug(message: str) -> None:
    if debugging():
        _write("cert-session: debug: %s\n" % message)


def warn(message: str) -> None:
    """Write one line to stderr; never raises (a closed stderr, or pythonw's None)."""
    _write("cert-session: %s\n" % " ".join(str(message).split()))


def _write(text: str) -> None:
    stream = sys.stderr
    if stream is None:  # pythonw.exe
        return
    try:
        stream.write(text)
    except Exception:  # noqa: BLE001, S110 - output must never break start-up
        try:
            # A console that cannot encode a certificate's name (cp1252).
            stream.write(text.encode("ascii", "backslashreplace").decode("ascii"))
        except Exception:  # noqa: BLE001, S110
            pass
