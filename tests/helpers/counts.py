"""Deterministic counts: instructions under valgrind's callgrind, system calls under strace.

A child marks the stretches to count by calling ``os.getppid()`` (a system
call nothing on these paths makes): ``instructions`` and ``syscalls`` return
one figure per stretch, from the start to the first mark, between marks, and
from the last mark to the exit. Without marks, one figure: the whole run.
Counts, unlike wall-clock time, do not move with the machine's load.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# What every counted child gets, so that two runs execute the same code.
COUNT_ENV = {"PYTHONHASHSEED": "0"}
MARK = "getppid"


def install_hint() -> str:
    return "apt-get install -y valgrind strace"


def ensure_tools() -> None:
    """Install valgrind and strace from the OS packages where they are missing and we may (root, apt-get)."""
    missing = [tool for tool in ("valgrind", "strace") if shutil.which(tool) is None]
    if not missing or not sys.platform.startswith("linux") or shutil.which("apt-get") is None:
        return
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], capture_output=True)


def problem(tool: str = "valgrind") -> str | None:
    """Why ``tool`` cannot count here, or None."""
    if not sys.platform.startswith("linux"):
        return "%s counts are taken on Linux only (this is %s)" % (tool, sys.platform)
    if shutil.which(tool) is None:
        return "%s is not installed (%s)" % (tool, install_hint())
    probe = [tool, "--tool=none", "true"] if tool == "valgrind" else [tool, "-o", os.devnull, "true"]
    proc = subprocess.run(probe, capture_output=True, text=True)
    if proc.returncode != 0:
        return "%s cannot run here: %s" % (tool, (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1])
    return None


def _run(tool: list[str], argv: list[str], env: dict[str, str], cwd: str | None) -> None:
    proc = subprocess.run(
        [*tool, *argv], env=dict(env, **COUNT_ENV), cwd=cwd or env.get("HOME"), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError("%s run failed (%d): %s\n%s" % (tool[0], proc.returncode, argv, proc.stderr[-3000:]))


def instructions(argv: list[str], env: dict[str, str], cwd: str | None = None) -> list[int]:
    """Instructions executed by ``argv`` under callgrind, per stretch between ``os.getppid()`` marks."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        out = os.path.join(tmp, "cg")
        _run(["valgrind", "--tool=callgrind", "--dump-before=" + MARK, "--callgrind-out-file=" + out], argv, env, cwd)
        parts = {}
        for path in Path(tmp).iterdir():
            text = path.read_text(errors="replace")
            part = re.search(r"^part: (\d+)$", text, re.M)
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if part and total:
                parts[int(part.group(1))] = int(total.group(1))
        # Each dump holds what ran since the previous one; the last is the exit.
        return [parts[k] for k in sorted(parts)]


# A read of a non-blocking socket that came before the peer's answer fails
# with EAGAIN, and the call that then waits for it follows: two calls that
# depend only on which thread ran first, not on the code counted.
_WAITS = frozenset(("poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait"))


def syscalls(argv: list[str], env: dict[str, str], cwd: str | None = None) -> list[int]:
    """System calls made by ``argv`` (its main thread, under strace), per stretch between ``os.getppid()`` marks.

    Not counted: a call that failed with EAGAIN, and the wait right after it
    (on a loaded machine the server's answer comes after the client's first
    read attempt now and then, or at every request: +2 calls a request on
    either side, issue #22).
    """
    with tempfile.TemporaryDirectory(prefix="strace-") as tmp:
        out = os.path.join(tmp, "trace")
        _run(["strace", "-o", out], argv, env, cwd)
        counts = [0]
        waiting = False
        for line in Path(out).read_text(errors="replace").splitlines():
            name = re.match(r"(\w+)\(", line)
            if name is None:
                continue  # signals, exit, resumed lines
            if name.group(1) == MARK:
                counts.append(0)
            elif " = -1 EAGAIN " in line:
                waiting = True
                continue
            elif waiting and name.group(1) in _WAITS:
                pass
            else:
                counts[-1] += 1
            waiting = False
        return counts
