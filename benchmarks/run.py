"""Measure cert-session against a bare environment, the floor and the alternatives (issues #5, #10, #12, #13).

Usage::

    python3 benchmarks/run.py                # the full run (3-6 minutes on 2 cores, more with load)
    python3 benchmarks/run.py --readme       # the same, and rewrite the README's generated block
    python3 benchmarks/run.py --runs 20      # a quick look

Everything happens in one invocation:

1. A tooling venv (``benchmarks/.venvs/tools``: matplotlib, trustme,
   setuptools, wheel) is created on first use from the package registry with
   this machine's pip configuration, and the script re-runs itself inside it.
2. Side-by-side venvs under ``benchmarks/.venvs/`` get the same requests and
   certifi wheels: ``bare``; ``floor``, which is bare plus a one-line ``.pth``
   (``import empty_startup_module``) and that empty module, the least any
   ``.pth`` start-up hook can cost; ``cert-session`` (this checkout built as a
   wheel with a throwaway trustme root and intermediate in
   cert_session/certs/); ``pip-system-certs`` and ``certifi-linux``. One more
   variant has no venv of its own: cert-session's, started with
   ``CERT_SESSION_OS_STORE=1`` (issue #12: the OS trust store merged in, the
   job pip-system-certs and certifi-linux do); ``Variant.extra_env`` holds
   such per-variant variables and every start of a variant gets them.
3. Start-ups (``python -c pass``) are timed in rounds. Every round starts
   bare, floor, cert-session and cert-session with the OS store on once
   each, in an order that cycles through all their permutations, then (every
   n-th round) the alternatives, then the two rebuilds, then one untimed
   start with the OS store on (the rebuilds changed its inputs too), so every
   timed start is steady. The headline is the median over rounds of the *paired*
   ratio cert-session / floor (both timed in the same round), with its
   interquartile range and a bootstrap 95% interval of that median. A
   rebuild is the first start after a real input change (a different company
   certificate file, or a new mtime on certifi's cacert.pem), paired with
   the same round's bare start. The OS-store start has its own budget, again
   a median of paired ratios to the same round's floor.
4. Per-new-connection cost of requests against a loopback HTTPS server, the
   merged bundle against the base bundle it was built from, paired per round.
5. Preloaded CA contexts (issue #13): a new connection (``requests.get``,
   a new session each) in the cert-session venv, which loads the merged
   bundle once per process, against plain requests in the bare venv given
   that same merged file, in two long-lived workers answering in pairs; the
   figure is the median of the paired ratios. Also N sequential calls to one
   host in a fresh process, paired per round.
6. Peak RSS of each start (GNU time), the modules the hook adds
   (``-X importtime``) and, when strace exists, the syscalls it adds.

Results go to stdout, ``benchmarks/results.md`` and ``benchmarks/startup.png``
(and, with ``--readme``, the two generated blocks of README.md's Performance
section: the start-up block and the preloaded-contexts block). Every number in them comes from the run. Children never run from
the checkout and get a clean environment (tests/helpers/env.py), so this
machine's preset CA variables play no part.

What this script assumes about the package (nothing else; in particular not
the hook's module names, state-file names or formats):

- ``pip wheel`` of the checkout gives a wheel that installs a start-up hook
  which, in a process started with no CA variables, exports
  ``REQUESTS_CA_BUNDLE`` pointing at a ``.pem`` file; with
  ``REQUESTS_CA_BUNDLE`` preset, it exports a different (merged) file.
- Company certificates are files in ``cert_session/certs/`` of the package
  (the wheel is built with the throwaway root and intermediate put there).
- ``CERT_SESSION_CACHE_DIR`` is where every per-user cache file goes.
- ``CERT_SESSION_OS_STORE=1`` makes a start export a bundle other than the
  one it exports without (the OS store is merged in); OpenSSL's default CA
  file or directory exists (``SSL_CERT_FILE``/``SSL_CERT_DIR`` are unset).
- With requests 2.32.2 or newer, ``cert_session._preload.cached_contexts()``
  counts the CA contexts a process has preloaded (the preload benchmark
  checks it is 1 in the package's worker: the merged bundle).
- A changed input (company certificate contents, certifi's cacert.pem mtime)
  rebuilds at the next start, seen as some file under the cache directory
  that appears, disappears or gets a new mtime, inode or size; and a steady
  start changes nothing there.
- The test helpers it reuses keep their signatures: ``tests.helpers.pki.make_chain``,
  ``wheels.build_project_wheel``, ``env.clean_env``, ``venvs.make_venv`` and
  ``servers.serve_https``; and the checkout builds with ``pip wheel
  --no-build-isolation`` from the tooling venv (setuptools, wheel).

The exit status is 1 when a budget fails (the files are written anyway).
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import inspect
import itertools
import os
import platform
import random
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
# The reference: bare plus a one-line .pth that imports an empty module.
FLOOR = "floor"
FLOOR_MODULE = "empty_startup_module"
OURS = "cert-session"
# Issue #12: the cert-session venv with the OS trust store switched on, the
# same job pip-system-certs and certifi-linux do. A variant of its own (its
# own fast state and merged bundle), started from the same interpreter.
OURS_OS = "cert-session, OS store on"
OS_STORE_ENV = {"CERT_SESSION_OS_STORE": "1"}
CORE = ("bare", FLOOR, OURS, OURS_OS)  # started once each in every round
BUDGET_STEADY_VS_FLOOR = 1.025
BUDGET_OS_STORE_VS_FLOOR = 1.03  # issue #12
BUDGET_REBUILD = 3.0
BUDGET_CONNECTION = 1.05
BUDGET_RSS_KIB = 1024
BUDGET_PRELOAD = 0.3  # issue #13: a new connection with the preloaded context / plain requests
BOOTSTRAP_RESAMPLES = 2000
MIN_RUNS = 150  # issue #10: at least 150 interleaved runs each for the headline
MIN_PRELOAD_PAIRS = 100  # and at least 100 paired new connections for the preload budget
README_BEGIN = (
    "<!-- begin: generated by `python3 benchmarks/run.py --readme`; edit the script, not this block -->"
)
README_END = "<!-- end: generated by benchmarks/run.py -->"
# The second block, in the subsection on preloaded CA contexts.
README_PRELOAD_BEGIN = (
    "<!-- begin: generated by `python3 benchmarks/run.py --readme` (preloaded CA contexts); "
    "edit the script, not this block -->"
)
README_PRELOAD_END = "<!-- end: generated by benchmarks/run.py (preloaded CA contexts) -->"

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
# Preloaded CA contexts (issue #13). A long-lived worker: one requests.get (a
# new session and pool each) per "get" line on stdin, answering its wall time;
# "contexts" answers how many preloaded contexts the process holds (-1 where
# cert-session is not installed).
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
    extra_env: dict[str, str] = field(default_factory=dict)  # on top of the common environment
    startup: dict[int, float] = field(default_factory=dict)  # round -> seconds
    rss: list[int] = field(default_factory=list)

    def environ(self, env: dict[str, str]) -> dict[str, str]:
        """The environment every start of this variant gets: ``env`` plus its own variables."""
        return dict(env, **self.extra_env)


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
            # The least any .pth start-up hook can cost: one plain import line, one empty module.
            (venv.site_packages / (FLOOR_MODULE + ".py")).write_text("")
            (venv.site_packages / (FLOOR_MODULE + ".pth")).write_text("import %s\n" % FLOOR_MODULE)
            subprocess.run(
                [venv.python, "-m", "py_compile", str(venv.site_packages / (FLOOR_MODULE + ".py"))],
                check=True,
            )
        variants[name] = Variant(name, venv.python, venv.site_packages)
    # Not a venv of its own: the same installation, started with the option on.
    ours = variants[OURS]
    variants[OURS_OS] = Variant(OURS_OS, ours.python, ours.site_packages, extra_env=dict(OS_STORE_ENV))
    check_floor(variants["bare"].site_packages, variants[FLOOR].site_packages)
    files = {
        "root": chain.root_pem,
        "intermediate": chain.intermediate_pem,
        "second": second_pem,
        "leaf": chain.leaf_pem,
        "key": chain.leaf_key,
    }
    return variants, files, chosen


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}


def check_floor(bare: Path, floor: Path) -> None:
    """The floor venv is the bare one plus exactly the .pth, the empty module and its .pyc."""
    extra = tree(floor) - tree(bare)
    missing = tree(bare) - tree(floor)
    pyc = {p for p in extra if re.fullmatch(r"__pycache__/%s\.[\w-]+\.pyc" % FLOOR_MODULE, p)}
    if missing or extra - pyc != {FLOOR_MODULE + ".py", FLOOR_MODULE + ".pth"} or len(pyc) != 1:
        raise SystemExit("the floor venv is not bare + one .pth: extra %s, missing %s" % (extra, missing))
    if (floor / (FLOOR_MODULE + ".pth")).read_text() != "import %s\n" % FLOOR_MODULE:
        raise SystemExit("the floor .pth is not one plain import line")
    if (floor / (FLOOR_MODULE + ".py")).read_bytes():
        raise SystemExit("the floor module is not empty")


def versions(site_packages: Path) -> dict[str, str]:
    out = {}
    for info in site_packages.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[name.lower().replace("_", "-")] = version
    return out


def added_pth_lines(bare: Path, ours: Path) -> dict[str, str]:
    """The .pth files the package adds, with their first line (for the report only)."""
    out = {}
    for pth in sorted(set(p.name for p in ours.glob("*.pth")) - set(p.name for p in bare.glob("*.pth"))):
        lines = (ours / pth).read_text(errors="replace").splitlines()
        out[pth] = lines[0] if lines else ""
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


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``directory``: (mtime, inode, size). Only a directory listing and stats,
    so nothing depends on how the package names or formats its cache files."""
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


def median_ms(values: list[float] | dict[int, float]) -> float:
    return statistics.median(values.values() if isinstance(values, dict) else values) * 1000


@dataclass
class Paired:
    """Ratios of two measurements taken in the same round."""

    ratios: list[float]

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

    def bootstrap(self, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
        """Percentile bootstrap 95% interval of the median (seeded: same data, same interval)."""
        rng = random.Random(self.n)  # noqa: S311 (statistics, not secrets)
        medians = sorted(statistics.median(rng.choices(self.ratios, k=self.n)) for _ in range(resamples))
        return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]

    def text(self, bootstrap: bool = False) -> str:
        q1, q3 = self.iqr
        out = "%.3f× (IQR %.3f–%.3f" % (self.median, q1, q3)
        if bootstrap:
            out += "; 95%% CI of the median %.3f–%.3f" % self.bootstrap()
        return out + ")"


def paired(num: dict[int, float], den: dict[int, float]) -> Paired:
    return Paired([num[r] / den[r] for r in sorted(num) if r in den])


# --------------------------------------------------------------------------
# The benchmark


@dataclass
class Bundle:
    """A CA file and the per-connection timings taken with it, one list per round."""

    path: Path
    request: dict[int, list[float]] = field(default_factory=dict)
    load: dict[int, list[float]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def certs(self) -> int:
        return self.path.read_bytes().count(b"-----BEGIN CERTIFICATE-----")

    def all(self, kind: str) -> list[float]:
        return [x for xs in getattr(self, kind).values() for x in xs]

    def per_round(self, kind: str) -> dict[int, float]:
        return {r: statistics.median(xs) for r, xs in getattr(self, kind).items()}


def check_outputs(variants: dict[str, Variant], env: dict[str, str]) -> dict[str, str]:
    """One start per variant with output captured: nothing may be silently broken."""
    notes = {}
    show = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', ''))"
    for v in variants.values():
        proc = subprocess.run(
            [v.python, "-c", show], env=v.environ(env), capture_output=True, text=True, check=True
        )
        notes[v.name] = proc.stderr.strip()
        if v.name in (OURS, OURS_OS) and not proc.stdout.strip().endswith(".pem"):
            raise SystemExit("%s exported no bundle: %r %r" % (v.name, proc.stdout, proc.stderr))
    return notes


def count_certs(path: Path) -> int:
    return path.read_bytes().count(b"-----BEGIN CERTIFICATE-----")


@dataclass
class OSStore:
    """What the option adds on this machine (for the report), and the bundles with it off and on."""

    cafile: str
    capath: str
    cafile_certs: int
    capath_entries: int
    bundle_off: Path
    bundle_on: Path

    def text(self) -> str:
        return (
            "OpenSSL's default verify paths in the children's environment: CA file `%s` (%d certificates) "
            "and CA directory `%s` (%d entries); the bundle cert-session exports holds %d certificates "
            "with the option off and %d with it on"
            % (
                self.cafile,
                self.cafile_certs,
                self.capath,
                self.capath_entries,
                count_certs(self.bundle_off),
                count_certs(self.bundle_on),
            )
        )


def check_os_store(variants: dict[str, Variant], env: dict[str, str]) -> OSStore:
    """The option must change what the hook exports, or the OS-store timing measures nothing new."""
    show = (
        "import os, ssl; p = ssl.get_default_verify_paths(); "
        "print(os.environ.get('REQUESTS_CA_BUNDLE', '')); print(p.cafile or ''); print(p.capath or '')"
    )
    out = {}
    for name in (OURS, OURS_OS):
        v = variants[name]
        proc = subprocess.run(
            [v.python, "-c", show], env=v.environ(env), capture_output=True, text=True, check=True
        )
        out[name] = proc.stdout.splitlines()
    bundle_off, bundle_on = Path(out[OURS][0]), Path(out[OURS_OS][0])
    cafile, capath = out[OURS_OS][1], out[OURS_OS][2]
    if not cafile and not capath:
        raise SystemExit("OpenSSL names no default CA file or directory here: the OS store is empty")
    if bundle_on == bundle_off or bundle_on.read_bytes() == bundle_off.read_bytes():
        raise SystemExit("%s=1 changed nothing in the exported bundle %s" % (*OS_STORE_ENV, bundle_on))
    return OSStore(
        cafile,
        capath,
        count_certs(Path(cafile)) if cafile else 0,
        len(os.listdir(capath)) if capath else 0,
        bundle_off,
        bundle_on,
    )


def measure_startups(
    variants: dict[str, Variant],
    env: dict[str, str],
    files: dict[str, Path],
    runs: int,
    alt_every: int,
    warmup: int,
) -> dict[str, dict[int, float]]:
    """Start-ups in rounds; returns the rebuild timings (round -> seconds)."""
    ours = variants[OURS]
    # Inputs the package documents: company certificates in cert_session/certs/,
    # and the certifi bundle it merges with.
    (company,) = ours.site_packages.glob("cert_session/certs/" + files["intermediate"].name)
    (certifi_pem,) = ours.site_packages.glob("certifi/cacert.pem")
    one = files["intermediate"].read_bytes()
    two = one + files["second"].read_bytes()
    cache = Path(env["CERT_SESSION_CACHE_DIR"])
    rebuilds: dict[str, dict[int, float]] = {"company": {}, "certifi": {}}
    core = [variants[n] for n in CORE]
    alternatives = [v for v in variants.values() if v.name not in CORE]
    # Other variants of the same installation (the OS store on): a rebuild of
    # the plain variant changes their inputs too, so each is started once,
    # untimed, after the rebuilds, to be steady again in the next round.
    resettle = [v for v in variants.values() if v is not ours and v.python == ours.python]
    orders = list(itertools.permutations(core))
    for r in range(-warmup, runs):
        order = list(orders[r % len(orders)])
        if r >= 0 and r % alt_every == 0:
            k = (r // alt_every) % len(alternatives)
            order += alternatives[k:] + alternatives[:k]
        # Listed before and after the round's steady starts, never between
        # two of them, so no variant's start follows the listing more often.
        before = snapshot(cache)
        for v in order:
            t = spawn([v.python, "-c", "pass"], v.environ(env))
            if r >= 0:
                v.startup[r] = t
        if snapshot(cache) != before:
            raise SystemExit(
                "a steady-state start changed files under %s: not a steady start (round %d)" % (cache, r)
            )
        # Rebuilds: change a real input, then time the first start.
        for kind in ("company", "certifi"):
            before = snapshot(cache)
            if kind == "company":
                company.write_bytes(two if r % 2 == 0 else one)
            else:
                os.utime(certifi_pem)  # what a reinstall of the same certifi looks like
            t = spawn([ours.python, "-c", "pass"], ours.environ(env))
            if snapshot(cache) == before:
                raise SystemExit("a %s change wrote nothing under %s: no rebuild" % (kind, cache))
            if r >= 0:
                rebuilds[kind][r] = t
        for v in resettle:
            spawn([v.python, "-c", "pass"], v.environ(env))
        if r >= 0 and (r + 1) % 50 == 0:
            print("  start-up round %d/%d" % (r + 1, runs), flush=True)
    company.write_bytes(one)
    for v in [ours, *resettle]:
        spawn([v.python, "-c", "pass"], v.environ(env))  # back to steady state
    return rebuilds


def measure_rss(variants: dict[str, Variant], env: dict[str, str], work: Path, runs: int) -> bool:
    """Peak RSS of `python -c pass`, interleaved; False without GNU time."""
    if not os.access("/usr/bin/time", os.X_OK):
        return False
    order = list(variants.values())
    for r in range(runs):
        for v in order[r % len(order) :] + order[: r % len(order)]:
            v.rss.append(peak_rss([v.python, "-c", "pass"], v.environ(env), work / "rss.txt"))
    return True


def connection_files(
    variants: dict[str, Variant], env: dict[str, str], files: dict[str, Path], work: Path
) -> tuple[Path, Path, Path]:
    """The base bundle, the merged bundle the hook builds from it, and the server's chain.

    The loopback server must be trusted by both bundles for a comparison to
    time the same work, so the base is certifi's cacert.pem plus the company
    root, and the server sends leaf + intermediate. The merged file is what
    the hook exports when a start finds ``REQUESTS_CA_BUNDLE`` preset to the base.
    """
    (certifi_pem,) = variants["bare"].site_packages.glob("certifi/cacert.pem")
    base = work / "base-bundle.pem"
    contents = certifi_pem.read_bytes() + b"\n" + files["root"].read_bytes()
    if not base.exists() or base.read_bytes() != contents:  # a second call leaves the file alone
        base.write_bytes(contents)
    proc = subprocess.run(
        [variants[OURS].python, "-c", "import os; print(os.environ['REQUESTS_CA_BUNDLE'])"],
        env=dict(variants[OURS].environ(env), REQUESTS_CA_BUNDLE=str(base)),
        capture_output=True,
        text=True,
        check=True,
    )
    merged = Path(proc.stdout.strip())
    if merged == base or proc.stderr:
        raise SystemExit("the hook did not merge into the preset base: %r" % proc.stderr)
    chain = work / "leaf-and-intermediate.pem"
    chain.write_bytes(files["leaf"].read_bytes() + files["intermediate"].read_bytes())
    return base, merged, chain


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

    base, merged, chain = connection_files(variants, env, files, work)
    candidates = {"base": base, "merged": merged}
    result = {name: Bundle(path) for name, path in candidates.items()}
    bare = variants["bare"]
    with servers.serve_https(chain, files["key"]) as url:
        for r in range(rounds):
            names = list(candidates) if r % 2 == 0 else list(reversed(candidates))
            for name in names:
                out = subprocess.run(
                    [bare.python, "-c", CONNECTION_SCRIPT, url, str(per)],
                    env=dict(bare.environ(env), REQUESTS_CA_BUNDLE=str(candidates[name])),
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split("\n")
                result[name].request[r] = [float(x) for x in out[0].split()]
                result[name].load[r] = [float(x) for x in out[1].split()]
    return result


PRELOAD_SIDES = {
    "plain": "plain requests, same merged bundle",
    "package": "cert-session (preloaded context)",
}


@dataclass
class Preload:
    """New HTTPS connections with cert-session's preloaded context vs plain requests (issue #13)."""

    calls: int  # sequential requests.get per fresh process
    one: dict[str, dict[int, float]]  # side -> pair -> seconds of one requests.get
    sequential: dict[str, dict[int, float]]  # side -> round -> seconds of `calls` requests.get

    @property
    def connection(self) -> Paired:
        return paired(self.one["package"], self.one["plain"])

    @property
    def ok(self) -> bool:
        return self.connection.median <= BUDGET_PRELOAD


def measure_preload(
    variants: dict[str, Variant],
    env: dict[str, str],
    files: dict[str, Path],
    work: Path,
    pairs: int,
    rounds: int,
    calls: int,
) -> Preload:
    """New HTTPS connections with cert-session's preloaded context vs plain requests, same bundle.

    ``package``: the cert-session venv with ``REQUESTS_CA_BUNDLE`` preset to the
    base, so the hook exports the merged bundle and requests gets a context
    loaded once per process. ``plain``: the bare venv (the same requests,
    urllib3 and certifi wheels) with ``REQUESTS_CA_BUNDLE`` set to that same
    merged file, so urllib3 loads it for every new connection. Each pair is one
    ``requests.get`` in each of two long-lived workers, alternating which goes
    first; each round of the sequential test is one fresh process per side.
    """
    from tests.helpers import servers

    base, merged, chain = connection_files(variants, env, files, work)
    ours, bare = variants[OURS], variants["bare"]
    sides = {
        "package": (ours.python, dict(ours.environ(env), REQUESTS_CA_BUNDLE=str(base))),
        "plain": (bare.python, dict(bare.environ(env), REQUESTS_CA_BUNDLE=str(merged))),
    }
    result = Preload(calls, {n: {} for n in sides}, {n: {} for n in sides})
    with servers.serve_https(chain, files["key"]) as url:
        workers = {
            name: subprocess.Popen(
                [python, "-c", PRELOAD_WORKER, url],
                env=e,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name, (python, e) in sides.items()
        }

        def ask(name: str, what: str) -> str:
            proc = workers[name]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(what + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline().strip()
            if not answer:
                raise SystemExit(
                    "preload benchmark: the %s worker died (exit status %s)" % (name, proc.poll())
                )
            return answer

        try:
            for i in range(pairs):
                for name in ("package", "plain") if i % 2 == 0 else ("plain", "package"):
                    result.one[name][i] = float(ask(name, "get"))
            contexts = {name: int(ask(name, "contexts")) for name in sides}
        finally:
            for proc in workers.values():
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(timeout=30)
        # One context in the package's worker (the merged bundle), no preloading in plain requests.
        if contexts != {"package": 1, "plain": -1}:
            raise SystemExit("preload benchmark: unexpected preloaded contexts %r" % contexts)
        for r in range(rounds):
            for name in ("package", "plain") if r % 2 == 0 else ("plain", "package"):
                python, e = sides[name]
                out = subprocess.run(
                    [python, "-c", PRELOAD_SEQUENTIAL, url, str(calls)],
                    env=e,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result.sequential[name][r] = float(out.stdout)
    return result


def venv_of(v: Variant) -> str:
    return str(Path(v.python).parents[1])


def measure_hook_imports(
    ours: Variant, bare: Variant, env: dict[str, str], runs: int
) -> tuple[set[str], float]:
    """Modules a cert-session start imports beyond a bare one (whatever their names), and their
    median total self time (µs). The baseline is the bare venv, not the package's off switch:
    with a plain ``import`` line in the .pth the hook's module loads even when switched off."""

    def modules(v: Variant) -> dict[str, int]:
        proc = subprocess.run(
            [v.python, "-X", "importtime", "-c", "pass"],
            env=v.environ(env),
            capture_output=True,
            text=True,
            check=True,
        )
        found = {}
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "imported package" not in line:
                fields = line[len("import time:") :].split("|")
                found[fields[2].strip()] = int(fields[0])
        return found

    added = set(modules(ours)) - set(modules(bare))
    selfs = []
    for _ in range(runs):
        found = modules(ours)
        selfs.append(sum(found.get(name, 0) for name in added))
    return added, statistics.median(selfs)


def shown(line: str, venv: str) -> str:
    """An strace line without what differs between two runs of the same program.

    Addresses differ (ASLR), descriptor numbers shift by one while the .pth
    file is open, and each run has its own venv: all become placeholders.
    """
    line = line.replace(venv, "<venv>")
    line = re.sub(r"0x[0-9a-f]+", "0x…", line)
    line = re.sub(r"^(\w+)\(\d+(?=[,)])", r"\1(fd", line)
    if line.startswith("openat("):
        line = re.sub(r"= \d+$", "= fd", line)
    return line


def comparable(line: str, venv: str) -> str:
    """``shown`` without sizes and entry counts either, which differ with the venv's path and files."""
    line = shown(line, venv)
    line = re.sub(r"st_size=\d+", "st_size=…", line)
    line = re.sub(r"/\* \d+ entries \*/", "/* … entries */", line)
    if line.startswith(("read(", "getdents64(")):
        line = re.sub(r"(, \d+\) += )\d+$", r"\1…", line)
    return line


def strace_profile(
    ours: Variant, bare: Variant, env: dict[str, str], work: Path
) -> tuple[dict[str, tuple[int, int]], list[str]] | None:
    """Syscall counts of a ``bare`` and an ``ours`` start (any two variants), and the calls ``ours`` adds."""
    if not shutil.which("strace"):
        return None
    counts = {}
    traces: dict[str, list[str]] = {}
    for label, v in (("on", ours), ("off", bare)):
        stem = re.sub(r"[^\w.-]+", "_", v.name)
        summary = work / ("strace-c-%s-%s.txt" % (label, stem))
        trace = work / ("strace-%s-%s.txt" % (label, stem))
        subprocess.run(
            ["strace", "-c", "-o", str(summary), v.python, "-c", "pass"], env=v.environ(env), check=True
        )
        subprocess.run(
            [
                "strace",
                "-e",
                "trace=%file,read,close,fstat,getdents64",
                "-o",
                str(trace),
                v.python,
                "-c",
                "pass",
            ],
            env=v.environ(env),
            check=True,
        )
        table = {}
        for line in summary.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                table[parts[-1]] = int(parts[3])
        counts[label] = table
        traces[label] = [x for x in trace.read_text().splitlines() if not x.startswith("execve(")]
    names = sorted(set(counts["on"]) | set(counts["off"]))
    diff = {n: (counts["off"].get(n, 0), counts["on"].get(n, 0)) for n in names}
    # The calls of the cert-session start that a sequence diff cannot match
    # in the bare start, compared without sizes, shown with them.
    on = [comparable(x, venv_of(ours)) for x in traces["on"]]
    off = [comparable(x, venv_of(bare)) for x in traces["off"]]
    added = []
    for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(None, off, on, autojunk=False).get_opcodes():
        if tag in ("insert", "replace"):
            added += [shown(x, venv_of(ours)) for x in traces["on"][j1:j2]]
    return diff, added


# --------------------------------------------------------------------------
# Reporting


def machine(python: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # The children's interpreter, which is what was timed.
    child = subprocess.run(
        [python, "-I", "-S", "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "Python": child,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def loadavg() -> str:
    try:
        return "%.2f / %.2f / %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def paired_diff_ms(num: dict[int, float], den: dict[int, float]) -> float:
    return statistics.median(num[r] - den[r] for r in num if r in den) * 1000


@dataclass
class Results:
    variants: dict[str, Variant]
    rebuilds: dict[str, dict[int, float]]
    conn: dict[str, Bundle]
    preload: Preload

    def startups(self) -> list[tuple[str, str, dict[int, float]]]:
        """(label, description, round -> seconds) of every kind of start, cheapest kinds first."""
        v = self.variants
        out = [
            ("bare", "requests + certifi, no start-up hook", v["bare"].startup),
            (FLOOR, "bare + a `.pth` that is one plain `import` of an empty module", v[FLOOR].startup),
            ("cert-session", "steady state", v[OURS].startup),
            ("cert-session", "steady state, OS store on (`CERT_SESSION_OS_STORE=1`)", v[OURS_OS].startup),
            ("cert-session", "rebuild: company certificate changed", self.rebuilds["company"]),
            ("cert-session", "rebuild: certifi's cacert.pem touched", self.rebuilds["certifi"]),
        ]
        out += [(n, "alternative", v[n].startup) for n in ALTERNATIVES]
        return out

    @property
    def steady(self) -> Paired:
        return paired(self.variants[OURS].startup, self.variants[FLOOR].startup)

    @property
    def steady_ok(self) -> bool:
        return self.steady.median <= BUDGET_STEADY_VS_FLOOR

    @property
    def steady_os(self) -> Paired:
        return paired(self.variants[OURS_OS].startup, self.variants[FLOOR].startup)

    @property
    def steady_os_ok(self) -> bool:
        return self.steady_os.median <= BUDGET_OS_STORE_VS_FLOOR

    def headline(self) -> str:
        v = self.variants
        s = self.steady
        low, high = s.bootstrap()
        q1, q3 = s.iqr
        return (
            "**A steady cert-session start costs %.3f× the floor** (median of %d paired ratios "
            "cert-session / floor, each pair timed in the same round; interquartile range %.3f–%.3f; "
            "bootstrap 95%% interval of the median %.3f–%.3f; median difference %+.2f ms). "
            "Budget ≤ %.3f×: %s.\n\n"
            "Medians: bare %.2f ms, floor %.2f ms, cert-session %.2f ms. "
            "Paired: cert-session / bare %s, floor / bare %s.\n\n"
            "**With the OS trust store on (`CERT_SESSION_OS_STORE=1`, issue #12), a steady start costs %.3f× "
            "the floor** (median of %d paired ratios, IQR %.3f–%.3f; median difference %+.2f ms). "
            "Budget ≤ %.3f×: %s. Doing the same job at every start: %s."
            % (
                s.median,
                s.n,
                q1,
                q3,
                low,
                high,
                paired_diff_ms(v[OURS].startup, v[FLOOR].startup),
                BUDGET_STEADY_VS_FLOOR,
                verdict(self.steady_ok),
                median_ms(v["bare"].startup),
                median_ms(v[FLOOR].startup),
                median_ms(v[OURS].startup),
                paired(v[OURS].startup, v["bare"].startup).text(),
                paired(v[FLOOR].startup, v["bare"].startup).text(),
                self.steady_os.median,
                self.steady_os.n,
                *self.steady_os.iqr,
                paired_diff_ms(v[OURS_OS].startup, v[FLOOR].startup),
                BUDGET_OS_STORE_VS_FLOOR,
                verdict(self.steady_os_ok),
                ", ".join(
                    "%s %s bare (%.2f ms)"
                    % (n, paired(v[n].startup, v["bare"].startup).text(), median_ms(v[n].startup))
                    for n in ALTERNATIVES
                ),
            )
        )

    def startup_table(self) -> str:
        floor, bare = self.variants[FLOOR].startup, self.variants["bare"].startup
        out = [
            "| `python -c pass` | | median | vs floor (paired median, IQR) | − floor (paired median) "
            "| vs bare (paired median, IQR) | runs |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for label, what, times in self.startups():
            out.append(
                "| %s | %s | %.2f ms | %s | %+.2f ms | %s | %d |"
                % (
                    "**%s**" % label if label == FLOOR else label,
                    what,
                    median_ms(times),
                    paired(times, floor).text(),
                    paired_diff_ms(times, floor),
                    paired(times, bare).text(),
                    len(times),
                )
            )
        return "\n".join(out) + "\n"

    def budget_rows(self) -> list[tuple[str, str, str, bool, int]]:
        v = self.variants
        rows = [
            (
                "steady start / floor (paired, median)",
                self.steady.text(bootstrap=True),
                "≤ %.3f×" % BUDGET_STEADY_VS_FLOOR,
                self.steady_ok,
                self.steady.n,
            ),
            (
                "cert-session, OS store on / floor: steady start with `CERT_SESSION_OS_STORE=1` "
                "(paired, median)",
                self.steady_os.text(bootstrap=True),
                "≤ %.3f×" % BUDGET_OS_STORE_VS_FLOOR,
                self.steady_os_ok,
                self.steady_os.n,
            ),
        ]
        for kind, what in (
            ("company", "company certificate changed"),
            ("certifi", "certifi's cacert.pem touched"),
        ):
            p = paired(self.rebuilds[kind], v["bare"].startup)
            rows.append(
                (
                    "rebuild (%s) / bare (paired, median)" % what,
                    "%s, %.2f ms" % (p.text(), median_ms(self.rebuilds[kind])),
                    "≤ %.0f×" % BUDGET_REBUILD,
                    p.median <= BUDGET_REBUILD,
                    p.n,
                )
            )
        c = paired(self.conn["merged"].per_round("request"), self.conn["base"].per_round("request"))
        rows.append(
            (
                "new HTTPS connection, merged / base bundle (paired per round, median)",
                c.text(),
                "≤ %.2f×" % BUDGET_CONNECTION,
                c.median <= BUDGET_CONNECTION,
                len(self.conn["merged"].all("request")),
            )
        )
        p = self.preload.connection
        rows.append(
            (
                "new HTTPS connection (requests.get, one new session each), cert-session's preloaded context "
                "/ plain requests with the same merged bundle (paired, median)",
                p.text(),
                "≤ %.1f×" % BUDGET_PRELOAD,
                self.preload.ok,
                p.n,
            )
        )
        if v["bare"].rss:
            extra = statistics.median(v[OURS].rss) - statistics.median(v["bare"].rss)
            rows.append(
                (
                    "peak RSS, cert-session − bare (medians)",
                    "%+.0f KiB" % extra,
                    "≤ +%d KiB" % BUDGET_RSS_KIB,
                    extra <= BUDGET_RSS_KIB,
                    len(v[OURS].rss),
                )
            )
        return rows

    def budget_table(self) -> str:
        out = ["| budget | measured | limit | result | runs |", "|---|---:|---|---|---:|"]
        out += [
            "| %s | %s | %s | %s | %d |" % (a, b, c, verdict(ok), n) for a, b, c, ok, n in self.budget_rows()
        ]
        return "\n".join(out) + "\n"

    def preload_table(self) -> str:
        pre = self.preload
        out = [
            "| measurement | variant | median | vs plain requests (paired median, IQR) | budget | result | runs |",
            "|---|---|---:|---:|---|---|---:|",
        ]
        for what, times, fmt in (
            ("new HTTPS connection (requests.get, one new session each)", pre.one, "%.2f ms"),
            (
                "%d sequential requests.get to one host, in a fresh process" % pre.calls,
                pre.sequential,
                "%.1f ms",
            ),
        ):
            for side, label in PRELOAD_SIDES.items():
                budget = side == "package" and times is pre.one
                out.append(
                    "| %s | %s | %s | %s | %s | %s | %d |"
                    % (
                        what,
                        label,
                        fmt % median_ms(times[side]),
                        paired(times[side], times["plain"]).text(),
                        "≤ %.1f×" % BUDGET_PRELOAD if budget else "",
                        verdict(pre.ok) if budget else "",
                        len(times[side]),
                    )
                )
        return "\n".join(out) + "\n"

    def detail_tables(self) -> str:
        out = [
            "| per new HTTPS connection | CA file | median `requests.get` | median CA load "
            "(`load_verify_locations`) | samples |",
            "|---|---|---:|---:|---:|",
        ]
        for name, what in (("base", "certifi + company root"), ("merged", "what cert-session built from it")):
            b = self.conn[name]
            out.append(
                "| %s (%s) | %d certs, %d bytes | %.2f ms | %.2f ms | %d |"
                % (
                    name,
                    what,
                    b.certs,
                    b.size,
                    median_ms(b.all("request")),
                    median_ms(b.all("load")),
                    len(b.all("request")),
                )
            )
        v = self.variants
        if v["bare"].rss:
            bare_rss = statistics.median(v["bare"].rss)
            out += ["", "| peak RSS of `python -c pass` | median | vs bare | runs |", "|---|---:|---:|---:|"]
            for x in v.values():
                m = statistics.median(x.rss)
                out.append("| %s | %.0f KiB | %+.0f KiB | %d |" % (x.name, m, m - bare_rss, len(x.rss)))
        return "\n".join(out) + "\n"


def chart(res: Results, path: Path, title: str) -> None:
    import matplotlib  # type: ignore[import-not-found]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found]

    floor = res.variants[FLOOR].startup
    bare_ms = median_ms(res.variants["bare"].startup)
    floor_ms = median_ms(floor)

    def short(label: str, what: str) -> str:
        if label != "cert-session":
            return label
        if what == "steady state":
            return "cert-session (steady)"
        if what.startswith("steady state, OS store on"):
            return "cert-session (steady, OS store on)"
        return "cert-session (rebuild: %s)" % ("company cert" if "company" in what else "certifi touched")

    entries = [(short(label, what), what, times) for label, what, times in res.startups()]
    entries.sort(key=lambda e: median_ms(e[2]), reverse=True)

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 6.8), dpi=120, gridspec_kw={"height_ratios": [len(entries), 3.6]}
    )
    names = [e[0] for e in entries]
    values = [median_ms(e[2]) for e in entries]
    colors = [
        "#4c72b0"
        if n.startswith("cert-session")
        else "#555555"
        if n == FLOOR
        else "#aaaaaa"
        if n == "bare"
        else "#dd8452"
        for n in names
    ]
    bars = top.barh(names, values, color=colors)
    for bar, (_name, _what, times) in zip(bars, entries):
        top.text(
            bar.get_width() * 1.04,
            bar.get_y() + bar.get_height() / 2,
            "%.2f ms, %.3f× floor" % (median_ms(times), paired(times, floor).median),
            va="center",
            fontsize=7.5,
        )
    top.set_ylim(-0.6, len(entries) + 0.1)
    top.set_xscale("log")
    top.set_xlim(min(values) * 0.8, max(values) * 5)
    top.axvline(floor_ms, color="#333333", linestyle="--", linewidth=1)
    top.text(floor_ms, len(entries) - 0.5, " floor %.2f ms" % floor_ms, fontsize=7, va="bottom")
    top.axvline(bare_ms * BUDGET_REBUILD, color="#c44e52", linestyle=":", linewidth=1)
    top.text(
        bare_ms * BUDGET_REBUILD,
        len(entries) - 0.5,
        " rebuild budget (%.0f× bare)" % BUDGET_REBUILD,
        color="#c44e52",
        fontsize=7,
        va="bottom",
    )
    top.set_xlabel("median wall time of `python -c pass` (ms, log scale)", fontsize=8)
    top.tick_params(labelsize=8)
    top.set_title(title, fontsize=9)

    # Close-up: per-round ratios to the floor of the cheap starts, each with its budget.
    close = [
        ("cert-session (steady)", res.variants[OURS].startup, BUDGET_STEADY_VS_FLOOR),
        ("cert-session, OS store on", res.variants[OURS_OS].startup, BUDGET_OS_STORE_VS_FLOOR),
        ("bare", res.variants["bare"].startup, None),
    ]
    data = [paired(t, floor).ratios for _, t, _ in close]
    horizontal = (
        {"orientation": "horizontal"}
        if "orientation" in inspect.signature(bottom.boxplot).parameters
        else {"vert": False}  # matplotlib < 3.10
    )
    bottom.boxplot(data, widths=0.5, showfliers=False, medianprops={"color": "#c44e52"}, **horizontal)
    bottom.set_yticks(range(1, len(close) + 1), ["%s / floor" % n for n, _, _ in close], fontsize=8)
    bottom.axvline(1.0, color="#333333", linestyle="--", linewidth=1)
    ymax = len(close) + 0.45
    bottom.text(1.0, ymax, "floor ", fontsize=7, va="bottom", ha="right")
    for i, (_n, _t, budget) in enumerate(close, 1):
        if budget is None:
            continue
        bottom.plot([budget, budget], [i - 0.3, i + 0.3], color="#c44e52", linestyle=":", linewidth=1.2)
        bottom.text(budget, i - 0.3, " budget %.3f×" % budget, color="#c44e52", fontsize=7, va="top")
    for i, ratios in enumerate(data, 1):
        bottom.text(
            statistics.median(ratios), i + 0.28, "%.3f×" % statistics.median(ratios), fontsize=7, ha="center"
        )
    bottom.set_ylim(0.5, len(close) + 0.9)
    bottom.set_xlabel(
        "ratio to the floor's start in the same round (box: interquartile range, whiskers: 1.5 IQR; %d rounds)"
        % res.steady.n,
        fontsize=8,
    )
    bottom.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def update_readme(readme: Path, blocks: dict[tuple[str, str], list[str]]) -> None:
    """Replace what lies between each (begin, end) pair of markers; every pair must occur once."""
    text = readme.read_text()
    for (begin, end), block in blocks.items():
        if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
            raise SystemExit("README.md has no generated block (%r ... %r)" % (begin, end))
        head, rest = text.split(begin)
        _, tail = rest.split(end)
        text = head + begin + "\n" + "\n".join(block) + "\n" + end + tail
    readme.write_text(text)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=300,
        help="rounds of start-ups: bare, floor and cert-session start once each per round (default 300)",
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds before the first timed one")
    parser.add_argument("--alt-every", type=int, default=4, help="the slow alternatives run every n-th round")
    parser.add_argument(
        "--conn-rounds", type=int, default=20, help="child processes per bundle for the connection test"
    )
    parser.add_argument("--conn-requests", type=int, default=25, help="new connections timed per child")
    parser.add_argument(
        "--preload-pairs",
        type=int,
        default=300,
        help="paired new connections, cert-session's preloaded context vs plain requests (default 300)",
    )
    parser.add_argument(
        "--preload-rounds", type=int, default=10, help="fresh processes per side for the sequential calls"
    )
    parser.add_argument(
        "--preload-calls", type=int, default=100, help="sequential requests.get per fresh process"
    )
    parser.add_argument("--rss-runs", type=int, default=30, help="peak-RSS samples per variant (GNU time)")
    parser.add_argument("--out", type=Path, default=BENCH, help="where results.md and startup.png go")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also rewrite the generated block in README.md's Performance section",
    )
    args = parser.parse_args(raw)
    if min(args.runs, args.alt_every, args.preload_pairs, args.preload_rounds, args.preload_calls) < 1:
        parser.error("--runs, --alt-every and the --preload-* options must be at least 1")
    if args.readme and args.runs < MIN_RUNS:
        parser.error("--readme needs --runs >= %d: the README shows only full runs" % MIN_RUNS)
    if args.readme and args.preload_pairs < MIN_PRELOAD_PAIRS:
        parser.error(
            "--readme needs --preload-pairs >= %d: the README shows only full runs" % MIN_PRELOAD_PAIRS
        )
    ensure_tools_and_reexec(raw)
    sys.path.insert(0, str(REPO))  # tests.helpers: the same real parts the test suite uses
    from tests.helpers.env import clean_env

    started = time.monotonic()
    load_before = loadavg()
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(
            "warning: load average %s on %s cores: other work will blur the timings"
            % (load_before, os.cpu_count())
        )
    work = VENVS / "work"
    home = VENVS / "home"
    shutil.rmtree(home, ignore_errors=True)
    variants, files, _chosen = build_variants(work, home)
    # A user's start: no preset CA variables, bytecode written as usual.
    env = clean_env(home, PYTHONDONTWRITEBYTECODE=None)
    os.chdir(home)  # never the checkout: `-c` puts the cwd on sys.path
    notes = check_outputs(variants, env)  # also each variant's first start: its state is built
    os_store = check_os_store(variants, env)

    print("timing start-ups: %d rounds after %d warm-up rounds ..." % (args.runs, args.warmup), flush=True)
    rebuilds = measure_startups(variants, env, files, args.runs, args.alt_every, args.warmup)
    print("timing new HTTPS connections ...", flush=True)
    conn = measure_connections(variants, env, files, work, args.conn_rounds, args.conn_requests)
    print("timing preloaded CA contexts ...", flush=True)
    preload = measure_preload(
        variants, env, files, work, args.preload_pairs, args.preload_rounds, args.preload_calls
    )
    print("profiling the steady-state hook ...", flush=True)
    added_modules, hook_self_us = measure_hook_imports(variants[OURS], variants["bare"], env, 30)
    syscalls = strace_profile(variants[OURS], variants["bare"], env, work)
    os_syscalls = strace_profile(variants[OURS_OS], variants[OURS], env, work)
    print("measuring peak RSS ...", flush=True)
    if not measure_rss(variants, env, work, args.rss_runs):
        print("  /usr/bin/time (GNU time) is missing: no memory figures")

    res = Results(variants, rebuilds, conn, preload)
    info = machine(variants["bare"].python)
    load_after = loadavg()
    elapsed = time.monotonic() - started
    installed = versions(variants[OURS].site_packages)
    alt_versions = {n: versions(variants[n].site_packages).get(n, "?") for n in ALTERNATIVES}
    pth = added_pth_lines(variants["bare"].site_packages, variants[OURS].site_packages)
    command = "python3 benchmarks/run.py" + "".join(" " + a for a in raw)
    machine_line = (
        "Machine: %s, %s cores, Python %s, Linux %s; load average (1/5/15 min) %s before, %s after."
        % (
            info["CPU"],
            info["cores"],
            info["Python"],
            info["kernel"],
            load_before,
            load_after,
        )
    )
    generated = "Generated by `%s` (%.0f s in all) on %s." % (command, elapsed, info["date"])

    out = ["# Benchmarks", "", generated, "", machine_line, ""]
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
        res.headline(),
        "",
        *(
            ["**A quick look: %d rounds, fewer than the %d the headline needs.**" % (args.runs, MIN_RUNS), ""]
            if args.runs < MIN_RUNS
            else []
        ),
        *(
            [
                "**A quick look: %d preload pairs, fewer than the %d the preload budget needs.**"
                % (args.preload_pairs, MIN_PRELOAD_PAIRS),
                "",
            ]
            if args.preload_pairs < MIN_PRELOAD_PAIRS
            else []
        ),
        "How it measures:",
        "",
        "- Start-ups are timed in rounds in one invocation (%d timed rounds after %d untimed warm-up rounds). "
        "Every round starts %s once each, in an order that cycles through all %d "
        "permutations; every %d-th round then starts the alternatives; every round ends with the two rebuilds "
        "(and one untimed start with the OS store on, whose inputs the rebuilds changed too, so that its next "
        "start is steady again). "
        "A ratio is the median over rounds of one start divided by the other start of the same round (paired), "
        "so drift on the machine cancels; the interval is a percentile bootstrap (%d resamples) of that median."
        % (
            args.runs,
            args.warmup,
            ", ".join("`%s`" % n for n in CORE),
            len(list(itertools.permutations(CORE))),
            args.alt_every,
            BOOTSTRAP_RESAMPLES,
        ),
        "- `%s` (issue #12) is the cert-session venv started with `%s` in its environment: the OS trust "
        "store is merged into the bundle, the same job pip-system-certs and certifi-linux do. %s. Its state is "
        "built by an untimed start before the first round, and its steady starts are checked like the others."
        % (OURS_OS, " ".join("%s=%s" % kv for kv in OS_STORE_ENV.items()), os_store.text()),
        "- `bare` has the same requests and certifi and no CA package. `floor` is bare plus exactly one `.pth` "
        "file whose one line is `import %s`, and that empty module (compiled): the least any `.pth` start-up "
        "hook can cost. The script checks that the floor venv differs from bare by these files only."
        % FLOOR_MODULE,
        "- The `.pth` cert-session installs: %s."
        % (
            "; ".join(
                "`%s`: `%s`" % (n, line[:160] + ("…" if len(line) > 160 else "")) for n, line in pth.items()
            )
            or "none"
        ),
        "- A rebuild is the first start after a real input change: the company certificate file is rewritten "
        "with different certificates, or certifi's cacert.pem gets a new mtime (as a reinstall does). Each is "
        "checked to have written something under `CERT_SESSION_CACHE_DIR`, and every timed steady start to "
        "have written nothing there.",
        "- New HTTPS connection: plain `requests.get` (a new session, pool and TLS connection, so urllib3 "
        "re-reads the CA file) against a loopback server that sends leaf + intermediate, in the bare venv "
        "with `REQUESTS_CA_BUNDLE` set to the base bundle (certifi's cacert.pem plus the throwaway company "
        "root, so both files trust the server) or to the merged bundle the hook builds from that base; %d "
        "child processes per bundle, alternating, %d connections each; the ratio pairs the two children of "
        "each round." % (args.conn_rounds, args.conn_requests),
        "- Preloaded CA contexts (issue #13): `requests.get` (a new session and pool each call) to the same "
        "loopback server, in two long-lived workers answering alternately, %d pairs: the cert-session venv "
        "with `REQUESTS_CA_BUNDLE` preset to the base bundle (so requests gets the merged bundle as a context "
        "loaded once per process; the worker is checked to hold exactly one), and the bare venv with "
        "`REQUESTS_CA_BUNDLE` set to that same merged file (urllib3 loads it for every new connection). The "
        "ratio is the median of the per-pair ratios. The sequential rows time %d calls in a fresh process "
        "after `import requests`, first call included; %d rounds, one process per side each, alternating "
        "which goes first." % (args.preload_pairs, args.preload_calls, args.preload_rounds),
        "- Peak RSS comes from GNU time (`/usr/bin/time -f %M`), in separate runs.",
        "",
        "## Budgets",
        "",
        res.budget_table(),
        "## Start-ups",
        "",
        res.startup_table(),
        "![start-up cost](startup.png)",
        "",
        "## Connections and memory",
        "",
        res.detail_tables(),
        "## New HTTPS connections with preloaded CA contexts",
        "",
        res.preload_table(),
        "## What the hook does in steady state",
        "",
        "- Modules a cert-session start imports beyond a bare start (`-X importtime`): %s; "
        "median total self time %.0f µs."
        % (", ".join("`%s`" % m for m in sorted(added_modules)) or "none", hook_self_us),
    ]
    if syscalls is not None:
        diff, added = syscalls
        changed = {n: c for n, c in diff.items() if c[0] != c[1]}
        out += [
            "- Syscalls (`strace -c`), bare → cert-session: %s."
            % (", ".join("%s %d → %d" % (n, a, b) for n, (a, b) in changed.items()) or "no difference"),
            "- File and descriptor calls a cert-session start adds to a bare one "
            "(`strace -e trace=%file,read,close,fstat,getdents64`; `<venv>` is each run's own venv):",
            "",
            "```",
            *[re.sub(r"/\S*/\.venvs/", ".venvs/", line) for line in added],
            "```",
        ]
    if os_syscalls is not None:
        diff, added = os_syscalls
        changed = {n: c for n, c in diff.items() if c[0] != c[1]}
        out += [
            "- Syscalls (`strace -c`), steady cert-session → the same with the OS store on: %s."
            % (", ".join("%s %d → %d" % (n, a, b) for n, (a, b) in changed.items()) or "no difference"),
            "- File and descriptor calls of a steady start with the OS store on that a steady start without it "
            "does not make (the same trace):",
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
    title = "Start-up cost per Python process (%s, %s cores, Python %s; %d rounds)" % (
        info["CPU"],
        info["cores"],
        info["Python"],
        args.runs,
    )
    chart(res, args.out / "startup.png", title)
    if args.readme:
        block = [
            "",
            "Last run: `%s` (%.0f s in all) on %s." % (command, elapsed, info["date"]),
            machine_line,
            "",
            res.headline(),
            "",
            res.budget_table(),
            res.startup_table(),
            "![start-up cost](benchmarks/startup.png)",
            "",
        ]
        preload_block = [
            "",
            "From the same run as the Performance block above (`%s`, %s): %d pairs of new connections, "
            "%d rounds of %d sequential calls."
            % (command, info["date"], args.preload_pairs, args.preload_rounds, args.preload_calls),
            "",
            res.preload_table(),
        ]
        update_readme(
            REPO / "README.md",
            {(README_BEGIN, README_END): block, (README_PRELOAD_BEGIN, README_PRELOAD_END): preload_block},
        )

    print()
    print(res.headline())
    print()
    print(res.budget_table())
    print(res.startup_table())
    print(res.detail_tables())
    print(res.preload_table())
    print("\n".join(out[out.index("## What the hook does in steady state") + 2 :]))
    print(
        "\nwrote %s and %s%s"
        % (
            args.out / "results.md",
            args.out / "startup.png",
            " and README.md" if args.readme else "",
        )
    )
    return 0 if all(ok for *_, ok, _ in res.budget_rows()) else 1  # the OS-store budget is one of the rows


if __name__ == "__main__":
    sys.exit(main())
