"""``python3 -m benchmarks [--quick] [--only NAME]``: every figure with PASS/FAIL against its budget.

A full run (no option) also rewrites benchmarks/results.md, benchmarks/startup.png
and docs/performance.md's generated block; ``--quick`` and ``--only`` print only.
The exit status is 1 when a budget fails.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import connection, envs, os_store, paired, per_request, rebuild, report, rss, startup

MODULES = [startup, os_store, rebuild, connection, per_request, rss]
TITLES = {"start-up": "Start-up", "os-store": "The OS trust store", "rebuild": "Rebuild",
          "connection": "New HTTPS connections and the preload", "per-request": "Per request", "rss": "Memory"}


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds; prints only")
    parser.add_argument("--only", action="append", choices=[m.NAME for m in MODULES], help="run only these (repeatable); prints only")
    args = parser.parse_args(raw)
    envs.ensure_tools_and_reexec(raw)
    sys.path.insert(0, str(envs.REPO))  # tests.helpers: the same real parts the test suite uses
    from tests.helpers import counts

    counts.ensure_tools()
    missing = counts.problem("valgrind") or counts.problem("strace")
    if missing:
        raise SystemExit("cannot count: %s" % missing)
    chosen = [m for m in MODULES if not args.only or m.NAME in args.only]
    started, load_before = time.monotonic(), paired.loadavg()
    world = envs.build(alternatives=os_store in chosen)
    sections, chart_times, figures = [], {}, []
    for module in chosen:
        print("measuring %s ..." % module.NAME, flush=True)
        figs, table, times = module.run(world, args.quick)
        sections.append((TITLES[module.NAME], module.__doc__ or "", figs, table))
        chart_times.update(times)
        figures += figs
        print("\n".join(report.verdict_lines(figs)), flush=True)
    elapsed = time.monotonic() - started
    machine = paired.machine(world[envs.BARE].python)
    header = [
        "Last run: `python3 -m benchmarks%s` (%.0f s in all) on %s." % ("".join(" " + a for a in raw), elapsed, paired.now()),
        "Machine: %s; load average (1/5/15 min) %s before, %s after." % (machine, load_before, paired.loadavg()),
        "Packages: %s." % ", ".join("%s %s" % (n, world.versions.get(n, "?"))
                                    for n in ("requests", "urllib3", "certifi", "pip", "cert-session-company")),
    ]
    print("\n" + "\n".join(header) + "\n\n" + "\n".join(report.verdict_lines(figures)))
    if not args.quick and not args.only:
        report.update_readme(envs.REPO / "docs" / "performance.md", report.readme_block(header, figures))
        (envs.REPO / "benchmarks" / "results.md").write_text(report.results_md(header, sections))
        report.chart(chart_times, envs.REPO / "benchmarks" / "startup.png",
                     "Start-up wall time per Python process (%s)" % machine)
        print("wrote benchmarks/results.md, benchmarks/startup.png and docs/performance.md's generated block")
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
