"""Issue #24: what docs/security.md promises about start-up, checked with strace.

A start that rebuilds and a steady start of the real wheel, traced system
call by system call: neither makes a single network system call, and
everything either one creates, replaces, renames or removes lies inside the
cache directory. ``import requests`` (whose urllib3 opens a socket to probe
for IPv6) makes exactly the network calls it makes with the hook switched
off. A control run that opens a socket shows the trace would see one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import counts
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv

pytestmark = pytest.mark.slow

_WRITES = (
    "openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,"
    "link,linkat,symlink,symlinkat,chmod,fchmodat,truncate"
)
_LINE = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=")
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")


class Trace:
    def __init__(self, network: list[str], touched: list[str]) -> None:
        self.network = network  # network system calls, as strace printed them
        self.touched = touched  # every path created, replaced, renamed, removed or chmod-ed


def traced(venv: Venv, env: dict[str, str], code: str, log: Path) -> Trace:
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=%network," + _WRITES, "-o", str(log), str(venv.python), "-c", code],
        env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cert-session:" not in proc.stderr, proc.stderr  # a clean start: nothing to report
    network, touched = [], []
    for line in log.read_text().splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        call, args = match.groups()
        if call in ("openat", "open") and not _WRITE_FLAGS.search(args):
            continue  # a read
        if call in _WRITES.split(","):
            touched += re.findall(r'"((?:[^"\\]|\\.)*)"', args)
        else:
            network.append("%s(%s)" % (call, re.sub(r"\b\d+\b", "N", args)))  # no pids, fds or ports
    return Trace(network, touched)


def test_start_up_makes_no_network_call_and_writes_only_in_the_cache_directory(installed: Venv, tmp_path: Path) -> None:
    problem = counts.problem("strace")
    if problem:
        pytest.skip(problem)
    env = clean_env(tmp_path / "home")
    cache = Path(env["CERT_SESSION_CACHE_DIR"])

    rebuild = traced(installed, env, "pass", tmp_path / "rebuild.trace")
    assert rebuild.network == []
    assert rebuild.touched, "the first start builds the bundles"
    outside = [p for p in rebuild.touched if cache not in Path(p).parents and Path(p) != cache]
    assert outside == [], outside
    assert list(cache.glob("*/cert-session-*.pem")), "the bundles are in the cache"

    steady = traced(installed, env, "pass", tmp_path / "steady.trace")
    assert steady.network == [] and steady.touched == []

    guarded = traced(installed, env, "import requests", tmp_path / "requests.trace")
    off = traced(installed, dict(env, CERT_SESSION_DISABLE="1"), "import requests", tmp_path / "off.trace")
    assert guarded.network == off.network and guarded.touched == []

    control = traced(installed, env, "import socket; socket.socket().close()", tmp_path / "control.trace")
    assert [c for c in control.network if c.startswith("socket(")], "the trace sees a socket when one is opened"
