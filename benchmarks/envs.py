"""The environments every measurement runs in, built once per invocation.

- A tooling venv (``benchmarks/.venvs/tools``: matplotlib, trustme,
  cryptography, setuptools, wheel) is made on first use from the package
  registry, and ``python -m benchmarks`` re-runs itself inside it.
- Side-by-side venvs under ``benchmarks/.venvs/`` get identical requests,
  certifi and pip wheels: ``bare``; ``floor`` (bare plus a one-line ``.pth``,
  ``import empty_startup_module``, and that empty module: the least any
  ``.pth`` start-up hook can cost); ``cert-session`` (this checkout built as a
  wheel, a throwaway trustme root and intermediate in cert_session/certs/).
  ``cert-session, OS store on`` is the same venv started with
  ``CERT_SESSION_OS_STORE=1``. The alternatives (pip-system-certs,
  certifi-linux) are built only for the OS-store measurement.

Children never run from the checkout and get a clean environment
(tests/helpers/env.py), so this machine's preset CA variables play no part.
The package's defaults (its targets, for one) are whatever the wheel ships.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / "benchmarks" / ".venvs"
TOOLS = VENVS / "tools"
TOOL_REQUIREMENTS = ["matplotlib", "trustme", "cryptography", "certifi", "setuptools>=70.1", "wheel"]
ALTERNATIVES = {  # pinned to the releases issue #12 measured; the latest if a pin is gone
    "pip-system-certs": ("pip-system-certs==5.3", "pip-system-certs"),
    "certifi-linux": ("certifi-linux==1.1", "certifi-linux"),
}
BARE, FLOOR, OURS, OURS_OS = "bare", "floor", "cert-session", "cert-session, OS store on"
FLOOR_MODULE = "empty_startup_module"  # tests/helpers/venvs.py writes it
OS_STORE_ENV = {"CERT_SESSION_OS_STORE": "1"}


def ensure_tools_and_reexec(argv: list[str]) -> None:
    """Run ``python -m benchmarks`` inside the tooling venv (created once)."""
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
    os.chdir(REPO)
    os.execv(str(python), [str(python), "-m", "benchmarks", *argv])  # noqa: S606 (our own venv)


@dataclass
class Variant:
    name: str
    python: str
    site_packages: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, common: dict[str, str], **more: str) -> dict[str, str]:
        """What every start of this variant gets: the common environment, its own variables, ``more``."""
        return dict(common, **self.extra_env, **more)


@dataclass
class World:
    variants: dict[str, Variant]
    files: dict[str, Path]  # root, intermediate, second (another issuing CA), leaf, key
    env: dict[str, str]  # the common child environment: a user's start, no CA variables
    work: Path
    versions: dict[str, str]

    def __getitem__(self, name: str) -> Variant:
        return self.variants[name]

    def settle(self, *names: str) -> None:
        """One untimed start of each: its state is built, so the next start is steady."""
        for name in names or tuple(self.variants):
            v = self.variants[name]
            proc = subprocess.run([v.python, "-c", "pass"], env=v.env(self.env), cwd=self.env["HOME"],
                                  capture_output=True, text=True)
            if proc.returncode != 0 or proc.stderr:
                raise SystemExit("%s does not start cleanly: %s" % (name, proc.stderr[-2000:]))


def _download(wheelhouse: Path, specs: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), *specs], check=True)


def _venv(name: str, wheelhouse: Path, env: dict[str, str], *extra: str) -> Variant:
    from tests.helpers.venvs import make_venv

    path = VENVS / name
    shutil.rmtree(path, ignore_errors=True)
    venv = make_venv(path)
    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "requests", "certifi", "pip", *extra)
    return Variant(name, venv.python, venv.site_packages)


def build(alternatives: bool) -> World:
    """Wheels, the throwaway PKI, and the venvs (the alternatives only if asked for)."""
    from tests.helpers import pki, wheels
    from tests.helpers.env import clean_env
    from tests.helpers.venvs import Venv, add_floor_hook

    work, home, wheelhouse = VENVS / "work", VENVS / "home", VENVS / "wheelhouse"
    for path in (work, home, wheelhouse):
        shutil.rmtree(path, ignore_errors=True)
    work.mkdir(parents=True)
    print("downloading wheels and building the cert-session wheel ...", flush=True)
    _download(wheelhouse, ["requests", "certifi", "pip"])
    chain = pki.make_chain(work / "pki", "company")
    second = work / "pki" / "second-intermediate.pem"
    chain.root.create_child_ca().cert_pem.write_to_path(str(second))
    wheel = wheels.build_project_wheel(work / "build", [chain.root_pem, chain.intermediate_pem], work / "dist")
    env = clean_env(home, PYTHONDONTWRITEBYTECODE=None)  # a user's start: bytecode written as usual
    variants = {BARE: _venv(BARE, wheelhouse, env), FLOOR: _venv(FLOOR, wheelhouse, env)}
    add_floor_hook(Venv(VENVS / FLOOR))
    check_floor(variants[BARE].site_packages, variants[FLOOR].site_packages)
    ours = variants[OURS] = _venv(OURS, wheelhouse, env, str(wheel))
    variants[OURS_OS] = Variant(OURS_OS, ours.python, ours.site_packages, dict(OS_STORE_ENV))
    if alternatives:
        for name, specs in ALTERNATIVES.items():
            for spec in specs:
                if subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), spec],
                                  capture_output=True).returncode == 0:
                    variants[name] = _venv(name, wheelhouse, env, spec)
                    break
            else:
                print("%s: no wheel to download, left out" % name)
    files = {"root": chain.root_pem, "intermediate": chain.intermediate_pem, "second": second,
             "leaf": chain.leaf_pem, "key": chain.leaf_key}
    world = World(variants, files, env, work, versions(ours.site_packages))
    for name in [n for n in ALTERNATIVES if n in variants]:
        world.versions[name] = versions(variants[name].site_packages).get(name, "?")
    world.settle()
    return world


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}


def check_floor(bare: Path, floor: Path) -> None:
    """The floor venv is the bare one plus exactly the .pth, the empty module and its .pyc."""
    extra, missing = _tree(floor) - _tree(bare), _tree(bare) - _tree(floor)
    pyc = {p for p in extra if re.fullmatch(r"__pycache__/%s\.[\w-]+\.pyc" % FLOOR_MODULE, p)}
    if missing or extra - pyc != {FLOOR_MODULE + ".py", FLOOR_MODULE + ".pth"} or len(pyc) != 1:
        raise SystemExit("the floor venv is not bare + one .pth: extra %s, missing %s" % (extra, missing))


def versions(site_packages: Path) -> dict[str, str]:
    out = {}
    for info in site_packages.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[name.lower().replace("_", "-")] = version
    return out
