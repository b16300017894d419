"""``cert-session demo``: the whole story on throwaway certificates, no company cert needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.env import clean_env, run
from tests.helpers.inprocess import isolate, run_main
from tests.helpers.venvs import Venv


def test_demo_fails_twice_then_succeeds_through_the_hook_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    code, out, err = run_main(capsys, "demo")
    assert code == 0, out + err
    steps = re.findall(r"^   (OK|FAIL .*)$", out, re.M)
    assert steps[0] == "FAIL unable to get local issuer certificate"  # public bundle alone
    assert steps[1].startswith("FAIL ")  # intermediate alone
    assert steps[2] == "OK"  # public bundle + the hook adding the intermediate
    assert steps[3] == "OK"  # urllib: the ssl target, on by default
    assert len(steps) == 4
    (work,) = re.findall(r"^Working in (\S+) \(removed at the end\)", out, re.M)
    assert not Path(work).exists()


def test_demo_without_its_extra_says_how_to_install_it(installed: Venv, tmp_path: Path) -> None:
    # The installed venv has requests but not trustme: the [demo] extra is missing.
    proc = run([installed.script("cert-session"), "demo"], clean_env(tmp_path / "home"), check=False)
    assert proc.returncode == 2
    assert "pip install 'cert-session-company[demo]'" in proc.stderr and "trustme" in proc.stderr
