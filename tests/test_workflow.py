"""Issue #17: the hosted workflow can run at all, and covers the Pythons people run today.

actionlint knows the runner labels and each action's runtime (a retired
``macos-13``, node20 actions); zizmor (offline) knows what a workflow may
not do (no ``permissions:`` block, actions not pinned to a commit). Both
are wheels from the registry, in the ``[test]`` extra.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers.wheels import REPO

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
NEWEST = ("3.14", "3.15")


def tool(name: str) -> str:
    """The linter installed beside this interpreter (the [test] extra), else on PATH."""
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if found is None:
        if sys.platform.startswith("linux"):
            raise AssertionError("%s is missing: it comes with the [test] extra" % name)
        pytest.skip("%s has no wheel for this platform" % name)
    return found


def test_actionlint_passes_on_the_workflow() -> None:
    proc = subprocess.run([tool("actionlint"), str(WORKFLOW)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_offline_finds_nothing_in_the_workflow() -> None:
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW)], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout, proc.stdout


def test_workflow_runs_the_newest_pythons_on_all_three_systems() -> None:
    text = WORKFLOW.read_text()
    (oses,) = re.findall(r"^\s+os: \[(.*)\]$", text, re.M)
    (pythons,) = re.findall(r"^\s+python: \[(.*)\]$", text, re.M)
    assert {o.strip() for o in oses.split(",")} == {"ubuntu-latest", "macos-latest", "windows-latest"}
    listed = {p.strip().strip('"') for p in pythons.split(",")}
    assert set(NEWEST) <= listed and "3.8" in listed
    # Every `uses:` is pinned to a full commit.
    for ref in re.findall(r"uses: (\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref


def test_wheel_metadata_declares_python_3_14_and_3_15(project_wheel: Path) -> None:
    with zipfile.ZipFile(project_wheel) as whl:
        (name,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = whl.read(name).decode()
    for version in ("3.8",) + NEWEST:
        assert "Classifier: Programming Language :: Python :: %s\n" % version in metadata
    assert "Requires-Python: >=3.8\n" in metadata
