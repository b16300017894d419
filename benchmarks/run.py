"""Measure cert-session against a bare environment and the alternatives (issue #5).

Usage::

    python3 benchmarks/run.py                # the full run (about 2 minutes on 2 cores)
    python3 benchmarks/run.py --runs 30      # a quick look

Everything happens in one invocation:

1. A tooling venv (``benchmarks/.venvs/tools``: matplotlib, trustme,
   setuptools, wheel) is created on first use from the package registry with
   this machine's pip configuration, and the script re-runs itself inside it.
2. Side-by-side venvs under ``benchmarks/.venvs/`` get the same requests and
   certifi wheels: ``bare``, ``cert-session`` (this checkout built as a wheel
   with a throwaway trustme root and intermediate in cert_session/certs/),
   ``pip-system-certs`` and ``certifi-linux``.
3. Start-ups are timed round-robin across the variants (the starting variant
   rotates every round), so drift on the machine hits every variant alike;
   medians and ratios against ``bare`` are reported with the issue's budgets.
   Rebuilds are timed right after a real input change: a different company
   certificate file, or a new mtime on certifi's cacert.pem.
4. Per-new-connection cost of requests against a loopback HTTPS server, the
   merged bundle against the base bundle it was built from.
5. Peak RSS of each start (``os.wait4``), the hook's imports
   (``-X importtime``) and, when strace exists, the syscalls the hook adds.

Results go to stdout, ``benchmarks/results.md`` and ``benchmarks/startup.png``.
Children never run from the checkout and get a clean environment
(tests/helpers/env.py), so this machine's preset CA variables play no part.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
VENVS = BENCH / ".venvs"
TOOLS = VENVS / "tools"
TOOL_REQUIREMENTS = ["matplotlib", "trustme", "cryptography", "certifi", "setuptools>=70.1", "wheel"]
# Pinned to the releases the issue measured; the latest is used if a pin is gone.
ALTERNATIVES = {
    "pip-system-certs": ("pip-system-certs==5.3", "pip-system-certs"),
    "certifi-linux": ("certifi-linux==1.1", "certifi-linux"),
}
# A reference variant: bare plus a .pth that imports an empty module.
FLOOR = "floor"
BUDGET_STEADY = 1.03
BUDGET_REBUILD = 3.0
BUDGET_CONNECTION = 1.05
BUDGET_RSS_KIB = 1024

# Runs in the bare venv: per-new-connection cost of plain requests.get, which
# makes a new Session, pool and TLS connection (and so re-reads the CA file)
# every call. Also times the CA file load alone, which is what differs.
CONNECTION_SCRIPT = r"""
import os, ssl, sys, time, requests
url, n = sys.argv[1], int(sys.argv[2])
cafile = os.environ["REQUESTS_CA_BUNDLE"]
requests.get(url, timeout=10).raise_for_status()  # imports and first-use caches
per_request = []
for _ in range(n):
    t = time.perf_counter()
    requests.get(url, timeout=10).raise_for_status()
    per_request.append(time.perf_counter() - t)
per_load = []
for _ in range(n):
    t = time.perf_counter()
    ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile)
    per_load.append(time.perf_counter() - t)
print(" ".join(map(repr, per_request)))
print(" ".join(map(repr, per_load)))
"""


# --------------------------------------------------------------------------
# Tooling venv


def ensure_tools_and_reexec(argv: list[str]) -> None:
    """Run the rest of this script inside the tooling venv (created once)."""
    if Path(sys.prefix).resolve() == TOOLS.resolve():
        return
    python = TOOLS / "bin" / "python"
    stamp = TOOLS / "requirements.txt"
    wanted = "\n".join(TOOL_REQUIREMENTS) + "\n"
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(TOOLS, ignore_errors=True)
        print("creating the tooling venv %s ..." % TOOLS, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        # The registry is reached with this machine's own pip configuration.
        subprocess.run([str(python), "-m", "pip", "install", "-q", *TOOL_REQUIREMENTS], check=True)
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])  # noqa: S606 (our own venv)


# --------------------------------------------------------------------------
# Variants


@dataclass
class Variant:
    name: str
    python: str
    site_packages: Path
    every: int = 1  # measured every n-th round (the slow alternatives)
    startup: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)


def download(wheelhouse: Path) -> dict[str, str]:
    """Fetch all wheels once, so every venv gets identical requests/certifi."""
    shutil.rmtree(wheelhouse, ignore_errors=True)
    chosen = {}
    for name, specs in ALTERNATIVES.items():
        for spec in specs:
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), spec],
                capture_output=True,
                text=True,
            )
            if proc.returncode == 0:
                chosen[name] = spec
                break
            print("%s unavailable, trying the next: %s" % (spec, proc.stderr.strip().splitlines()[-1:]))
        else:
            raise SystemExit("cannot download %s" % name)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), "requests", "certifi"],
        check=True,
    )
    return chosen


def build_variants(work: Path, home: Path) -> tuple[dict[str, Variant], dict[str, Path], dict[str, str]]:
    from tests.helpers import pki, wheels
    from tests.helpers.env import clean_env
    from tests.helpers.venvs import make_venv

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    wheelhouse = VENVS / "wheelhouse"
    print("downloading wheels ...", flush=True)
    chosen = download(wheelhouse)

    # The company's chain: root -> intermediate -> leaf (the loopback server).
    chain = pki.make_chain(work / "pki", "company")
    second = chain.root.create_child_ca()  # a second issuing CA, for rebuilds
    second_pem = work / "pki" / "second-intermediate.pem"
    second.cert_pem.write_to_path(str(second_pem))
    print("building the cert-session wheel ...", flush=True)
    project_wheel = wheels.build_project_wheel(
        work / "build", [chain.root_pem, chain.intermediate_pem], work / "dist"
    )

    packages = {
        "bare": [],
        FLOOR: [],
        "cert-session": [str(project_wheel)],
        "pip-system-certs": [chosen["pip-system-certs"]],
        "certifi-linux": [chosen["certifi-linux"]],
    }
    variants = {}
    env = clean_env(home)
    for name, extra in packages.items():
        print("creating venv %s ..." % name, flush=True)
        path = VENVS / name
        shutil.rmtree(path, ignore_errors=True)
        venv = make_venv(path)
        venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "requests", "certifi", *extra)
        if name == FLOOR:
            # The least any .pth start-up hook can cost: one line, one empty module.
            (venv.site_packages / "empty_startup_module.py").write_text("")
            (venv.site_packages / "empty_startup_module.pth").write_text("import empty_startup_module\n")
            subprocess.run(
                [venv.python, "-m", "py_compile", str(venv.site_packages / "empty_startup_module.py")],
                check=True,
            )
        variants[name] = Variant(
            name, venv.python, venv.site_packages, every=0 if name in ALTERNATIVES else 1
        )
    files = {
        "root": chain.root_pem,
        "intermediate": chain.intermediate_pem,
        "second": second_pem,
        "leaf": chain.leaf_pem,
        "key": chain.leaf_key,
    }
    return variants, files, chosen


def versions(site_packages: Path) -> dict[str, str]:
    out = {}
    for info in site_packages.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[name.lower().replace("_", "-")] = version
    return out


# --------------------------------------------------------------------------
# Measurement primitives


def spawn(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one child, output discarded (posix_spawn: no shell, no pipes)."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("benchmark child failed: %s" % " ".join(argv))
    return elapsed


def peak_rss(argv: list[str], env: dict[str, str], out: Path) -> int:
    """Peak RSS (KiB) of one child, measured by GNU time.

    Not this process's own wait4: posix_spawn and fork children start from
    this process's memory map, so their ru_maxrss reports the harness's
    ~36 MiB. GNU time is a small C program whose child starts small.
    """
    subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(out), *argv], env=env, check=True, capture_output=True
    )
    return int(out.read_text().split()[-1])


def newest_state(cache: Path) -> int:
    return max((p.stat().st_mtime_ns for p in cache.rglob("state-*")), default=0)


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


# --------------------------------------------------------------------------
# The benchmark


@dataclass
class Bundle:
    """A CA file and the per-connection timings taken with it."""

    path: Path
    request: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def certs(self) -> int:
        return self.path.read_bytes().count(b"-----BEGIN CERTIFICATE-----")


@dataclass
class Row:
    what: str
    variant: str
    median: str
    ratio: str
    budget: str
    verdict: str
    samples: int


def check_outputs(variants: dict[str, Variant], env: dict[str, str]) -> dict[str, str]:
    """One start per variant with output captured: nothing may be silently broken."""
    notes = {}
    show = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', ''))"
    for v in variants.values():
        proc = subprocess.run([v.python, "-c", show], env=env, capture_output=True, text=True, check=True)
        notes[v.name] = proc.stderr.strip()
        if v.name == "cert-session" and not proc.stdout.strip().endswith(".pem"):
            raise SystemExit("cert-session exported no bundle: %r %r" % (proc.stdout, proc.stderr))
    return notes


def measure_startups(
    variants: dict[str, Variant], env: dict[str, str], files: dict[str, Path], runs: int, alt_every: int
) -> dict[str, list[float]]:
    ours = variants["cert-session"]
    (company,) = ours.site_packages.glob("cert_session/certs/Issuer.crt")
    (certifi_pem,) = ours.site_packages.glob("certifi/cacert.pem")
    one = files["intermediate"].read_bytes()
    two = one + files["second"].read_bytes()
    cache = Path(env["CERT_SESSION_CACHE_DIR"])
    rebuilds: dict[str, list[float]] = {"company": [], "certifi": []}
    order = list(variants.values())
    for v in order:
        v.every = v.every or alt_every
    for r in range(runs):
        rotated = order[r % len(order) :] + order[: r % len(order)]
        for v in rotated:
            if r % v.every == 0:
                v.startup.append(spawn([v.python, "-c", "pass"], env))
        # Rebuilds: change a real input, then time the first start.
        for kind in ("company", "certifi"):
            before = newest_state(cache)
            if kind == "company":
                company.write_bytes(two if r % 2 == 0 else one)
            else:
                os.utime(certifi_pem)  # what a reinstall of the same certifi looks like
            t = spawn([ours.python, "-c", "pass"], env)
            if newest_state(cache) <= before:
                raise SystemExit("a %s change did not trigger a rebuild" % kind)
            rebuilds[kind].append(t)
        if (r + 1) % 25 == 0:
            print("  start-up round %d/%d" % (r + 1, runs), flush=True)
    company.write_bytes(one)
    spawn([ours.python, "-c", "pass"], env)  # back to steady state
    return rebuilds


def measure_rss(variants: dict[str, Variant], env: dict[str, str], work: Path, runs: int) -> bool:
    """Peak RSS of `python -c pass`, interleaved; False without GNU time."""
    if not os.access("/usr/bin/time", os.X_OK):
        return False
    order = list(variants.values())
    for r in range(runs):
        for v in order[r % len(order) :] + order[: r % len(order)]:
            v.rss.append(peak_rss([v.python, "-c", "pass"], env, work / "rss.txt"))
    return True


def measure_connections(
    variants: dict[str, Variant],
    env: dict[str, str],
    files: dict[str, Path],
    work: Path,
    rounds: int,
    per: int,
) -> dict[str, Bundle]:
    """requests.get per new connection: base bundle vs the merged one built from it."""
    from tests.helpers import servers

    # The loopback server must be trusted by both files for the comparison to
    # time the same work, so the base is certifi's cacert.pem plus the
    # company root, and the server sends leaf + intermediate. The merged file
    # is what the hook builds from that base with a preset REQUESTS_CA_BUNDLE.
    (certifi_pem,) = variants["bare"].site_packages.glob("certifi/cacert.pem")
    base = work / "base-bundle.pem"
    base.write_bytes(certifi_pem.read_bytes() + b"\n" + files["root"].read_bytes())
    proc = subprocess.run(
        [variants["cert-session"].python, "-c", "import os; print(os.environ['REQUESTS_CA_BUNDLE'])"],
        env=dict(env, REQUESTS_CA_BUNDLE=str(base)),
        capture_output=True,
        text=True,
        check=True,
    )
    merged = Path(proc.stdout.strip())
    if merged == base or proc.stderr:
        raise SystemExit("the hook did not merge into the preset base: %r" % proc.stderr)
    chain = work / "leaf-and-intermediate.pem"
    chain.write_bytes(files["leaf"].read_bytes() + files["intermediate"].read_bytes())
    candidates = {"base": base, "merged": merged}
    result = {name: Bundle(path) for name, path in candidates.items()}
    bare = variants["bare"]
    with servers.serve_https(chain, files["key"]) as url:
        for r in range(rounds):
            names = list(candidates) if r % 2 == 0 else list(reversed(candidates))
            for name in names:
                out = subprocess.run(
                    [bare.python, "-c", CONNECTION_SCRIPT, url, str(per)],
                    env=dict(env, REQUESTS_CA_BUNDLE=str(candidates[name])),
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split("\n")
                result[name].request += [float(x) for x in out[0].split()]
                result[name].load += [float(x) for x in out[1].split()]
    return result


# --------------------------------------------------------------------------
# Preloaded CA contexts (issue 13), kept in one block so it merges on its own

BUDGET_PRELOAD = 0.3
# A long-lived worker: one requests.get (a new session each) per "get" line on
# stdin, answering its wall time; "contexts" answers how many preloaded
# contexts the process holds (-1 where cert-session is not installed).
PRELOAD_WORKER = r"""
import sys, time, requests
url = sys.argv[1]
requests.get(url, timeout=10).raise_for_status()  # imports and first-use caches
for line in sys.stdin:
    if line.strip() == "get":
        t = time.perf_counter()
        requests.get(url, timeout=10).raise_for_status()
        print(repr(time.perf_counter() - t), flush=True)
    elif line.strip() == "contexts":
        try:
            from cert_session import _preload
            print(_preload.cached_contexts(), flush=True)
        except ImportError:
            print(-1, flush=True)
"""
# A fresh process making n sequential requests.get calls to one host; the
# timing starts after `import requests` and includes the first call.
PRELOAD_SEQUENTIAL = r"""
import sys, time, requests
url, n = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
for _ in range(n):
    requests.get(url, timeout=10).raise_for_status()
print(repr(time.perf_counter() - t))
"""


def measure_preload(
    variants: dict[str, Variant], env: dict[str, str], files: dict[str, Path], work: Path, pairs: int, rounds: int, n: int
) -> tuple[list[Row], list[str]]:
    """New HTTPS connections with cert-session's preloaded context vs plain requests, same bundle.

    ``package``: the cert-session venv with ``REQUESTS_CA_BUNDLE`` preset to the
    base, so the hook exports the merged bundle and the verify guard preloads it.
    ``plain``: the bare venv (same requests, urllib3 and certifi wheels) with
    ``REQUESTS_CA_BUNDLE`` set to that same merged file. Pairs alternate which
    one goes first; the figure is the median of the per-pair ratios.
    """
    from tests.helpers import servers

    (certifi_pem,) = variants["bare"].site_packages.glob("certifi/cacert.pem")
    base = work / "preload-base-bundle.pem"
    base.write_bytes(certifi_pem.read_bytes() + b"\n" + files["root"].read_bytes())
    ours, bare = variants["cert-session"], variants["bare"]
    package_env = dict(env, REQUESTS_CA_BUNDLE=str(base))
    merged = subprocess.run(
        [ours.python, "-c", "import os; print(os.environ['REQUESTS_CA_BUNDLE'])"],
        env=package_env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if merged == str(base):
        raise SystemExit("the hook did not export a merged bundle for the preload benchmark")
    plain_env = dict(env, REQUESTS_CA_BUNDLE=merged)
    chain = work / "preload-leaf-and-intermediate.pem"
    chain.write_bytes(files["leaf"].read_bytes() + files["intermediate"].read_bytes())
    sides = {"package": (ours.python, package_env), "plain": (bare.python, plain_env)}
    one: dict[str, list[float]] = {name: [] for name in sides}
    ratios: list[float] = []
    seq: dict[str, list[float]] = {name: [] for name in sides}
    seq_ratios: list[float] = []
    with servers.serve_https(chain, files["key"]) as url:
        workers = {
            name: subprocess.Popen(
                [python, "-c", PRELOAD_WORKER, url], env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            for name, (python, e) in sides.items()
        }

        def ask(name: str, what: str) -> str:
            proc = workers[name]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(what + "\n")
            proc.stdin.flush()
            return proc.stdout.readline().strip()

        try:
            for i in range(pairs):
                order = ["package", "plain"] if i % 2 == 0 else ["plain", "package"]
                got = {name: float(ask(name, "get")) for name in order}
                for name, t in got.items():
                    one[name].append(t)
                ratios.append(got["package"] / got["plain"])
            contexts = {name: int(ask(name, "contexts")) for name in sides}
        finally:
            for proc in workers.values():
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(timeout=30)
        if contexts["package"] != 1 or contexts["plain"] != -1:
            raise SystemExit("preload benchmark: unexpected preloaded contexts %r" % contexts)
        for r in range(rounds):
            order = ["package", "plain"] if r % 2 == 0 else ["plain", "package"]
            got = {}
            for name in order:
                python, e = sides[name]
                out = subprocess.run(
                    [python, "-c", PRELOAD_SEQUENTIAL, url, str(n)], env=e, capture_output=True, text=True, check=True
                )
                got[name] = float(out.stdout)
                seq[name].append(got[name])
            seq_ratios.append(got["package"] / got["plain"])
    ratio = statistics.median(ratios)
    seq_ratio = statistics.median(seq_ratios)
    what = "new HTTPS connection (requests.get, one new session each)"
    rows = [
        Row(what, "plain requests, same merged bundle", "%.2f ms" % median_ms(one["plain"]), "1.000× plain", "", "", pairs),
        Row(
            what,
            "cert-session (preloaded context)",
            "%.2f ms" % median_ms(one["package"]),
            "%.3f× plain (median of paired ratios)" % ratio,
            "≤ %.1f×" % BUDGET_PRELOAD,
            verdict(ratio <= BUDGET_PRELOAD),
            pairs,
        ),
    ]
    what = "%d sequential requests.get to one host, in a fresh process" % n
    rows += [
        Row(what, "plain requests, same merged bundle", "%.1f ms" % median_ms(seq["plain"]), "1.000× plain", "", "", rounds),
        Row(
            what,
            "cert-session (preloaded context)",
            "%.1f ms" % median_ms(seq["package"]),
            "%.3f× plain (median of paired ratios)" % seq_ratio,
            "",
            "",
            rounds,
        ),
    ]
    notes = [
        "- Preloaded contexts: `requests.get` (a new session and pool each call) to a loopback server, in two "
        "long-lived workers answering alternately, %d pairs: the cert-session venv with `REQUESTS_CA_BUNDLE` "
        "preset to the base (so the guard uses the merged bundle, loaded once per process), and the bare venv "
        "with `REQUESTS_CA_BUNDLE` set to that same merged file (urllib3 loads it for every new connection). "
        "The ratio is the median of the per-pair ratios. The sequential row times %d calls in a fresh process "
        "after `import requests`, first call included, %d rounds." % (pairs, n, rounds),
    ]
    return rows, notes


def measure_hook_imports(ours: Variant, env: dict[str, str], runs: int) -> tuple[set[str], float]:
    """Modules the hook adds in steady state, and its median self time (µs)."""

    def modules(extra: dict[str, str]) -> tuple[dict[str, int], str]:
        proc = subprocess.run(
            [ours.python, "-X", "importtime", "-c", "pass"],
            env=dict(env, **extra),
            capture_output=True,
            text=True,
            check=True,
        )
        found = {}
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "imported package" not in line:
                fields = line[len("import time:") :].split("|")
                found[fields[2].strip()] = int(fields[0])
        return found, proc.stderr

    on, _ = modules({})
    off, _ = modules({"CERT_SESSION_DISABLE": "1"})
    selfs = [modules({})[0].get("cert_session_hook", 0) for _ in range(runs)]
    return set(on) - set(off), statistics.median(selfs)


def comparable(line: str) -> str:
    """An strace line without what differs between two runs of the same program.

    Addresses differ (ASLR), and descriptor numbers shift by one while the
    .pth file is open, so both become placeholders.
    """
    line = re.sub(r"0x[0-9a-f]+", "0x…", line)
    line = re.sub(r"^(\w+)\(\d+(?=[,)])", r"\1(fd", line)
    if line.startswith("openat("):
        line = re.sub(r"= \d+$", "= fd", line)
    return line


def strace_profile(
    ours: Variant, env: dict[str, str], work: Path
) -> tuple[dict[str, tuple[int, int]], list[str]] | None:
    """Syscall counts with and without the hook, and the calls it adds."""
    if not shutil.which("strace"):
        return None
    counts = {}
    traces = {}
    for label, extra in (("on", {}), ("off", {"CERT_SESSION_DISABLE": "1"})):
        summary = work / ("strace-c-%s.txt" % label)
        trace = work / ("strace-%s.txt" % label)
        e = dict(env, **extra)
        subprocess.run(["strace", "-c", "-o", str(summary), ours.python, "-c", "pass"], env=e, check=True)
        subprocess.run(
            [
                "strace",
                "-e",
                "trace=%file,read,close,fstat,getdents64",
                "-o",
                str(trace),
                ours.python,
                "-c",
                "pass",
            ],
            env=e,
            check=True,
        )
        table = {}
        for line in summary.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                table[parts[-1]] = int(parts[3])
        counts[label] = table
        traces[label] = collections.Counter(map(comparable, trace.read_text().splitlines()))
    names = sorted(set(counts["on"]) | set(counts["off"]))
    diff = {n: (counts["off"].get(n, 0), counts["on"].get(n, 0)) for n in names}
    added = [line for line in (traces["on"] - traces["off"]).elements() if not line.startswith("execve(")]
    return diff, added


# --------------------------------------------------------------------------
# Reporting


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def vs_bare(m: float, bare: float) -> str:
    return "%.3f× (%+.2f ms)" % (m / bare, m - bare)


def make_rows(
    variants: dict[str, Variant], rebuilds: dict[str, list[float]], conn: dict[str, Bundle]
) -> list[Row]:
    bare = median_ms(variants["bare"].startup)
    rows = []
    for v in variants.values():
        m = median_ms(v.startup)
        budget, ok = "", ""
        if v.name == "cert-session":
            budget, ok = "≤ %.2f×" % BUDGET_STEADY, verdict(m / bare <= BUDGET_STEADY)
        label = {"cert-session": "steady state", FLOOR: "(reference: a .pth importing an empty module)"}.get(
            v.name, ""
        )
        rows.append(
            Row(
                "`python -c pass`",
                ("%s %s" % (v.name, label)).strip(),
                "%.2f ms" % m,
                vs_bare(m, bare),
                budget,
                ok,
                len(v.startup),
            )
        )
    for kind, what in (
        ("company", "company certificate changed"),
        ("certifi", "certifi's cacert.pem touched"),
    ):
        m = median_ms(rebuilds[kind])
        rows.append(
            Row(
                "`python -c pass`, rebuild",
                "cert-session, %s" % what,
                "%.2f ms" % m,
                vs_bare(m, bare),
                "≤ %.0f×" % BUDGET_REBUILD,
                verdict(m / bare <= BUDGET_REBUILD),
                len(rebuilds[kind]),
            )
        )
    base_req = median_ms(conn["base"].request)
    for name in ("base", "merged"):
        m = median_ms(conn[name].request)
        label = "base bundle (certifi + company root)" if name == "base" else "merged bundle (cert-session)"
        budget, ok = (
            ("≤ %.2f×" % BUDGET_CONNECTION, verdict(m / base_req <= BUDGET_CONNECTION))
            if name == "merged"
            else ("", "")
        )
        rows.append(
            Row(
                "new HTTPS connection (requests.get)",
                label,
                "%.2f ms" % m,
                "%.3f× base" % (m / base_req),
                budget,
                ok,
                len(conn[name].request),
            )
        )
    base_load = median_ms(conn["base"].load)
    for name in ("base", "merged"):
        m = median_ms(conn[name].load)
        rows.append(
            Row(
                "CA file load (load_verify_locations)",
                "%s: %d certs, %d bytes" % (name, conn[name].certs, conn[name].size),
                "%.2f ms" % m,
                "%.3f× base" % (m / base_load),
                "",
                "",
                len(conn[name].load),
            )
        )
    if not variants["bare"].rss:
        return rows
    bare_rss = statistics.median(variants["bare"].rss)
    for v in variants.values():
        m = statistics.median(v.rss)
        budget, ok = "", ""
        if v.name == "cert-session":
            budget, ok = "≤ +%d KiB" % BUDGET_RSS_KIB, verdict(m - bare_rss <= BUDGET_RSS_KIB)
        rows.append(
            Row(
                "peak RSS of `python -c pass`",
                v.name,
                "%.0f KiB" % m,
                "%+.0f KiB" % (m - bare_rss),
                budget,
                ok,
                len(v.rss),
            )
        )
    return rows


def table(rows: list[Row]) -> str:
    head = "| measurement | variant | median | vs bare | budget | result | runs |\n|---|---|---:|---:|---|---|---:|\n"
    return head + "".join(
        "| %s | %s | %s | %s | %s | %s | %d |\n"
        % (r.what, r.variant, r.median, r.ratio, r.budget, r.verdict, r.samples)
        for r in rows
    )


def chart(variants: dict[str, Variant], rebuilds: dict[str, list[float]], path: Path) -> None:
    import matplotlib  # type: ignore[import-not-found]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found]

    bare = median_ms(variants["bare"].startup)
    labels = [
        v.name + {"cert-session": " (steady)", FLOOR: " (empty .pth module)"}.get(v.name, "")
        for v in variants.values()
    ]
    values = [median_ms(v.startup) for v in variants.values()]
    labels += ["cert-session (rebuild: company cert)", "cert-session (rebuild: certifi)"]
    values += [median_ms(rebuilds["company"]), median_ms(rebuilds["certifi"])]
    order = sorted(range(len(values)), key=values.__getitem__)
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=120)
    colors = [
        "#4c72b0"
        if "cert-session" in labels[i]
        else ("#999999" if labels[i].split()[0] in ("bare", FLOOR) else "#dd8452")
        for i in order
    ]
    bars = ax.barh([labels[i] for i in order], [values[i] for i in order], color=colors)
    for bar, i in zip(bars, order):
        ax.text(
            bar.get_width() * 1.05,
            bar.get_y() + bar.get_height() / 2,
            "%.1f ms (%.2f×)" % (values[i], values[i] / bare),
            va="center",
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlim(right=max(values) * 4)
    ax.axvline(bare * BUDGET_REBUILD, color="#c44e52", linestyle=":", linewidth=1)
    ax.text(
        bare * BUDGET_REBUILD,
        len(values) - 0.45,
        " rebuild budget (3× bare)",
        color="#c44e52",
        fontsize=7,
        va="bottom",
    )
    ax.set_xlabel("median wall time of `python -c pass` (ms, log scale)")
    ax.set_title(
        "Start-up cost per Python process (%s, %d cores)" % (platform.python_version(), os.cpu_count() or 0),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=200, help="rounds of start-ups (bare and cert-session run every round)"
    )
    parser.add_argument("--alt-every", type=int, default=4, help="the slow alternatives run every n-th round")
    parser.add_argument(
        "--conn-rounds", type=int, default=20, help="child processes per bundle for the connection test"
    )
    parser.add_argument("--conn-requests", type=int, default=25, help="new connections timed per child")
    parser.add_argument("--preload-pairs", type=int, default=300, help="paired new connections, preload vs plain")
    parser.add_argument("--preload-rounds", type=int, default=10, help="fresh processes per side, sequential calls")
    parser.add_argument("--preload-calls", type=int, default=100, help="sequential requests.get per process")
    parser.add_argument("--rss-runs", type=int, default=30, help="peak-RSS samples per variant (GNU time)")
    parser.add_argument("--out", type=Path, default=BENCH, help="where results.md and startup.png go")
    args = parser.parse_args(raw)
    ensure_tools_and_reexec(raw)
    sys.path.insert(0, str(REPO))  # tests.helpers: the same real parts the test suite uses
    from tests.helpers.env import clean_env

    started = time.monotonic()
    work = VENVS / "work"
    home = VENVS / "home"
    shutil.rmtree(home, ignore_errors=True)
    variants, files, chosen = build_variants(work, home)
    # A user's start: no preset CA variables, bytecode written as usual.
    env = clean_env(home, PYTHONDONTWRITEBYTECODE=None)
    os.chdir(home)  # never the checkout: `-c` puts the cwd on sys.path
    notes = check_outputs(variants, env)

    print("timing start-ups: %d rounds ..." % args.runs, flush=True)
    rebuilds = measure_startups(variants, env, files, args.runs, args.alt_every)
    print("timing new HTTPS connections ...", flush=True)
    conn = measure_connections(variants, env, files, work, args.conn_rounds, args.conn_requests)
    print("profiling the steady-state hook ...", flush=True)
    added_modules, hook_self_us = measure_hook_imports(variants["cert-session"], env, 30)
    syscalls = strace_profile(variants["cert-session"], env, work)
    print("measuring peak RSS ...", flush=True)
    if not measure_rss(variants, env, work, args.rss_runs):
        print("  /usr/bin/time (GNU time) is missing: no memory figures")

    rows = make_rows(variants, rebuilds, conn)
    print("timing preloaded CA contexts ...", flush=True)
    preload_rows, preload_notes = measure_preload(
        variants, env, files, work, args.preload_pairs, args.preload_rounds, args.preload_calls
    )
    rows += preload_rows
    info = machine()
    installed = versions(variants["cert-session"].site_packages)
    alt_versions = {n: versions(variants[n].site_packages).get(n, "?") for n in ALTERNATIVES}
    command = "python3 benchmarks/run.py" + "".join(" " + a for a in raw)

    out = [
        "# Benchmarks",
        "",
        "Generated by `%s` (%.0f s in all) on %s." % (command, time.monotonic() - started, info["date"]),
        "",
    ]
    out += [
        "Machine: %s, %s cores, Python %s, Linux %s."
        % (info["CPU"], info["cores"], info["Python"], info["kernel"]),
        "",
    ]
    out += [
        "Packages: requests %s, certifi %s, cert-session-company %s, pip-system-certs %s, certifi-linux %s."
        % (
            installed.get("requests"),
            installed.get("certifi"),
            installed.get("cert-session-company"),
            alt_versions["pip-system-certs"],
            alt_versions["certifi-linux"],
        ),
        "",
        "How it measures:",
        "",
        "- Start-ups are interleaved round-robin in one invocation (bare, floor and cert-session every "
        "round, the alternatives every %d-th round). Ratios are medians against `bare`: the same requests "
        "and certifi, no CA package. `floor` is bare plus a `.pth` line importing an empty module, the "
        "least any start-up hook can cost." % args.alt_every,
        "- A rebuild is the first start after a real input change: the company certificate file is "
        "rewritten with different certificates, or certifi's cacert.pem gets a new mtime (as a reinstall "
        "does); each is checked to have rewritten the state file.",
        "- New HTTPS connection: plain `requests.get` (a new session, pool and TLS connection, so urllib3 "
        "re-reads the CA file) against a loopback server that sends leaf + intermediate, in the bare venv "
        "with `REQUESTS_CA_BUNDLE` set to the base bundle (certifi's cacert.pem plus the throwaway company "
        "root, so both files trust the server) or to the merged bundle the hook builds from that base.",
        *preload_notes,
        "- Peak RSS comes from GNU time (`/usr/bin/time -f %M`), in separate runs.",
        "",
        table(rows),
        "![start-up cost](startup.png)",
        "",
        "## What the hook does in steady state",
        "",
        "- Modules imported beyond a bare start (`-X importtime`): %s; median self time %.0f µs."
        % (", ".join("`%s`" % m for m in sorted(added_modules)) or "none", hook_self_us),
    ]
    if syscalls is not None:
        diff, added = syscalls
        changed = {n: c for n, c in diff.items() if c[0] != c[1]}
        out += [
            "- Syscalls (`strace -c`), without → with the hook: %s."
            % (", ".join("%s %d → %d" % (n, a, b) for n, (a, b) in changed.items()) or "no difference"),
            "- File and descriptor calls the hook adds (`strace -e trace=%file,read,close,fstat,getdents64`):",
            "",
            "```",
            *[re.sub(r"/\S*/\.venvs/", ".venvs/", line) for line in added],
            "```",
        ]
    for name, note in notes.items():
        if note:
            out += ["", "Note: `%s` wrote to stderr on start-up: `%s`" % (name, note.splitlines()[0][:200])]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(out) + "\n")
    chart(variants, rebuilds, args.out / "startup.png")

    print()
    print(table(rows))
    print("\n".join(out[out.index("## What the hook does in steady state") + 2 :]))
    print("\nwrote %s and %s" % (args.out / "results.md", args.out / "startup.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
