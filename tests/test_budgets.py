"""Issue #18: the speed budgets that counts decide, asserted (benchmarks/budgets.py holds them).

Instruction counts under callgrind and system calls under strace are the
same run after run, so these can fail only when the code changes. The
figures come from the benchmarks' own code (benchmarks/startup.py,
benchmarks/per_request.py), in the session's venvs: ``installed`` (the
company wheel), ``floor_venv`` and ``plain_venv`` (the same requests and
certifi without the package).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from benchmarks import per_request, startup
from benchmarks.envs import OURS
from tests.conftest import World
from tests.helpers import counts, servers
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv

pytestmark = pytest.mark.slow
PROBLEM = counts.problem("valgrind") or counts.problem("strace")
needs_counts = pytest.mark.skipif(PROBLEM is not None, reason="no deterministic counts here: %s" % PROBLEM)


@pytest.fixture(scope="module")
def start_up_figures(installed: Venv, floor_venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    base = tmp_path_factory.mktemp("start-up-counts")
    ours = clean_env(base / "home")
    os_store = dict(ours, CERT_SESSION_OS_STORE="1")
    floor = clean_env(base / "floor-home")
    for venv, env in ((installed, ours), (installed, os_store), (floor_venv, floor)):
        proc = venv.run(env, "-c", "pass")  # builds the state: the counted starts are steady
        assert proc.stderr == ""
    figures, _ = startup.counts((floor_venv.python, floor), (installed.python, ours), (installed.python, os_store))
    return figures


@needs_counts
@pytest.mark.parametrize(
    "index",
    [
        pytest.param(0, id="steady-pass-vs-floor"),
        pytest.param(1, id="os-store-pass-vs-floor"),
        pytest.param(2, id="import-requests-over-floor"),
    ],
)
def test_start_up_stays_within_its_instruction_budget(start_up_figures: list[Any], index: int) -> None:
    figure = start_up_figures[index]
    assert figure.ok, "%s: %s (budget %s)" % (figure.what, figure.measured, figure.limit)


@pytest.fixture(scope="module")
def per_request_counts(
    installed: Venv, plain_venv: Venv, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("per-request")
    own = base / "own.pem"  # a tool's own bundle: the company chain
    own.write_bytes(world.company.root_pem.read_bytes() + world.company.intermediate_pem.read_bytes())
    (certifi_pem,) = plain_venv.site_packages.glob("certifi/cacert.pem")
    by_hand = base / "by-hand.pem"  # what bare users export instead of installing the package
    by_hand.write_bytes(certifi_pem.read_bytes() + b"\n" + own.read_bytes())
    ours_env = clean_env(base / "home")
    installed.run(ours_env, "-c", "pass")
    sides = per_request.make_sides(
        (plain_venv.python, clean_env(base / "bare-home")), (installed.python, ours_env), own, by_hand, "requests"
    )
    with servers.serve_https(world.company.leaf_pem, world.company.leaf_key, keep_alive=True) as url:
        # 20 warm-up requests per choice, as the full benchmark: after 5, the first
        # choice still paid 3.11's specialization of the code every choice shares
        # (bare's default counted 1.6% more than its own-bundle choice, same path).
        result = per_request.counts(sides, url, "requests", per_request.CHOICES, warm=20, n=20)
    found: dict[str, Any] = {f.what: f for f in per_request.figures(result, "requests")}
    found["result"] = result
    yield found


def _figure(found: dict[str, Any], choice: str, kind: str) -> Any:
    return found["per request, requests, %s: %s" % (per_request.DESCRIBE[choice], kind)]


@needs_counts
@pytest.mark.parametrize("choice", ["default", "own", "off"])
def test_each_request_makes_at_most_one_system_call_more_than_bare_requests(
    per_request_counts: dict[str, Any], choice: str
) -> None:
    figure = _figure(per_request_counts, choice, "system calls")
    assert figure.ok, figure.measured


@needs_counts
@pytest.mark.parametrize("choice", ["default", "own", "off"])
def test_each_request_costs_at_most_3_percent_more_instructions_than_bare_requests(
    per_request_counts: dict[str, Any], choice: str
) -> None:
    figure = _figure(per_request_counts, choice, "instructions")
    assert figure.ok, figure.measured
    assert per_request_counts["result"][OURS][choice][0] > 0


@pytest.mark.skipif(counts.problem("strace") is not None, reason="strace cannot run here: %s" % counts.problem("strace"))
def test_general_path_start_reads_the_state_file_once(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    installed.run(env, "-c", "pass")  # the state exists and is fresh
    trace = tmp_path / "trace"
    debug = dict(env, CERT_SESSION_DEBUG="1")  # the fast path steps aside: the general path starts
    subprocess.run(["strace", "-f", "-e", "trace=openat,open", "-o", str(trace), installed.python, "-c", "pass"],
                   env=debug, cwd=env["HOME"], check=True, capture_output=True)
    opened = [line for line in trace.read_text().splitlines() if re.search(r'/state-[0-9a-f]{16}"', line)]
    assert len(opened) == 1, opened
