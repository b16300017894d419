"""Start-up: `python -c pass` and `python -c "import requests"`, against the floor.

The deciding figures are instruction counts under callgrind, in venvs
identical but for the package (``PYTHONHASHSEED=0``): a steady start and the
same with ``CERT_SESSION_OS_STORE=1``, each ≤ 1.02× the floor's, and
``import requests`` in a steady process ≤ 3.5 million instructions over the
floor's. Whatever targets the package's defaults select are what is counted.
Wall-clock medians of interleaved rounds (bare, floor, cert-session) are
reported beside them, and feed the chart (benchmarks/startup.png). Every timed start is
checked to have written nothing under the cache directory.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from benchmarks import budgets
from benchmarks.envs import BARE, FLOOR, OURS, OURS_OS, World
from benchmarks.paired import Figure, Paired, Times, interleave, median_ms, ratio_figure, spawn

NAME = "start-up"
PASS, IMPORT = ("-c", "pass"), ("-c", "import requests")

Side = tuple  # (python, env)


def counts(floor: Side, ours: Side, ours_os: Side) -> tuple[list[Figure], dict[str, int]]:
    """The three deciding figures and the counts behind them (each side started once before, untimed)."""
    from tests.helpers import counts as tools

    jobs = {
        "floor pass": (floor, PASS), "ours pass": (ours, PASS), "ours-os pass": (ours_os, PASS),
        "floor import": (floor, IMPORT), "ours import": (ours, IMPORT),
    }

    def one(job: str) -> int:
        (python, env), args = jobs[job]
        return tools.instructions([python, *args], env)[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        got = dict(zip(jobs, pool.map(one, jobs)))
    extra = got["ours import"] - got["floor import"]
    figures = [
        ratio_figure("steady `python -c pass` / floor: instructions", got["ours pass"], got["floor pass"],
                     budgets.STEADY_PASS_VS_FLOOR),
        ratio_figure("steady `python -c pass`, `CERT_SESSION_OS_STORE=1` / floor: instructions",
                     got["ours-os pass"], got["floor pass"], budgets.OS_STORE_PASS_VS_FLOOR),
        Figure("`python -c \"import requests\"`, steady, − floor: instructions",
               "%+s (%s − %s)" % (f"{extra:,}", "{:,}".format(got["ours import"]), "{:,}".format(got["floor import"])),
               f"≤ +{budgets.IMPORT_REQUESTS_OVER_FLOOR:,}", extra <= budgets.IMPORT_REQUESTS_OVER_FLOOR),
    ]
    return figures, got


def snapshot(directory: str) -> dict[str, tuple[int, int, int]]:
    """Every file under ``directory``: (mtime, inode, size), from a listing and stats only."""
    out = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            out[os.path.relpath(path, directory)] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return out


def wall(world: World, names: tuple[str, ...], args: tuple[str, ...], rounds: int, warmup: int) -> dict[str, Times]:
    """Interleaved wall-clock starts; raises if a timed start changed the cache (it was not steady)."""
    cache = world.env["CERT_SESSION_CACHE_DIR"]
    home = world.env["HOME"]

    def measure(name: str, r: int) -> float:
        v = world[name]
        before = snapshot(cache)
        t = spawn([v.python, *args], v.env(world.env), cwd=home)
        if snapshot(cache) != before:
            raise SystemExit("a timed %s start changed files under %s: not steady (round %d)" % (name, cache, r))
        return t

    return interleave(list(names), rounds, measure, warmup)


def run(world: World, quick: bool) -> tuple[list[Figure], str, dict[str, Times]]:
    world.settle(FLOOR, OURS, OURS_OS)
    side = {n: (world[n].python, world[n].env(world.env)) for n in (FLOOR, OURS, OURS_OS)}
    figures, got = counts(side[FLOOR], side[OURS], side[OURS_OS])
    rounds, imports = (40, 10) if quick else (200, 40)
    starts = wall(world, (BARE, FLOOR, OURS), PASS, rounds, warmup=5 if quick else 10)
    imported = wall(world, (FLOOR, OURS), IMPORT, imports, warmup=2)
    floor = starts[FLOOR]
    steady = Paired.of(starts[OURS], floor)
    figures.append(Figure("steady `python -c pass` / floor: wall clock (paired median)", steady.text(bootstrap=True)))
    figures.append(Figure("`python -c \"import requests\"` / floor: wall clock (paired median)",
                          Paired.of(imported[OURS], imported[FLOOR]).text()))
    rows = ["| start | instructions (callgrind) | wall-clock median | vs floor (paired) | vs bare (paired) |",
            "|---|---:|---:|---:|---:|"]
    for name, what, count in ((BARE, "bare: requests + certifi, no hook", None),
                              (FLOOR, "floor: bare + a `.pth` importing an empty module", got["floor pass"]),
                              (OURS, "cert-session, steady", got["ours pass"])):
        rows.append("| `-c pass`, %s | %s | %.2f ms | %s | %s |" % (
            what, f"{count:,}" if count else "", median_ms(starts[name]),
            Paired.of(starts[name], floor).text(), Paired.of(starts[name], starts[BARE]).text()))
    for name, key in ((FLOOR, "floor import"), (OURS, "ours import")):
        rows.append("| `-c \"import requests\"`, %s | %s | %.2f ms | %s | |" % (
            name, f"{got[key]:,}", median_ms(imported[name]), Paired.of(imported[name], imported[FLOOR]).text()))
    chart = {"bare": starts[BARE], "floor": floor, "cert-session (steady)": starts[OURS]}
    return figures, "\n".join(rows) + "\n", chart
