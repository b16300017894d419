"""Rebuild: the first start after a real input change, against a bare start of the same round.

Two changes, each round: the company certificate file gets other contents
(one issuing CA, then two), and certifi's cacert.pem a new mtime (what a
reinstall looks like). Each is checked to have written something under the
cache directory. Budget: ≤ 3× bare, wall clock (no count stands in for the
work a rebuild must do: reading and writing bundles).
"""

from __future__ import annotations

import os

from benchmarks import budgets
from benchmarks.envs import BARE, OURS, OURS_OS, World
from benchmarks.paired import Figure, Paired, Times, median_ms, spawn
from benchmarks.startup import snapshot

NAME = "rebuild"


def run(world: World, quick: bool) -> tuple[list[Figure], str, dict[str, Times]]:
    ours, bare = world[OURS], world[BARE]
    (company,) = ours.site_packages.glob("cert_session/certs/" + world.files["intermediate"].name)
    (certifi_pem,) = ours.site_packages.glob("certifi/cacert.pem")
    one = world.files["intermediate"].read_bytes()
    two = one + world.files["second"].read_bytes()
    cache, home = world.env["CERT_SESSION_CACHE_DIR"], world.env["HOME"]
    world.settle(OURS)
    times: dict[str, Times] = {"bare": {}, "company": {}, "certifi": {}}
    for r in range(30 if quick else 100):
        times["bare"][r] = spawn([bare.python, "-c", "pass"], bare.env(world.env), cwd=home)
        for kind in ("company", "certifi"):
            before = snapshot(cache)
            if kind == "company":
                company.write_bytes(two if r % 2 == 0 else one)
            else:
                os.utime(certifi_pem)
            times[kind][r] = spawn([ours.python, "-c", "pass"], ours.env(world.env), cwd=home)
            if snapshot(cache) == before:
                raise SystemExit("a %s change wrote nothing under %s: no rebuild" % (kind, cache))
    company.write_bytes(one)
    world.settle(OURS, OURS_OS)  # steady again for what runs next
    figures, rows = [], ["| rebuild | wall-clock median | vs bare (paired) |", "|---|---:|---:|"]
    for kind, what in (("company", "company certificate changed"), ("certifi", "certifi's cacert.pem touched")):
        p = Paired.of(times[kind], times["bare"])
        figures.append(Figure("rebuild (%s) / bare: wall clock (paired median)" % what, "%s, %.2f ms" % (p.text(), median_ms(times[kind])),
                              "≤ %.0f×" % budgets.REBUILD_VS_BARE, p.median <= budgets.REBUILD_VS_BARE))
        rows.append("| %s | %.2f ms | %s |" % (what, median_ms(times[kind]), p.text()))
    chart = {"cert-session (rebuild: company cert)": times["company"], "cert-session (rebuild: certifi touched)": times["certifi"]}
    return figures, "\n".join(rows) + "\n", chart
