"""Peak RSS of `python -c pass` (GNU time's %M), bare against cert-session, interleaved.

Not this process's own wait4: a child started from here begins with this
process's memory map and reports its ~36 MiB. Budget: ≤ +1 MiB over bare.
"""

from __future__ import annotations

import os
import statistics
import subprocess

from benchmarks import budgets
from benchmarks.envs import BARE, FLOOR, OURS, OURS_OS, World
from benchmarks.paired import Figure, Times

NAME = "rss"
TIME = "/usr/bin/time"


def run(world: World, quick: bool) -> tuple[list[Figure], str, dict[str, Times]]:
    if not os.access(TIME, os.X_OK):
        return [Figure("peak RSS", "not measured: GNU time (%s) is missing" % TIME)], "", {}
    names = [BARE, FLOOR, OURS, OURS_OS]
    world.settle(*names)
    rss: dict[str, list[int]] = {n: [] for n in names}
    out = world.work / "rss.txt"
    for r in range(10 if quick else 30):
        for name in names[r % 4:] + names[: r % 4]:
            v = world[name]
            subprocess.run([TIME, "-f", "%M", "-o", str(out), v.python, "-c", "pass"], env=v.env(world.env),
                           cwd=world.env["HOME"], check=True, capture_output=True)
            rss[name].append(int(out.read_text().split()[-1]))
    bare = statistics.median(rss[BARE])
    extra = statistics.median(rss[OURS]) - bare
    rows = ["| peak RSS of `python -c pass` | median | vs bare |", "|---|---:|---:|"]
    rows += ["| %s | %.0f KiB | %+.0f KiB |" % (n, statistics.median(v), statistics.median(v) - bare) for n, v in rss.items()]
    figure = Figure("peak RSS, cert-session − bare (medians)", "%+.0f KiB" % extra, "≤ +%d KiB" % budgets.RSS_OVER_BARE_KIB,
                    extra <= budgets.RSS_OVER_BARE_KIB)
    return [figure], "\n".join(rows) + "\n", {}
