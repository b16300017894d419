"""The OS trust store on (``CERT_SESSION_OS_STORE=1``, issue #12), and what people install instead.

Its instruction-count budget is counted with the other start-ups
(benchmarks/startup.py). Here: a check that the option changes the exported
bundle (or the timing measures nothing new), and wall-clock rounds of the
floor, cert-session with the option on and, every fourth round,
pip-system-certs and certifi-linux, which do the same job at every start.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.envs import ALTERNATIVES, FLOOR, OURS, OURS_OS, World
from benchmarks.paired import Figure, Paired, Times, median_ms, spawn

NAME = "os-store"
SHOW = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', ''))"


def check(world: World) -> str:
    """What the option adds here, for the report; exits if it changes nothing."""
    out = {}
    for name in (OURS, OURS_OS):
        v = world[name]
        out[name] = Path(subprocess.run([v.python, "-c", SHOW], env=v.env(world.env), cwd=world.env["HOME"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    off, on = out[OURS], out[OURS_OS]
    if not on.is_file() or off == on or off.read_bytes() == on.read_bytes():
        raise SystemExit("CERT_SESSION_OS_STORE=1 changed nothing in the exported bundle %s" % on)
    count = lambda p: p.read_bytes().count(b"-----BEGIN CERTIFICATE-----")  # noqa: E731
    return "the exported bundle holds %d certificates with the option off, %d with it on" % (count(off), count(on))


def run(world: World, quick: bool) -> tuple[list[Figure], str, dict[str, Times]]:
    note = check(world)
    world.settle(FLOOR, OURS_OS)
    rounds = 40 if quick else 200
    alternatives = [n for n in ALTERNATIVES if n in world.variants]
    times: dict[str, Times] = {n: {} for n in (FLOOR, OURS_OS, *alternatives)}
    home = world.env["HOME"]
    for r in range(rounds):
        order = [FLOOR, OURS_OS] if r % 2 == 0 else [OURS_OS, FLOOR]
        if r % 4 == 0:  # the alternatives are slow: every fourth round, taking turns at going first
            k = (r // 4) % max(1, len(alternatives))
            order += alternatives[k:] + alternatives[:k]
        for name in order:
            v = world[name]
            times[name][r] = spawn([v.python, "-c", "pass"], v.env(world.env), cwd=home)
    floor = times[FLOOR]
    figures = [Figure("steady `python -c pass`, OS store on / floor: wall clock (paired median)",
                      Paired.of(times[OURS_OS], floor).text(bootstrap=True))]
    rows = ["| `python -c pass` | wall-clock median | vs floor (paired) |", "|---|---:|---:|"]
    for name, t in times.items():
        label = "%s %s" % (name, world.versions.get(name, "")) if name in ALTERNATIVES else name
        rows.append("| %s | %.2f ms | %s |" % (label, median_ms(t), Paired.of(t, floor).text()))
    chart = {"cert-session (steady, OS store on)": times[OURS_OS], **{n: times[n] for n in alternatives}}
    return figures, "OS store: %s.\n\n" % note + "\n".join(rows) + "\n", chart
