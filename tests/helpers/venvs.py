"""Fresh virtual environments with real pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.env import run

# Bodies of -c snippets used across tests.
GET = r"""
import sys, requests
try:
    r = requests.get(sys.argv[1], timeout=20)
    print("OK", r.status_code)
except requests.exceptions.SSLError as e:
    print("SSLError", e)
    sys.exit(3)
"""

# One GET through a requests.Session with a given verify: "OK" or "SSLError".
OUTCOME = r"""
def outcome(url, verify):
    s = requests.Session()
    if verify is not None:
        s.verify = verify
    try:
        s.get(url, timeout=20)
        return "OK"
    except requests.exceptions.SSLError:
        return "SSLError"
"""


def assert_ok(proc: subprocess.CompletedProcess[str], quiet: bool = True) -> None:
    """A GET run succeeded (and, if ``quiet``, printed nothing on stderr)."""
    assert proc.returncode == 0 and proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
    if quiet:
        assert proc.stderr == "", proc.stderr


def assert_ssl_error(proc: subprocess.CompletedProcess[str]) -> None:
    """A GET run failed certificate verification: the user's SSLError."""
    assert proc.returncode == 3 and proc.stdout.startswith("SSLError"), proc.stdout + proc.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in proc.stdout


WINDOWS = os.name == "nt"
# Where venv puts executables and packages: Scripts\python.exe and Lib\site-packages on Windows.
BIN = "Scripts" if WINDOWS else "bin"
EXE = ".exe" if WINDOWS else ""


class Venv:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = str(path / BIN / ("python" + EXE))

    @property
    def site_packages(self) -> Path:
        pattern = "Lib/site-packages" if WINDOWS else "lib/python*/site-packages"
        (sp,) = self.path.glob(pattern)
        return sp

    def script(self, name: str) -> str:
        """A console script pip installed here, e.g. ``cert-session``."""
        return str(self.path / BIN / (name + EXE))

    def pip(self, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the test runner's pip against this venv (``pip --python``)."""
        argv = [sys.executable, "-m", "pip", "--python", self.python, *args]
        return run(argv, env, check=check)

    def run(
        self, env: dict[str, str], *args: str, check: bool = True, cwd: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run this venv's Python; in ``cwd``, else in ``env``'s HOME (never the repository)."""
        if cwd is None:
            return run([self.python, *args], env, check=check)
        return run([self.python, *args], env, check=check, cwd=cwd)

    def get(self, env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
        """Plain, unmodified requests.get(url) in a fresh interpreter."""
        return self.run(env, "-c", GET, url, check=False)


def base_python_with_pip() -> str | None:
    """The interpreter this test venv was made from, if it has pip; else None.

    ``sys._base_executable`` first, then the python in ``sys.base_prefix``:
    ``pip install --user`` tests need an interpreter that is not a venv.
    """
    names = ["python%d.%d" % sys.version_info[:2], "python3", "python"]
    candidates = [getattr(sys, "_base_executable", "")]
    candidates += [os.path.join(sys.base_prefix, *([] if WINDOWS else ["bin"]), name + EXE) for name in names]
    for candidate in candidates:
        if not candidate or not os.path.isfile(candidate):
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys, pip; print(sys.prefix == sys.base_prefix)"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def make_venv(path: Path, with_pip: bool = False) -> Venv:
    args = [sys.executable, "-m", "venv", str(path)]
    if not with_pip:
        args.insert(3, "--without-pip")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_SESSION_")}
    subprocess.run(args, check=True, env=env, capture_output=True)
    return Venv(path)


FLOOR_MODULE = "empty_startup_module"


def add_floor_hook(venv: Venv) -> None:
    """Make ``venv`` the *floor*: a one-line ``.pth`` importing an empty (compiled) module,
    the least any ``.pth`` start-up hook can cost. The yardstick of the start-up budgets."""
    module = venv.site_packages / (FLOOR_MODULE + ".py")
    module.write_text("")
    (venv.site_packages / (FLOOR_MODULE + ".pth")).write_text("import %s\n" % FLOOR_MODULE)
    subprocess.run([venv.python, "-m", "py_compile", str(module)], check=True)
