"""Per-request cost: keep-alive GETs on one Session to a loopback TLS server (issue #18).

For each ``verify`` choice (the default, ``Session.verify = <own file>``,
``verify=False``) and for pip's vendored requests with ``PIP_CERT`` (the
session's ``verify`` set to that file, as pip does), one child makes
``warm`` requests, then ``n`` counted ones between two ``os.getppid()``
marks. Instructions (callgrind) and system calls (strace) of the counted
stretch, divided by ``n``, against bare requests given the same trust by hand:
``REQUESTS_CA_BUNDLE`` = certifi + the company root and intermediate, the
set-up the package replaces (with it set, bare requests lets it beat
``Session.verify``, psf/requests#3829: that is what bare does). Both sides
iterate environments of the same size but for the package's own variables
(requests scans the environment for proxies several times per request, about
55,000 instructions per variable on Python 3.11: the ssl target's
``SSL_CERT_FILE`` is most of what a request costs over bare's).
Budgets: ≤ 1.03× bare's instructions, ≤ 1 system call more than bare (a
``stat`` of an own bundle, to notice it was rewritten); a read that came
before the server's answer (EAGAIN, then a wait) is not counted on either
side: under load it made either side +2 at every request (issue #22).
Wall-clock medians of interleaved runs are reported beside them.
"""

from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import budgets
from benchmarks.envs import BARE, OURS, World
from benchmarks.paired import Figure, Paired, interleave, ratio_figure

NAME = "per-request"
CHOICES = ("default", "own", "off")
SCRIPT = r"""
import gc, os, sys, time
flavour, url, warm, n, each = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[6] == "each"
# Read and dropped, so both sides iterate the same environment at every request.
own = os.environ.pop("BENCH_OWN_BUNDLE")
if flavour == "pip":
    from pip._vendor import requests, urllib3
else:
    import requests, urllib3
urllib3.disable_warnings()
for choice in sys.argv[5].split(","):
    session = requests.Session()
    if choice == "own":
        session.verify = own
    kwargs = {"verify": False} if choice == "off" else {}
    for _ in range(warm):
        session.get(url, timeout=30, **kwargs).raise_for_status()
    gc.collect()  # the previous choice's garbage is not collected inside this one's count
    if not each:
        os.getppid()
    start = time.perf_counter()
    for _ in range(n):
        if each:
            os.getppid()
        session.get(url, timeout=30, **kwargs).raise_for_status()
    print(choice, (time.perf_counter() - start) / n)
    os.getppid()
    session.close()
"""

Side = tuple  # (python, env)


def _argv(python: str, flavour: str, url: str, choices: tuple[str, ...], warm: int, n: int, each: bool = False) -> list[str]:
    return [python, "-c", SCRIPT, flavour, url, str(warm), str(n), ",".join(choices), "each" if each else "stretch"]


def counts(
    sides: dict[str, Side], url: str, flavour: str, choices: tuple[str, ...] = CHOICES, warm: int = 20, n: int = 100
) -> dict[str, dict[str, tuple[float, float]]]:
    """{side: {choice: (instructions, system calls) per request}}; each side's children run side by side."""
    from tests.helpers import counts as tools

    def one(side: str, tool: str) -> tuple[str, str, list[int]]:
        python, env = sides[side]
        # Instructions: the whole stretch of n requests. System calls: each
        # request on its own, and their median, which the odd extra poll() of
        # a read that came before the server's answer cannot move.
        each = tool == "strace"
        count = tools.syscalls if each else tools.instructions
        return side, tool, count(_argv(python, flavour, url, choices, warm, n, each), env)

    jobs = [(side, tool) for side in sides for tool in ("callgrind", "strace")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda job: one(*job), jobs))
    out: dict[str, dict[str, tuple[float, float]]] = {side: {} for side in sides}
    for side, tool, parts in done:
        k = n if tool == "strace" else 1  # counted parts per choice, after the one with the warm-up
        for i, choice in enumerate(choices):
            counted = parts[i * (k + 1) + 1 : i * (k + 1) + 1 + k]
            ins, calls = out[side].get(choice, (0.0, 0.0))
            if tool == "callgrind":
                ins = counted[0] / n
            else:
                calls = statistics.median(counted)
            out[side][choice] = (ins, calls)
    return out


def figures(result: dict[str, dict[str, tuple[float, float]]], label: str) -> list[Figure]:
    """The budget figures of one ``counts`` result (sides ``bare`` and ``cert-session``)."""
    out = []
    for choice, (ins, calls) in result[OURS].items():
        bare_ins, bare_calls = result[BARE][choice]
        what = "per request, %s, %s" % (label, DESCRIBE[choice])
        out.append(ratio_figure(what + ": instructions", ins, bare_ins, budgets.PER_REQUEST_VS_BARE))
        out.append(Figure(
            what + ": system calls", "%+.2f (%.2f vs bare %.2f)" % (calls - bare_calls, calls, bare_calls),
            "≤ %+d" % budgets.PER_REQUEST_EXTRA_SYSCALLS, calls - bare_calls <= budgets.PER_REQUEST_EXTRA_SYSCALLS + 0.005,
        ))
    return out


DESCRIBE = {"default": "default verify", "own": "`Session.verify = \"own.pem\"`", "off": "`verify=False`"}


def trust_files(world: World) -> tuple[Path, Path]:
    """(own bundle, bare's by-hand bundle): both trust the loopback server."""
    import certifi

    own = world.work / "own.pem"
    own.write_bytes(world.files["root"].read_bytes() + world.files["intermediate"].read_bytes())
    by_hand = world.work / "by-hand.pem"
    by_hand.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + own.read_bytes())
    return own, by_hand


def make_sides(bare: Side, ours: Side, own: Path, by_hand: Path, flavour: str) -> dict[str, Side]:
    """The two sides' (python, env): the own bundle for both, ``by_hand`` as bare's REQUESTS_CA_BUNDLE."""
    extra = {"BENCH_OWN_BUNDLE": str(own)}
    if flavour == "pip":
        extra["PIP_CERT"] = str(own)
    return {BARE: (bare[0], dict(bare[1], REQUESTS_CA_BUNDLE=str(by_hand), **extra)), OURS: (ours[0], dict(ours[1], **extra))}


def sides(world: World, flavour: str) -> dict[str, Side]:
    own, by_hand = trust_files(world)
    bare, ours = world[BARE], world[OURS]
    return make_sides((bare.python, bare.env(world.env)), (ours.python, ours.env(world.env)), own, by_hand, flavour)


def run(world: World, quick: bool) -> tuple[list[Figure], str, dict[str, Any]]:
    from tests.helpers import servers

    figs: list[Figure] = []
    rows = ["| per request | variant | instructions | system calls | wall-clock median | vs bare (paired) |",
            "|---|---|---:|---:|---:|---:|"]
    n, rounds = (30, 2) if quick else (60, 3)
    with servers.serve_https(world.files["leaf"], world.files["key"], keep_alive=True) as url:
        for flavour, label, choices in (("requests", "requests", CHOICES), ("pip", "pip's vendored requests with PIP_CERT", ("own",))):
            each = sides(world, flavour)
            result = counts(each, url, flavour, choices, warm=10 if quick else 20, n=n)
            figs += figures(result, label)
            wall = _wall(each, url, flavour, choices, rounds, 200 if not quick else 50)
            for choice in choices:
                for side in (BARE, OURS):
                    ins, calls = result[side][choice]
                    times = {r: t[choice] for r, t in wall[side].items()}
                    rows.append("| %s, %s | %s | %s | %.2f | %.1f µs | %s |" % (
                        label, DESCRIBE[choice], side, f"{ins:,.0f}", calls,
                        statistics.median(times.values()) * 1e6,
                        Paired.of(times, {r: t[choice] for r, t in wall[BARE].items()}).text()))
    return figs, "\n".join(rows) + "\n", {}


def _wall(each: dict[str, Side], url: str, flavour: str, choices: tuple[str, ...], rounds: int, n: int) -> dict[str, dict[int, dict[str, float]]]:
    import subprocess

    def measure(side: str, _round: int) -> dict[str, float]:
        python, env = each[side]
        out = subprocess.run(_argv(python, flavour, url, choices, 20, n), env=env, cwd=env["HOME"],
                             capture_output=True, text=True, check=True).stdout
        return {line.split()[0]: float(line.split()[1]) for line in out.splitlines()}

    return interleave(list(each), rounds, measure)  # type: ignore[arg-type]
