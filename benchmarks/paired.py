"""The one measurement helper: interleaved rounds, paired ratios, medians, figures, the machine.

Every wall-clock comparison is *paired*: the variants run once each per
round, in an order that cycles through their permutations, and a ratio is
the median over rounds of one variant's time divided by the other's in the
same round, so drift on the machine cancels.
"""

from __future__ import annotations

import datetime
import itertools
import os
import platform
import random
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

BOOTSTRAP_RESAMPLES = 2000
Times = dict  # round -> seconds (or any per-round value)


def interleave(names: Sequence[str], rounds: int, measure: Callable[[str, int], float], warmup: int = 0) -> dict[str, Times]:
    """``measure(name, round)`` for every name in every round, orders cycling through all permutations."""
    orders = list(itertools.permutations(names))
    out: dict[str, Times] = {name: {} for name in names}
    for r in range(-warmup, rounds):
        for name in orders[r % len(orders)]:
            value = measure(name, r)
            if r >= 0:
                out[name][r] = value
    return out


def spawn(argv: list[str], env: dict[str, str], cwd: str | None = None) -> float:
    """Wall seconds of one child, output discarded (posix_spawn: no shell, no pipes)."""
    actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    here = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        os.chdir(here)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("benchmark child failed: %s" % " ".join(argv))
    return elapsed


@dataclass
class Paired:
    """Ratios of two measurements taken in the same round."""

    ratios: list[float]

    @classmethod
    def of(cls, num: Times, den: Times) -> Paired:
        return cls([num[r] / den[r] for r in sorted(num) if r in den])

    @property
    def n(self) -> int:
        return len(self.ratios)

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def iqr(self) -> tuple[float, float]:
        if self.n < 2:
            return self.median, self.median
        q1, _, q3 = statistics.quantiles(self.ratios, n=4, method="inclusive")
        return q1, q3

    def bootstrap(self) -> tuple[float, float]:
        """Percentile bootstrap 95% interval of the median (seeded: same data, same interval)."""
        rng = random.Random(self.n)  # noqa: S311 (statistics, not secrets)
        medians = sorted(statistics.median(rng.choices(self.ratios, k=self.n)) for _ in range(BOOTSTRAP_RESAMPLES))
        return medians[int(0.025 * BOOTSTRAP_RESAMPLES)], medians[int(0.975 * BOOTSTRAP_RESAMPLES) - 1]

    def text(self, bootstrap: bool = False) -> str:
        q1, q3 = self.iqr
        out = "%.3f× (IQR %.3f–%.3f" % (self.median, q1, q3)
        if bootstrap and self.n > 1:
            out += "; 95%% CI of the median %.3f–%.3f" % self.bootstrap()
        return out + ", %d pairs)" % self.n


def median_ms(times: Times | list[float]) -> float:
    return statistics.median(times.values() if isinstance(times, dict) else times) * 1000


@dataclass
class Figure:
    """One printed figure: what, the measured value, its budget and verdict (None: information)."""

    what: str
    measured: str
    limit: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "**FAIL**")


def ratio_figure(what: str, num: float, den: float, limit: float, unit: str = "instructions") -> Figure:
    """A count against its budget: ``num / den <= limit``."""
    return Figure(
        what, "%.4f× (%s / %s %s)" % (num / den, f"{round(num):,}", f"{round(den):,}", unit),
        "≤ %.2f×" % limit, num / den <= limit,
    )


def figure_table(figures: list[Figure]) -> str:
    out = ["| figure | measured | budget | result |", "|---|---|---|---|"]
    out += ["| %s | %s | %s | %s |" % (f.what, f.measured, f.limit, f.verdict or "information") for f in figures]
    return "\n".join(out) + "\n"


def machine(python: str) -> str:
    """One line naming the machine and the children's interpreter."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    child = subprocess.run(
        [python, "-I", "-S", "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    return "%s, %s cores, Python %s, %s %s" % (cpu, os.cpu_count(), child, platform.system(), platform.release())


def loadavg() -> str:
    try:
        return "%.2f / %.2f / %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
