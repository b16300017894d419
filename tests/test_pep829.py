"""Issue #17: the hook under PEP 829's start-up processing (Python 3.15 and later).

No 3.15 can be had here, so a venv's interpreter starts with ``-S`` and
tests/helpers/pep829.py processes its site-packages the way the PEP
specifies. Then the same probe as everywhere: the company service verifies
with the exported bundle, and the guard keeps ``verify=False`` and a tool's
own bundle.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import pep829
from tests.helpers.env import clean_env
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

ENTRY = ["entry", "cert_session_hook.start", "cert_session_hook:start"]
HELPED = {"ours": True, "default": "OK", "false": "OK", "own": "OK"}


@pytest.fixture(scope="module")
def venv(wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv of its own: one test takes the .start file away for a while."""
    base = tmp_path_factory.mktemp("pep829")
    return new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))


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


def test_pth_and_start_files_are_valid_utf8(venv: Venv) -> None:
    for name in ("cert_session_hook.pth", "cert_session_hook.start"):
        data = (venv.site_packages / name).read_bytes()
        assert data.decode("utf-8") == data.decode("utf-8-sig")  # strict UTF-8, no BOM needed
        assert data.isascii()
    assert (venv.site_packages / "cert_session_hook.start").read_text().split() == ["cert_session_hook:start"]


@pytest.mark.parametrize("phase", ["3.15", "3.18"])
def test_start_entry_point_runs_the_hook_once_and_the_pth_import_line_is_disabled(
    venv: Venv, world: World, tmp_path: Path, phase: str
) -> None:
    # 3.15-3.17: the matching .start disables the .pth's import line; 3.18+: import lines are ignored.
    for _ in range(2):  # a fresh cache (general path), then the steady start
        result = run_phase(venv, world, tmp_path, phase)
        assert result["ran"] == [ENTRY], result  # only the entry point, never the import line too
        assert result["hook_loaded"] == 1 and result["started"] is True  # its module body ran once; start() ran
        assert {k: result[k] for k in HELPED} == HELPED, result


@contextlib.contextmanager
def without_start_file(venv: Venv) -> Iterator[None]:
    start = venv.site_packages / "cert_session_hook.start"
    data = start.read_bytes()
    start.unlink()
    try:
        yield
    finally:
        start.write_bytes(data)


def test_without_the_start_file_only_the_deprecation_period_runs_the_hook(
    venv: Venv, world: World, tmp_path: Path
) -> None:
    # The control: the emulation really honours import lines, and from 3.18
    # on the .start file is what keeps the company chain trusted.
    with without_start_file(venv):
        during = run_phase(venv, world, tmp_path, "3.15")
        after = run_phase(venv, world, tmp_path, "3.18")
    assert during["ran"] == [["import", "cert_session_hook.pth", "import cert_session_hook"]]
    assert {k: during[k] for k in HELPED} == HELPED, during
    assert after["ran"] == [] and after["hook_loaded"] == 0
    assert (after["ours"], after["default"], after["false"]) == (False, "SSLError", "OK")
