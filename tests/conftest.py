"""Session-wide real parts: PKIs, loopback HTTPS servers, wheels, venvs.

Each wheel and venv is built once per session and reused; tests that change
an environment (upgrade certifi, uninstall) make their own from these parts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import pki, servers, wheels
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv, add_floor_hook, make_venv

REQUESTS_SPEC = "requests"
CERTIFI_WITH_ROOT = "3000.1.1"  # Mozilla + company root
CERTIFI_WITH_NEW_ROOT = "3000.2.1"  # ... + a root added in a later release
CERTIFI_WITHOUT_ROOT = "3000.3.1"  # Mozilla only: the company root was dropped
OLDEST_REQUESTS = "2.28.2"


class World:
    """Everything a test may need, built once."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.company = pki.make_chain(base / "pki", "company")  # root in certifi, intermediate is the company cert
        self.newroot = pki.make_chain(base / "pki", "newroot", intermediate=False)
        self.private = pki.make_chain(base / "pki", "private", intermediate=False)  # trusted only by a preset bundle
        self.urls: dict[str, str] = {}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("world"))
    with servers.serve_https(w.company.leaf_pem, w.company.leaf_key) as company_url, servers.serve_https(
        w.newroot.leaf_pem, w.newroot.leaf_key
    ) as newroot_url, servers.serve_https(w.private.leaf_pem, w.private.leaf_key) as private_url:
        w.urls = {"company": company_url, "newroot": newroot_url, "private": private_url}
        yield w


@pytest.fixture(scope="session")
def wheelhouse(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requests and its dependencies from the registry, plus stand-in certifi releases."""
    house = wheels.download(tmp_path_factory.mktemp("wheelhouse"), REQUESTS_SPEC)
    for stray in house.glob("certifi-*.whl"):
        stray.unlink()
    wheels.build_certifi_wheel(house, CERTIFI_WITH_ROOT, [world.company.root_pem])
    wheels.build_certifi_wheel(house, CERTIFI_WITH_NEW_ROOT, [world.company.root_pem, world.newroot.root_pem])
    wheels.build_certifi_wheel(house, CERTIFI_WITHOUT_ROOT, [])
    return house


@pytest.fixture(scope="session")
def project_wheel(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cert-session-company built with the test intermediate in cert_session/certs/."""
    work = tmp_path_factory.mktemp("build")
    return wheels.build_project_wheel(work, [world.company.intermediate_pem], work / "dist")


@pytest.fixture(scope="session")
def bare_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cert-session-company built with no company certificate (as this repo ships)."""
    work = tmp_path_factory.mktemp("build-bare")
    return wheels.build_project_wheel(work, [], work / "dist")


def new_venv(path: Path, wheelhouse: Path, home: Path, *packages: str, with_pip: bool = False) -> Venv:
    venv = make_venv(path, with_pip=with_pip)
    venv.pip(clean_env(home), "install", "-q", "--no-index", "-f", str(wheelhouse), *packages)
    return venv


@pytest.fixture(scope="session")
def installed(world: World, wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv with requests, stand-in certifi and the company wheel. Tests must not change it."""
    base = tmp_path_factory.mktemp("installed")
    return new_venv(
        base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel)
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="session")
def oldest_requests_venv(
    wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Venv:
    """requests 2.28.2 and its dependencies of that time, stand-in certifi, the company wheel."""
    house = wheels.download(
        tmp_path_factory.mktemp("wheelhouse-requests-oldest"), "requests==" + OLDEST_REQUESTS, certifi_from=wheelhouse
    )
    base = tmp_path_factory.mktemp("venv-requests-oldest")
    venv = make_venv(base / "venv")
    venv.pip(
        clean_env(base / "home"),
        "install", "-q", "--no-index", "-f", str(house),
        "requests==" + OLDEST_REQUESTS, "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel),
    )
    version = venv.run(clean_env(base / "home"), "-c", "import requests; print(requests.__version__)")
    assert version.stdout.strip() == OLDEST_REQUESTS
    return venv


@pytest.fixture(params=["oldest", "newest"])
def requests_venv(request: pytest.FixtureRequest) -> Venv:
    """Each requests test runs against requests 2.28.2 and the newest release."""
    name = "oldest_requests_venv" if request.param == "oldest" else "installed"
    venv: Venv = request.getfixturevalue(name)
    return venv


# A console script that fetches its argument with urllib (no dependencies),
# for tools that install applications (pipx).
DEMO_TOOL = b"""import sys, urllib.request


def main():
    try:
        urllib.request.urlopen(sys.argv[1], timeout=20).read()
        print("OK")
    except Exception as e:
        print("FAILED", getattr(e, "reason", e))
        sys.exit(3)
"""


class Index:
    def __init__(self, wheel: Path, company: str, private: str, tool: Path) -> None:
        self.wheel = wheel
        self.company = company  # behind the company chain
        self.private = private  # behind the private root
        self.tool = tool  # demo-tool: a console script `demo-tool URL`


@pytest.fixture(scope="session")
def index(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """A PEP 503 simple index with two hand-made wheels, served over HTTPS twice."""
    root = tmp_path_factory.mktemp("index")
    wheel = wheels.write_wheel(root / "files", "demo-pkg", "1.0", {"demo_pkg/__init__.py": b"VALUE = 1\n"})
    tool = wheels.write_wheel(
        root / "files",
        "demo-tool",
        "1.0",
        {"demo_tool/__init__.py": DEMO_TOOL},
        entry_points="[console_scripts]\ndemo-tool = demo_tool:main\n",
    )
    links = []
    for name, path in (("demo-pkg", wheel), ("demo-tool", tool)):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (root / "simple" / name).mkdir(parents=True)
        (root / "simple" / name / "index.html").write_text(
            '<a href="../../files/%s#sha256=%s">%s</a>\n' % (path.name, digest, path.name)
        )
        links.append('<a href="%s/">%s</a>\n' % (name, name))
    (root / "simple" / "index.html").write_text("".join(links))
    with servers.serve_https(world.company.leaf_pem, world.company.leaf_key, root) as company, servers.serve_https(
        world.private.leaf_pem, world.private.leaf_key, root
    ) as private:
        yield Index(wheel, company, private, tool)


@pytest.fixture(scope="session")
def plain_venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """requests and stand-in certifi, without cert-session: a child environment without the package."""
    base = tmp_path_factory.mktemp("plain")
    return new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT)


def _pip_venv(
    wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory, newest_pip: bool
) -> Venv:
    base = tmp_path_factory.mktemp("venv-pip")
    venv = make_venv(base / "venv", with_pip=True)
    links = ["-f", str(wheelhouse)]
    if newest_pip:
        links += ["-f", str(wheels.download(base / "pip-wheel", "pip", deps=False))]
    venv.run(
        clean_env(base / "home"),
        "-m", "pip", "install", "-q", "--no-index", *links,
        "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel), *(["--upgrade", "pip"] if newest_pip else []),
    )
    return venv


@pytest.fixture(scope="session")
def pip_venv(wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv with its own pip (ensurepip's), requests, stand-in certifi and the company wheel."""
    return _pip_venv(wheelhouse, project_wheel, tmp_path_factory, newest_pip=False)


@pytest.fixture(scope="session")
def newest_pip_venv(wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The same with the newest pip (which verifies through truststore by default)."""
    return _pip_venv(wheelhouse, project_wheel, tmp_path_factory, newest_pip=True)


class CompanyWheel:
    def __init__(self, wheel: Path, bootstrap: Path, output: str) -> None:
        self.wheel = wheel
        self.bootstrap = bootstrap  # <name>-bootstrap.pem beside it
        self.output = output  # what `cert-session package` printed


@pytest.fixture(scope="session")
def acme(installed: Venv, world: World, tmp_path_factory: pytest.TempPathFactory) -> CompanyWheel:
    """`cert-session package --name acme-certs --cert Issuer.crt`, defaults only, by the installed CLI."""
    from tests.helpers.env import run

    work = tmp_path_factory.mktemp("acme")
    issuer = work / "Issuer.crt"
    issuer.write_bytes(world.company.intermediate_pem.read_bytes())
    out = work / "dist"
    proc = run(
        [installed.script("cert-session"), "package", "--name", "acme-certs", "--cert", str(issuer), "-o", str(out)],
        clean_env(work / "home"),
    )
    wheel = wheels.for_python(out)
    return CompanyWheel(wheel, out / "acme-certs-bootstrap.pem", proc.stdout)


@pytest.fixture(scope="session")
def floor_venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """plain_venv's packages plus a one-line .pth importing an empty module: the start-up budgets' floor."""
    base = tmp_path_factory.mktemp("floor")
    venv = new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT)
    add_floor_hook(venv)
    return venv
