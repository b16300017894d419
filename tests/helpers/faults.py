"""Shared parts of the reliability and security tests (issue #6).

A probe is a fresh interpreter that imports requests and fetches several
URLs, reporting each outcome as a word, so a case can assert on exactly what
a user sees without a traceback from the probe itself hiding ours.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv

OURS = "cert-session:"
NOBODY = 65534
# An interpreter every uid may run: this machine's default one lives under a
# 0700 /root, where uid 65534 cannot read its standard library. The same
# minor version as the runner's, so that the session's wheelhouse (built for
# the runner: charset_normalizer is compiled per version) installs into it.
SYSTEM_PYTHON = "/usr/bin/python%d.%d" % sys.version_info[:2]

PROBE = r"""
import sys
try:
    import requests
except ImportError as e:
    print("ImportError", e)
    sys.exit(5)
out = []
for url in sys.argv[1:]:
    try:
        requests.get(url, timeout=20)
        out.append("ok")
    except requests.exceptions.SSLError:
        out.append("ssl")
    except Exception as e:
        out.append("error:" + type(e).__name__)
print(" ".join(out))
"""

# Names of files the hook may write; anything else must never change.
_OUR_NAMES = ("state-", "fast-", "cert-session-", ".tmp-", "environment", "certifi-where")


def requests_bundle(state: Path) -> Path:
    """The REQUESTS_CA_BUNDLE bundle a state names: the one PROBE's requests.get reads.

    With the default targets (requests,ssl) the ssl target's bundle is beside it.
    """
    (bundle,) = [
        Path(f[2]) for f in (line.split("\t") for line in state.read_text().splitlines())
        if f[0] == "E" and f[1] == "REQUESTS_CA_BUNDLE"
    ]
    return bundle


def as_nobody(argv: list[str]) -> list[str]:
    return ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", *argv]


def our_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(OURS)]


def assert_quiet(proc: subprocess.CompletedProcess[str], max_lines: int = 1) -> list[str]:
    """No traceback, nothing but our lines, and at most ``max_lines`` of them."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    ours = our_lines(proc.stderr)
    assert ours == lines, "stderr has lines that are not ours:\n" + proc.stderr
    assert len(ours) <= max_lines, proc.stderr
    return ours


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every regular file under ``roots`` (symlinks by their target path)."""
    digests: dict[str, str] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    digests[path] = "link:" + os.readlink(path)
                    continue
                if not stat.S_ISREG(os.lstat(path).st_mode):  # a FIFO would block a read
                    digests[path] = "special:%o" % os.lstat(path).st_mode
                    continue
                try:
                    with open(path, "rb") as f:
                        digests[path] = hashlib.sha256(f.read()).hexdigest()
                except PermissionError:
                    digests[path] = "unreadable"
    return digests


def assert_only_ours_changed(before: dict[str, str], after: dict[str, str]) -> None:
    """Every file the hook does not own is byte-identical, and none disappeared."""
    for path, digest in before.items():
        if os.path.basename(path).startswith(_OUR_NAMES):
            continue
        assert after.get(path) == digest, "%s was changed or removed" % path
    for path in set(after) - set(before):
        assert os.path.basename(path).startswith(_OUR_NAMES), "%s was created" % path


class PublicVenv(Venv):
    """A venv that uid 65534 can run, in a world-readable temp directory."""


_public: dict[str, PublicVenv] = {}


def public_venv(wheelhouse: Path, project_wheel: Path, certifi: str) -> PublicVenv:
    """Built once per test session (several modules share it); removed at exit."""
    require_root()
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip("%s is needed for a venv that uid %d can run" % (SYSTEM_PYTHON, NOBODY))
    if "venv" not in _public:
        base = Path(tempfile.mkdtemp(prefix="cert-session-public-"))
        atexit.register(shutil.rmtree, base, True)
        base.chmod(0o755)
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(base / "venv")], check=True)
        venv = PublicVenv(base / "venv")
        venv.pip(clean_env(base / "home"), "install", "-q", "--no-index", "-f", str(wheelhouse),
                 "requests", "certifi==" + certifi, str(project_wheel))
        _public["venv"] = venv
    return _public["venv"]


def nobody_env(**extra: str | None) -> dict[str, str]:
    """clean_env for uid 65534: a HOME it owns, under a directory it can reach."""
    require_root()
    home = Path(tempfile.mkdtemp(prefix="home-", dir=_public_root()))
    env = clean_env(home, **extra)
    for dirpath, _, filenames in os.walk(home):
        os.chown(dirpath, NOBODY, NOBODY)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), NOBODY, NOBODY)
    return env


def require_root() -> None:
    # Planting files as another user and dropping to uid 65534 need root,
    # which the project's machines and CI are.
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root to act as another local user")


def _public_root() -> str:
    root = os.path.join(tempfile.gettempdir(), "cert-session-public-homes-%d" % os.getpid())
    if not os.path.isdir(root):
        os.mkdir(root)
        os.chmod(root, 0o755)  # noqa: S103 - uid 65534 must reach its HOME here
        atexit.register(shutil.rmtree, root, True)
    return root


