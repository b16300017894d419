"""The hook's only output: one line on stderr, or debugging on request."""

from __future__ import annotations

import os
import sys

__all__ = ["warn", "debug", "debugging"]


def debugging() -> bool:
    return os.environ.get("CERT_SESSION_DEBUG", "") not in ("", "0")


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
