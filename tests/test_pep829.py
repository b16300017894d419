"""Issues #17 and #22: the hook under PEP 829's start-up processing (Python 3.15 and later).

Each Python gets exactly one start-up file (cert_session/_startup_files.py):
the ``.pth`` in a wheel tagged ``py38...py317``, the ``.start`` in a wheel
tagged ``py318``. Real pip chooses the wheel for a given Python
(``--python-version``); the suite's own run on a real 3.15 covers that
Python (tests/test_packaging.py: no ``.start``, so no ``pkgutil`` at
start-up). For 3.18, which no one has yet, a venv's interpreter starts with
``-S`` and tests/helpers/pep829.py processes its site-packages the way the
PEP specifies. Then the same probe as everywhere: the company service
verifies with the exported bundle, and the guard keeps ``verify=False`` and
a tool's own bundle.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cert_session import _startup_files
from tests.conftest import CERTIFI_WITH_ROOT, CompanyWheel, World, new_venv
from tests.helpers import pep829
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import OUTCOME, Venv

CHILD = (
    Path(pep829.__file__).read_text()
    + r'''
executed = []  # every module body run: importlib execs its code object, an audited event
sys.addaudithook(
    lambda event, args: executed.append(os.path.basename(getattr(args[0], "co_filename", "")))
    if event == "exec" else None
)
sitedir, phase, company, untrusted, own = sys.argv[1:6]
process(sitedir, phase)
import warnings
import requests
warnings.simplefilter("ignore")
'''
    + OUTCOME
    + r'''
hook = sys.modules.get("cert_session_hook")
print(json.dumps({
    "ran": [list(r) for r in RAN if "cert_session" in r[1]],
    "hook_loaded": executed.count("cert_session_hook.py"),
    "started": getattr(hook, "_started", None),
    "ours": os.path.basename(os.environ.get("REQUESTS_CA_BUNDLE", "")).startswith("cert-session-"),
    "default": outcome(company, None),
    "false": outcome(untrusted, False),
    "own": outcome(untrusted, own),
}))
'''
).replace("import os\n", "import json\nimport os\n", 1)

PTH_WHEEL_PYTHONS = ["3.8", "3.11", "3.13", "3.14", "3.15", "3.17"]
START_WHEEL_PYTHONS = ["3.18", "3.19", "3.20", "3.25"]
IMPORT_LINE = ["import", "cert_session_hook.pth", "import cert_session_hook"]
ENTRY = ["entry", "cert_session_hook.start", "cert_session_hook:start"]
HELPED = {"ours": True, "default": "OK", "false": "OK", "own": "OK"}
NOT_HELPED = {"ours": False, "default": "SSLError", "false": "OK", "own": "OK"}


def test_packaging_tags_rank_py3_above_py318_on_319_so_the_pth_wheel_names_each_minor() -> None:
    # Why the .pth wheel is not tagged py3: on 3.19 it would beat the py318 wheel.
    from packaging import tags

    order = [str(t) for t in tags.compatible_tags((3, 19), "cp319", ["any"]) if str(t).endswith("-none-any")]
    assert order[:2] == ["py319-none-any", "py3-none-any"], order
    assert order.index("py3-none-any") < order.index("py318-none-any") < order.index("py317-none-any")


def install_for(python_version: str, dist: Path, target: Path, home: Path) -> None:
    """Real pip installs acme-certs into ``target`` as it would for Python ``python_version``."""
    run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--only-binary=:all:",
         "--python-version", python_version, "--target", str(target), "-f", str(dist), "acme-certs"],
        clean_env(home),
    )


@pytest.mark.parametrize("python_version", PTH_WHEEL_PYTHONS + START_WHEEL_PYTHONS)
def test_pip_picks_the_start_file_wheel_from_318_on_and_the_pth_wheel_before(
    acme: CompanyWheel, python_version: str, tmp_path: Path
) -> None:
    install_for(python_version, acme.wheel.parent, tmp_path / "target", tmp_path / "home")
    installed = sorted(p.name for p in (tmp_path / "target").glob("cert_session_hook.*"))
    expected = "cert_session_hook.start" if python_version in START_WHEEL_PYTHONS else "cert_session_hook.pth"
    assert installed == sorted(["cert_session_hook.py", expected])
    (record,) = (tmp_path / "target").glob("acme_certs-*.dist-info/WHEEL")
    assert ("Tag: py318-none-any" in record.read_text()) is (python_version in START_WHEEL_PYTHONS)


@pytest.fixture(scope="module")
def venvs(acme: CompanyWheel, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Venv]:
    """requests, stand-in certifi, and acme-certs as real pip installs it for 3.15 and for 3.18."""
    made = {}
    for phase in ("3.15", "3.18"):
        base = tmp_path_factory.mktemp("pep829-" + phase)
        venv = new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT)
        install_for(phase, acme.wheel.parent, venv.site_packages, base / "home")
        made[phase] = venv
    return made


def run_phase(venv: Venv, world: World, tmp_path: Path, phase: str) -> dict[str, object]:
    own = tmp_path / "own.pem"
    own.write_bytes(world.private.root_pem.read_bytes())
    proc = venv.run(
        clean_env(tmp_path / "home"),
        "-S", "-c", CHILD, str(venv.site_packages), phase, world.urls["company"], world.urls["private"], str(own),
    )
    assert proc.stderr == "", proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_each_start_up_file_is_plain_utf8(venvs: dict[str, Venv]) -> None:
    for path in (venvs["3.15"].site_packages / "cert_session_hook.pth",
                 venvs["3.18"].site_packages / "cert_session_hook.start"):
        data = path.read_bytes()
        assert data.decode("utf-8") == data.decode("utf-8-sig")  # strict UTF-8, no BOM needed
        assert data.isascii()
    assert (venvs["3.18"].site_packages / "cert_session_hook.start").read_text().split() == ["cert_session_hook:start"]


@pytest.mark.parametrize(("phase", "ran"), [("3.15", IMPORT_LINE), ("3.18", ENTRY)])
def test_the_start_up_file_pip_installs_for_each_phase_runs_the_hook_once(
    venvs: dict[str, Venv], world: World, tmp_path: Path, phase: str, ran: list[str]
) -> None:
    # 3.15-3.17: the .pth's import line (deprecated, still run); 3.18+: the .start entry point.
    for _ in range(2):  # a fresh cache (general path), then the steady start
        result = run_phase(venvs[phase], world, tmp_path, phase)
        assert result["ran"] == [ran], result
        assert result["hook_loaded"] == 1 and result["started"] is True  # its module body ran once; start() ran
        assert {k: result[k] for k in HELPED} == HELPED, result


def test_the_pth_wheel_would_do_nothing_from_318_on(venvs: dict[str, Venv], world: World, tmp_path: Path) -> None:
    # The control: the emulation really ignores import lines in the later
    # phase, which is why 3.18 and later get the .start wheel.
    after = run_phase(venvs["3.15"], world, tmp_path, "3.18")
    assert after["ran"] == [] and after["hook_loaded"] == 0
    assert {k: after[k] for k in HELPED} == NOT_HELPED, after


@pytest.mark.parametrize("phase", ["3.15", "3.18"])
def test_deleting_the_start_up_file_turns_the_hook_off(
    acme: CompanyWheel, wheelhouse: Path, world: World, tmp_path: Path, phase: str
) -> None:
    # The README's off switch in each phase (the running Python's own: tests/test_packaging.py).
    venv = new_venv(tmp_path / "venv", wheelhouse, tmp_path / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT)
    install_for(phase, acme.wheel.parent, venv.site_packages, tmp_path / "home")
    (venv.site_packages / _startup_files.for_version(tuple(map(int, phase.split("."))))[1]).unlink()
    result = run_phase(venv, world, tmp_path, phase)
    assert result["ran"] == [] and result["hook_loaded"] == 0
    assert {k: result[k] for k in HELPED} == NOT_HELPED, result
