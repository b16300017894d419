"""The hook on every other CPython this machine has, not just the one running the tests.

Python 3.13 matters most: ssl.create_default_context() there turns on
VERIFY_X509_STRICT. 3.8 is the oldest declared. The first test needs no
requests (the exported bundle is handed to the stdlib's ssl, which is what
urllib3 uses); the second is the smoke set with requests from that
Python's own wheels: the company service through a leaf-only server, and
the guard keeping ``verify=False`` and a tool's own file. The whole suite
runs on the README's Python and on real 3.13, 3.14 and 3.15 (``.ci/run``).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cert_session import _startup_files
from tests.conftest import CERTIFI_WITH_ROOT, World
from tests.helpers import wheels
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import OUTCOME, Venv

NEWEST_MINOR = 15


def _interpreters() -> list[tuple[str, str]]:
    """(version, path) of every other CPython 3.8 to 3.15: pyenv's, then /usr/bin's and /usr/local/bin's."""
    found = {}
    for minor in range(8, NEWEST_MINOR + 1):
        name = "3.%d" % minor
        if name == "%d.%d" % sys.version_info[:2]:
            continue
        candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/%s.*/bin/python%s" % (name, name))))
        candidates += ["/usr/bin/python%s" % name, "/usr/local/bin/python%s" % name]
        for path in candidates:
            if os.access(path, os.X_OK):
                found[name] = path
                break
    return sorted(found.items(), key=lambda item: tuple(map(int, item[0].split("."))))


INTERPRETERS = _interpreters()

FETCH = r"""
import os, ssl, sys, urllib.request
cafile = os.environ.get("REQUESTS_CA_BUNDLE")
ctx = ssl.create_default_context(cafile=cafile)
print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=20).status)
"""

SMOKE = (
    "import json, sys, warnings\nimport requests\nwarnings.simplefilter('ignore')\n"
    + OUTCOME
    + "company, untrusted, own = sys.argv[1:4]\n"
    "print(json.dumps([outcome(company, None), outcome(untrusted, False), outcome(untrusted, own)]))\n"
)


def make_venv_with(interpreter: str, path: Path) -> Venv:
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
    return Venv(path)


def startup_files(venv: Venv) -> list[str]:
    return sorted(p.name for p in venv.site_packages.glob("cert_session_hook.*"))


def expected_files(version: str) -> list[str]:
    name = _startup_files.for_version(tuple(map(int, version.split("."))))[1]
    return sorted(["cert_session_hook.py", name])


@pytest.mark.skipif(not INTERPRETERS, reason="no other CPython on this machine")
@pytest.mark.parametrize("version,interpreter", INTERPRETERS, ids=[v for v, _ in INTERPRETERS])
def test_hook_exports_a_working_bundle_on_other_pythons(
    version: str, interpreter: str, world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = make_venv_with(interpreter, tmp_path / "venv")
    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    assert startup_files(venv) == expected_files(version)  # never a .start file before 3.18 (PEP 829)
    first = run([venv.python, "-c", FETCH, world.urls["company"]], env, check=False)
    assert (first.stdout, first.stderr) == ("200\n", ""), first.stdout + first.stderr
    second = run([venv.python, "-c", FETCH, world.urls["company"]], env, check=False)  # steady state
    assert (second.stdout, second.stderr) == ("200\n", "")


@pytest.mark.skipif(not INTERPRETERS, reason="no other CPython on this machine")
@pytest.mark.parametrize("version,interpreter", INTERPRETERS, ids=[v for v, _ in INTERPRETERS])
def test_requests_on_other_pythons_trusts_the_company_chain_and_keeps_verify_false_and_own_files(
    version: str, interpreter: str, world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    # requests and its dependencies as that Python needs them (charset_normalizer is compiled per version).
    house = wheels.download(tmp_path / "wheels", "requests", certifi_from=wheelhouse, python_version=version)
    home = tmp_path / "home"
    env = clean_env(home)
    venv = make_venv_with(interpreter, tmp_path / "venv")
    venv.pip(env, "install", "-q", "--no-index", "-f", str(house),
             "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    own = tmp_path / "own.pem"
    own.write_bytes(world.private.root_pem.read_bytes())
    for _ in range(2):  # a fresh cache, then the steady start
        proc = run([venv.python, "-c", SMOKE, world.urls["company"], world.urls["private"], str(own)], env, check=False)
        assert proc.stderr == "" and json.loads(proc.stdout) == ["OK", "OK", "OK"], proc.stdout + proc.stderr
