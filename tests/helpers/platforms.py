"""Skip markers for tests that only mean something on some operating systems.

The suite runs on Linux, macOS and Windows (.github/workflows/ci.yml). A test
that needs POSIX owners and modes, FIFOs, root, or Linux tools says so here,
with the reason shown by ``pytest -ra``. Nothing in this module may call a
POSIX-only function unguarded: it is imported on Windows too.
"""

from __future__ import annotations

import os
import sys

import pytest

POSIX = os.name == "posix"
LINUX = sys.platform.startswith("linux")
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

posix_only = pytest.mark.skipif(
    not POSIX,
    reason="POSIX owners, mode bits, symlinks or FIFOs (os.chown, os.mkfifo, os.geteuid); "
    "Windows' rules are tested by emulation",
)
linux_only = pytest.mark.skipif(
    not LINUX,
    reason="Linux only: setpriv, prlimit, mount -t tmpfs, /usr/bin/python3.X or the XDG cache location",
)
root_only = pytest.mark.skipif(not ROOT, reason="needs root to plant files owned by another local user (os.chown)")
