"""Issue #17: the hosted workflow can run at all, and covers the Pythons people run today.

Issue #24: the release workflow builds once, checks, and publishes with
trusted publishing and attestations, under the same two linters.

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
RELEASE = REPO / ".github" / "workflows" / "release.yml"
WORKFLOWS = pytest.mark.parametrize("workflow", [WORKFLOW, RELEASE], ids=["ci", "release"])
NEWEST = ("3.14", "3.15")


def tool(name: str) -> str:
    """The linter installed beside this interpreter (the [test] extra), else on PATH."""
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if found is None:
        if sys.platform.startswith("linux"):
            raise AssertionError("%s is missing: it comes with the [test] extra" % name)
        pytest.skip("%s has no wheel for this platform" % name)
    return found


@WORKFLOWS
def test_actionlint_passes_on_the_workflow(workflow: Path) -> None:
    proc = subprocess.run([tool("actionlint"), str(workflow)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@WORKFLOWS
def test_zizmor_offline_finds_nothing_in_the_workflow(workflow: Path) -> None:
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(workflow)], capture_output=True, text=True, cwd=REPO
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


def _jobs(text: str) -> dict[str, str]:
    """Each job's block of a workflow, by its id (two-space indented keys under ``jobs:``)."""
    body = text.split("\njobs:\n", 1)[1]
    parts = re.split(r"^  ([\w-]+):\n", body, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_release_builds_once_checks_strictly_and_publishes_with_trusted_publishing_from_one_job() -> None:
    text = RELEASE.read_text()
    assert re.search(r"^on:\n  push:\n    tags: \[\"v\*\"\]\n", text, re.M), "released on version tags only"
    assert re.search(r"^permissions: \{\}$", text, re.M), "no permission by default"
    jobs = _jobs(text)
    assert set(jobs) == {"build", "publish"}
    build, publish = jobs["build"], jobs["publish"]
    # Built once, in the build job, reproducibly; checked before anything leaves it.
    assert build.count("python -m build\n") == 1 and "python -m build" not in publish
    assert 'SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"' in build
    assert build.index("python -m build") < build.index("twine check --strict dist/*") < build.index("upload-artifact@")
    # The OIDC token exists in the publishing job only, which runs no code of ours.
    assert text.count("id-token: write") == 1 and "id-token: write" in publish
    assert text.count("attestations: write") == 1 and "attestations: write" in publish
    assert "contents: read" in build and "run:" not in publish and "checkout@" not in publish
    assert "needs: build" in publish and "environment:" in publish
    assert re.search(r"uses: pypa/gh-action-pypi-publish@[0-9a-f]{40}  # v1\.\d+\.\d+\n", publish)
    assert re.search(r"uses: actions/attest-build-provenance@[0-9a-f]{40}  # v\d", publish)  # gh attestation verify
    assert "password" not in publish and "secrets." not in text  # no stored token
    # Every action is pinned to a full commit, with the version it stands for.
    refs = re.findall(r"uses: (\S+)  # (v[\d.]+)$", text, re.M)
    assert len(refs) == text.count("uses: ") == 6
    for ref, _version in refs:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
    # The two actions ci.yml also uses are pinned to the same commits.
    ci = WORKFLOW.read_text()
    for name in ("actions/checkout@", "actions/setup-python@"):
        (pin,) = re.findall(re.escape(name) + r"[0-9a-f]{40}", ci)
        assert pin in build
