"""``cert-session demo``: the whole story on throwaway certificates, no company cert needed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.helpers.env import clean_env, run
from tests.helpers.inprocess import isolate, run_main
from tests.helpers.venvs import Venv


def test_demo_tells_what_this_python_does_with_the_intermediate_alone_and_succeeds_through_the_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    code, out, err = run_main(capsys, "demo")
    assert code == 0, out + err
    steps = re.findall(r"^   (OK|FAIL .*)$", out, re.M)
    assert len(steps) == 6, out
    assert steps[0] == "FAIL unable to get local issuer certificate"  # public bundle alone
    # The intermediate alone: Python 3.13+ (with the urllib3 >= 2.4 of the test
    # extra) takes it as a trust anchor (VERIFY_X509_PARTIAL_CHAIN); older ones want the root.
    if sys.version_info >= (3, 13):
        assert steps[1] == "OK" and "alone verifies the company server" in out
    else:
        assert steps[1].startswith("FAIL ") and "not a trust anchor on this Python" in out
    assert steps[2] == "FAIL unable to get local issuer certificate"  # ... and the public site is lost
    assert steps[3] == "OK"  # public bundle + the hook adding the intermediate
    assert steps[4] == "OK"  # the public site stays trusted
    assert steps[5] == "OK"  # urllib: the ssl target, on by default
    assert "Demo finished as expected on Python %d.%d: " % sys.version_info[:2] in out
    (work,) = re.findall(r"^Working in (\S+) \(removed at the end\)", out, re.M)
    assert not Path(work).exists()


def test_demo_without_its_extra_says_how_to_install_it(installed: Venv, tmp_path: Path) -> None:
    # The installed venv has requests but not trustme: the [demo] extra is missing.
    proc = run([installed.script("cert-session"), "demo"], clean_env(tmp_path / "home"), check=False)
    assert proc.returncode == 2
    assert "pip install 'cert-session-company[demo]'" in proc.stderr and "trustme" in proc.stderr
