"""The hook on every CPython this machine has, not just the one running the tests.

Python 3.13 matters most: ssl.create_default_context() there turns on
VERIFY_X509_STRICT. requests is not needed to prove the hook works: the
exported bundle is handed to the stdlib's ssl, which is what urllib3 uses.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import Venv


def _interpreters() -> list[tuple[str, str]]:
    found = {}
    for minor in range(8, 15):
        name = "3.%d" % minor
        if name == "%d.%d" % sys.version_info[:2]:
            continue
        candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/%s.*/bin/python%s" % (name, name))))
        candidates += ["/usr/bin/python%s" % name, "/usr/local/bin/python%s" % name]
        for path in candidates:
            if os.access(path, os.X_OK):
                found[name] = path
                break
    return sorted(found.items())


INTERPRETERS = _interpreters()

FETCH = r"""
import os, ssl, sys, urllib.request
cafile = os.environ.get("REQUESTS_CA_BUNDLE")
ctx = ssl.create_default_context(cafile=cafile)
print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=20).status)
"""


@pytest.mark.skipif(not INTERPRETERS, reason="no other CPython on this machine")
@pytest.mark.parametrize("version,interpreter", INTERPRETERS, ids=[v for v, _ in INTERPRETERS])
def test_hook_exports_a_working_bundle_on_other_pythons(
    version: str, interpreter: str, world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv_dir = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv_dir)], check=True, capture_output=True)
    venv = Venv(venv_dir)
    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    first = run([venv.python, "-c", FETCH, world.urls["company"]], env, check=False)
    assert (first.stdout, first.stderr) == ("200\n", ""), first.stdout + first.stderr
    second = run([venv.python, "-c", FETCH, world.urls["company"]], env, check=False)  # steady state
    assert (second.stdout, second.stderr) == ("200\n", "")
