"""New HTTPS connections: the merged bundle against its base, and the preload (issue #13).

- ``requests.get`` (a new session, pool and TLS connection each, so urllib3
  loads the CA file) in the bare venv, with ``REQUESTS_CA_BUNDLE`` set to the
  base (certifi + the company root) or to the merged bundle the hook builds
  from that base, one child per bundle per round, alternating. Budget ≤ 1.05×.
- Preload: the same call in two long-lived workers answering in pairs: the
  cert-session venv (the merged bundle loaded once per process; checked to
  hold exactly one preloaded context) and the bare venv given that same
  merged file (loaded for every new connection). Budget ≤ 0.3×.

The loopback server sends leaf + intermediate, so both bundles trust it.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

from benchmarks import budgets
from benchmarks.envs import BARE, OURS, World
from benchmarks.paired import Figure, Paired, Times, median_ms

NAME = "connection"
CONNECTIONS = r"""
import sys, time, requests
url, n = sys.argv[1], int(sys.argv[2])
requests.get(url, timeout=10).raise_for_status()  # imports and first-use caches
times = []
for _ in range(n):
    t = time.perf_counter()
    requests.get(url, timeout=10).raise_for_status()
    times.append(time.perf_counter() - t)
print(" ".join(map(repr, times)))
"""
WORKER = r"""
import sys, time, requests
url = sys.argv[1]
requests.get(url, timeout=10).raise_for_status()
for line in sys.stdin:
    if line.strip() == "get":
        t = time.perf_counter()
        requests.get(url, timeout=10).raise_for_status()
        print(repr(time.perf_counter() - t), flush=True)
    else:
        # The hook's own copy of the package (issue #17), not a second one.
        preload = sys.modules.get("_cert_session._preload")
        print(preload.cached_contexts() if preload else -1, flush=True)
"""


def bundles(world: World) -> tuple[Path, Path, Path]:
    """The base bundle, the merged bundle the hook builds from it, and the server's chain."""
    (certifi_pem,) = world[BARE].site_packages.glob("certifi/cacert.pem")
    base = world.work / "base-bundle.pem"
    base.write_bytes(certifi_pem.read_bytes() + b"\n" + world.files["root"].read_bytes())
    v = world[OURS]
    proc = subprocess.run([v.python, "-c", "import os; print(os.environ['REQUESTS_CA_BUNDLE'])"],
                          env=v.env(world.env, REQUESTS_CA_BUNDLE=str(base)), cwd=world.env["HOME"],
                          capture_output=True, text=True, check=True)
    merged = Path(proc.stdout.strip())
    if merged == base or proc.stderr:
        raise SystemExit("the hook did not merge into the preset base: %r" % proc.stderr)
    chain = world.work / "leaf-and-intermediate.pem"
    chain.write_bytes(world.files["leaf"].read_bytes() + world.files["intermediate"].read_bytes())
    return base, merged, chain


def _preload(world: World, url: str, base: Path, merged: Path, pairs: int) -> dict[str, Times]:
    sides = {"package": (world[OURS].python, world[OURS].env(world.env, REQUESTS_CA_BUNDLE=str(base))),
             "plain": (world[BARE].python, world[BARE].env(world.env, REQUESTS_CA_BUNDLE=str(merged)))}
    workers = {n: subprocess.Popen([py, "-c", WORKER, url], env=e, cwd=world.env["HOME"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True) for n, (py, e) in sides.items()}

    def ask(name: str, what: str) -> str:
        proc = workers[name]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(what + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().strip()
        if not answer:
            raise SystemExit("preload benchmark: the %s worker died (exit status %s)" % (name, proc.poll()))
        return answer

    times: dict[str, Times] = {n: {} for n in sides}
    try:
        for i in range(pairs):
            for name in ("package", "plain") if i % 2 == 0 else ("plain", "package"):
                times[name][i] = float(ask(name, "get"))
        contexts = {name: int(ask(name, "contexts")) for name in sides}
    finally:
        for proc in workers.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=30)
    if contexts != {"package": 1, "plain": -1}:
        raise SystemExit("preload benchmark: unexpected preloaded contexts %r" % contexts)
    return times


def run(world: World, quick: bool) -> tuple[list[Figure], str, dict[str, Times]]:
    from tests.helpers import servers

    base, merged, chain = bundles(world)
    rounds, per, pairs = (4, 10, 40) if quick else (20, 25, 300)
    per_round: dict[str, Times] = {"base": {}, "merged": {}}
    bare = world[BARE]
    with servers.serve_https(chain, world.files["key"]) as url:
        for r in range(rounds):
            for name in ("base", "merged") if r % 2 == 0 else ("merged", "base"):
                path = base if name == "base" else merged
                out = subprocess.run([bare.python, "-c", CONNECTIONS, url, str(per)], env=bare.env(world.env, REQUESTS_CA_BUNDLE=str(path)),
                                     cwd=world.env["HOME"], capture_output=True, text=True, check=True).stdout
                per_round[name][r] = statistics.median(float(x) for x in out.split())
        pre = _preload(world, url, base, merged, pairs)
    c = Paired.of(per_round["merged"], per_round["base"])
    p = Paired.of(pre["package"], pre["plain"])
    figures = [
        Figure("new HTTPS connection, merged / base bundle: wall clock (paired per round)", c.text(),
               "≤ %.2f×" % budgets.CONNECTION_MERGED_VS_BASE, c.median <= budgets.CONNECTION_MERGED_VS_BASE),
        Figure("new HTTPS connection, cert-session's preloaded context / plain requests, same merged bundle: wall clock (paired)",
               p.text(), "≤ %.1f×" % budgets.PRELOAD_VS_PLAIN, p.median <= budgets.PRELOAD_VS_PLAIN),
    ]
    count = lambda path: path.read_bytes().count(b"-----BEGIN CERTIFICATE-----")  # noqa: E731
    rows = ["| new HTTPS connection (`requests.get`, a new session each) | CA file | median | vs reference (paired) |",
            "|---|---|---:|---:|",
            "| bare, base bundle (certifi + company root) | %d certificates | %.2f ms | reference |" % (count(base), median_ms(per_round["base"])),
            "| bare, merged bundle | %d certificates | %.2f ms | %s |" % (count(merged), median_ms(per_round["merged"]), c.text()),
            "| plain requests, merged bundle (worker) | loaded per connection | %.2f ms | reference |" % median_ms(pre["plain"]),
            "| cert-session, preloaded context (worker) | loaded once | %.2f ms | %s |" % (median_ms(pre["package"]), p.text())]
    return figures, "\n".join(rows) + "\n", {}
