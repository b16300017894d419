"""Issue #6, part 5: when our code is broken, Python still starts and pip can remove us.

The ``.pth`` line is the only part that runs before anything can be fixed,
so each test breaks what it imports (the hook module, the package) in a
real venv with real pip, and checks what a user sees: Python starts, says
one line, and ``CERT_SESSION_DISABLE=1 pip uninstall`` cleans up.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers.env import clean_env
from tests.helpers.faults import PROBE, assert_quiet
from tests.helpers.venvs import Venv

# What breaks behind the .pth line: the package the hook hands over to.
# The hook module catches everything (BaseException) the hand-off raises.
BROKEN_PACKAGES = {
    "raises-on-import": "raise RuntimeError('broken on purpose')\n",
    "syntax-error": "def start(:\n",
    "exits-on-import": "import sys\nsys.exit(3)\n",
    "start-raises-systemexit": "def start():\n    raise SystemExit(3)\n",
    "start-raises-keyboardinterrupt": "def start():\n    raise KeyboardInterrupt\n",
    "deleted": None,
}

# The .pth is one plain `import cert_session_hook` line (issue #10), so a
# broken *module file* gets site's own "Error processing line 1" message,
# which cannot be made one line; Python still starts (docs/design.md, "What
# the plain .pth line gives up").
BROKEN_HOOK_FILES = {
    "syntax-error": "def start(:\n",
    "raises-on-import": "raise RuntimeError('broken on purpose')\n",
    "deleted": None,
}


@pytest.fixture(scope="module")
def venv_with_pip(world: World, wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("recovery")
    return new_venv(
        base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel), with_pip=True
    )


@contextlib.contextmanager
def replaced(path: Path, text: str | None) -> Iterator[None]:
    """``path`` holds ``text`` (None: deleted), with no stale bytecode; restored after."""
    original = path.read_bytes()
    if text is None:
        path.unlink()
    else:
        path.write_text(text)
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)
    try:
        yield
    finally:
        path.write_bytes(original)
        shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)


@pytest.fixture
def broken(request: pytest.FixtureRequest, venv_with_pip: Venv) -> Iterator[Venv]:
    """The venv with cert_session/_startup.py replaced by ``request.param``'s text; restored after."""
    with replaced(venv_with_pip.site_packages / "cert_session" / "_startup.py", BROKEN_PACKAGES[request.param]):
        yield venv_with_pip


@pytest.mark.parametrize("broken", sorted(BROKEN_PACKAGES), indirect=True)
def test_broken_general_path_costs_one_line_never_a_start(broken: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")  # a fresh cache: every start hands over to the broken path
    for argv in (["-c", "print('still here')"], ["-m", "pip", "--version"]):
        proc = broken.run(env, *argv, check=False)
        assert proc.returncode == 0, proc.stderr
        (line,) = assert_quiet(proc, max_lines=1)
        assert "CERT_SESSION_DISABLE=1" in line  # the way out is named
    proc = broken.run(env, "-c", PROBE, world.urls["company"], check=False)
    assert proc.stdout.strip() == "ssl"  # no company certificates, and no traceback
    assert proc.returncode == 0

    quiet = broken.run(clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1"), "-c", "pass", check=False)
    assert (quiet.returncode, quiet.stderr) == (0, "")


@pytest.fixture
def broken_file(request: pytest.FixtureRequest, venv_with_pip: Venv) -> Iterator[Venv]:
    with replaced(venv_with_pip.site_packages / "cert_session_hook.py", BROKEN_HOOK_FILES[request.param]):
        yield venv_with_pip


@pytest.mark.parametrize("broken_file", sorted(BROKEN_HOOK_FILES), indirect=True)
def test_broken_hook_file_never_stops_python_and_site_names_the_pth(
    broken_file: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    for argv in (["-c", "print('still here')"], ["-m", "pip", "--version"]):
        proc = broken_file.run(env, *argv, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "cert_session_hook.pth" in proc.stderr  # site says which file to look at
    proc = broken_file.run(env, "-c", PROBE, world.urls["company"], check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "ssl")


def test_broken_package_behind_a_working_hook_costs_one_line(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    (venv.site_packages / "cert_session" / "_rebuild.py").write_text("raise ImportError('broken on purpose')\n")
    env = clean_env(home)
    proc = venv.run(env, "-c", "pass", check=False)
    assert proc.returncode == 0
    (line,) = assert_quiet(proc, max_lines=1)
    assert "CERT_SESSION_DISABLE=1" in line
    assert venv.run(env, "-c", PROBE, world.urls["company"], check=False).stdout.strip() == "ssl"


def test_deleting_the_pth_line_lets_pip_uninstall_a_hook_that_kills_every_start(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    venv = new_venv(
        tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel), with_pip=True
    )
    certifi_pem = venv.site_packages / "certifi" / "cacert.pem"
    certifi_sha = hashlib.sha256(certifi_pem.read_bytes()).hexdigest()
    # The worst hook imaginable: it ends the interpreter at import. With a
    # plain import line CERT_SESSION_DISABLE cannot stop it (the module reads
    # the switch); docs/design.md names the way out: delete the .pth file.
    (venv.site_packages / "cert_session_hook.py").write_text("import os\nos._exit(9)\n")
    env = clean_env(home)
    assert venv.run(env, "-c", "pass", check=False).returncode == 9  # every command is dead ...

    (venv.site_packages / "cert_session_hook.pth").unlink()
    venv.run(env, "-m", "pip", "uninstall", "-y", "-q", "cert-session-company")  # ... until the line is gone

    assert not (venv.site_packages / "cert_session_hook.py").exists()
    assert not (venv.site_packages / "cert_session").exists()
    after = venv.run(env, "-c", PROBE, world.urls["company"], check=False)
    assert (after.returncode, after.stdout.strip(), after.stderr) == (0, "ssl", "")
    assert hashlib.sha256(certifi_pem.read_bytes()).hexdigest() == certifi_sha
