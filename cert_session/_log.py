"""The hook's only output: one line on stderr, or debugging on request.

Also ``getenv``, the switch look-up of code that runs at every request.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: start-up imports this module
if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["warn", "debug", "debugging", "getenv", "hold", "said", "release"]

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


# Lines kept back while a ``cert-session`` command runs (None: write at once),
# and what that command printed itself: each warning appears once (issue #23).
_held: list[str] | None = None
_said: set[str] = set()


def warn(message: str) -> None:
    """Write one line to stderr; never raises (a closed stderr, or pythonw's None)."""
    line = " ".join(str(message).split())
    if _held is not None:
        _held.append(line)
        return
    _write("cert-session: %s\n" % line)


def hold() -> None:
    """Keep warnings back until ``release()``: the cert-session CLI reports them itself.

    Also released at exit, so that a line is never lost when no command runs.
    """
    global _held
    if _held is None:
        _held = []
        import atexit

        atexit.register(release)


# The hook loads this package under its own name (cert_session_hook._PACKAGE,
# issue #17), so the cert-session command has two copies of this module:
# the hook's, which held the start-up line, and its own.
_COPIES = ("_cert_session._log", "cert_session._log")


def _each() -> list[ModuleType]:
    mods = [sys.modules.get(name) for name in _COPIES] + [sys.modules.get(__name__)]
    return list({id(m): m for m in mods if m is not None}.values())


def said(message: str) -> None:
    """Record a problem the command printed itself; ``release()`` will not repeat it."""
    for module in _each():
        module._said.add(_core(message))


def _core(message: str) -> str:
    line = " ".join(str(message).split())
    more = line.rfind(" (and ")  # _rebuild.report: "<first problem> (and N more; run ...)"
    if more != -1 and line.endswith("`cert-session status`)"):
        line = line[:more]
    return line.rstrip(".")


def release() -> None:
    """Write the held lines (of every copy) the command did not print itself, once each; stop holding."""
    lines: list[str] = []
    for module in _each():
        lines += module._held or []
        setattr(module, "_held", None)  # noqa: B010 - another copy of this module
    said = set().union(*(module._said for module in _each()))
    for line in dict.fromkeys(lines):
        if _core(line) not in said:
            _write("cert-session: %s\n" % line)
    for module in _each():
        module._said.clear()


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
