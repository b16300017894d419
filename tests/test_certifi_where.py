"""Issue #23 item 1: the base is the file the client would have used, ``certifi.where()``.

Debian's, Ubuntu's and Fedora's certifi (and conda's) point ``where()`` at
the system bundle, where IT adds a company root or a TLS-intercepting
proxy's CA with update-ca-certificates. Debian's still ships a
``cacert.pem`` beside it. requests trusts ``where()``'s file, so the merged
bundle must hold every certificate of that file, and nothing that only the
unused ``cacert.pem`` holds.

Two real set-ups: a stand-in certifi wheel patched the way distributions
patch it, and this machine's Debian python3 with python3-certifi in a
``--system-site-packages`` venv. The IT root is added to the Debian system
bundle only inside a private mount namespace (``unshare -m`` and a bind
mount over /etc/ssl/certs/ca-certificates.crt), so the machine's trust store
is never changed.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from cert_session import _cache, _rebuild
from tests.conftest import World
from tests.helpers.env import clean_env, run
from tests.helpers.inprocess import isolate
from tests.helpers.venvs import GET, Venv, assert_ok, make_venv
from tests.helpers.wheels import build_certifi_wheel, genuine_mozilla_bundle
from tests.test_targets import ders

SHOW = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', '')); print(os.environ.get('SSL_CERT_FILE', ''))"
PATCHED_CERTIFI = "3000.7.1"


def exported(venv: Venv, env: dict[str, str], *wrap: str) -> tuple[Path, Path]:
    """(REQUESTS_CA_BUNDLE, SSL_CERT_FILE) as a fresh interpreter of ``venv`` exports them."""
    proc = run([*wrap, venv.python, "-c", SHOW], env)
    assert len(proc.stderr.splitlines()) <= 1, proc.stderr  # a rebuild's one line at most
    requests_bundle, ssl_bundle = proc.stdout.splitlines()
    assert Path(requests_bundle).name.startswith("cert-session-"), proc.stdout
    return Path(requests_bundle), Path(ssl_bundle)


def test_patched_certifi_where_is_the_base_and_the_shipped_cacert_pem_is_not(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    # The "system bundle" where() names: public roots, the company root and
    # an IT-installed root (newroot) that certifi's own file lacks.
    system = tmp_path / "system" / "ca-certificates.crt"
    system.parent.mkdir()
    system.write_bytes(
        genuine_mozilla_bundle() + world.company.root_pem.read_bytes() + world.newroot.root_pem.read_bytes()
    )
    # The shipped cacert.pem holds a root that where()'s file does not.
    house = tmp_path / "certifi-wheel"
    build_certifi_wheel(house, PATCHED_CERTIFI, [world.private.root_pem], where=system)
    venv = make_venv(tmp_path / "venv")
    home = tmp_path / "home"
    env = clean_env(home)
    venv.pip(
        env, "install", "-q", "--no-index", "-f", str(wheelhouse), "-f", str(house),
        "requests", "certifi==" + PATCHED_CERTIFI, str(project_wheel),
    )
    (shipped,) = venv.site_packages.glob("certifi/cacert.pem")
    only_shipped = ders(shipped) - ders(system)
    assert only_shipped == ders(world.private.root_pem)  # the set-up: cacert.pem is not where()'s file

    requests_bundle, ssl_bundle = exported(venv, env)
    for bundle in (requests_bundle, ssl_bundle):  # ssl's base is OpenSSL's default file + certifi
        held = ders(bundle)
        assert ders(system) <= held
        assert not held & only_shipped
    assert_ok(venv.get(env, world.urls["newroot"]))  # the IT root: only where()'s file has it
    assert_ok(venv.get(env, world.urls["company"]))
    private = venv.get(env, world.urls["private"])
    assert private.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in private.stdout

    # IT adds the private root to the system bundle (update-ca-certificates
    # rewrites it in place): the next start rebuilds from it.
    with system.open("ab") as f:
        f.write(world.private.root_pem.read_bytes())
    assert_ok(venv.get(env, world.urls["private"]))
    assert ders(world.private.root_pem) <= ders(exported(venv, env)[0])


def test_where_is_remembered_per_certifi_install_and_asked_again_when_certifi_changes(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Importing certifi costs more than the rest of a rebuild: once per install, not per rebuild."""
    isolate(monkeypatch, tmp_path)
    site = tmp_path / "site"
    build_certifi_wheel(tmp_path / "wheel", PATCHED_CERTIFI, [], where=world.company.root_pem)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    zipfile.ZipFile(wheel).extractall(site)
    monkeypatch.syspath_prepend(str(site))
    for name in [n for n in sys.modules if n == "certifi" or n.startswith("certifi.")]:
        monkeypatch.delitem(sys.modules, name)

    first = _rebuild.resolve_base("certifi:")
    assert first.path == str(world.company.root_pem) and str(world.company.root_pem) in first.inputs
    assert (Path(str(_cache.fast_dir())) / "certifi-where").is_file()

    # The same install: answered from the memo, even by a certifi that could not say it now.
    imported = sys.modules["certifi"]
    broken = types.ModuleType("certifi")
    broken.__spec__ = imported.__spec__

    def where() -> str:
        raise RuntimeError("certifi imported again")

    broken.where = where  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "certifi", broken)
    assert _rebuild.resolve_base("certifi:").path == str(world.company.root_pem)

    # certifi's code changes (an upgrade replaces core.py): asked again.
    core = site / "certifi" / "core.py"
    core.write_text(core.read_text().replace(repr(str(world.company.root_pem)), repr(str(world.newroot.root_pem))))
    # The new core.py has the old one's size ("company" and "newroot"), and
    # may have its mtime's second: the reload below would run the stale .pyc.
    shutil.rmtree(core.parent / "__pycache__", ignore_errors=True)
    again = _rebuild.resolve_base("certifi:")
    assert again.path is None and again.problem is not None and "certifi imported again" in again.problem
    monkeypatch.setitem(sys.modules, "certifi", imported)
    monkeypatch.delitem(sys.modules, "certifi.core")
    importlib.reload(imported)
    assert _rebuild.resolve_base("certifi:").path == str(world.newroot.root_pem)


def test_upstream_where_is_read_from_certifis_code_and_a_patched_one_is_not(world: World, tmp_path: Path) -> None:
    """The common case costs no import: upstream's where() names the cacert.pem beside it."""
    import certifi

    package = Path(certifi.__file__).parent
    assert _rebuild._upstream_where(str(package / "__init__.py"), str(package / "core.py"))
    build_certifi_wheel(tmp_path / "wheel", PATCHED_CERTIFI, [], where=world.company.root_pem)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    patched = tmp_path / "site" / "certifi"
    assert not _rebuild._upstream_where(str(patched / "__init__.py"), str(patched / "core.py"))
    # Upstream's core.py behind an __init__.py that defines its own where().
    (patched / "core.py").write_bytes((package / "core.py").read_bytes())
    assert _rebuild._upstream_where(str(patched / "__init__.py"), str(patched / "core.py"))
    (patched / "__init__.py").write_text("from .core import contents\n\ndef where():\n    return '/etc/ssl/cert.pem'\n")
    assert not _rebuild._upstream_where(str(patched / "__init__.py"), str(patched / "core.py"))
    debian = Path("/usr/lib/python3/dist-packages/certifi")
    if (debian / "core.py").is_file():
        assert not _rebuild._upstream_where(str(debian / "__init__.py"), str(debian / "core.py"))


# ----------------------------------------------------- Debian's python3

DEBIAN_PYTHON = "/usr/bin/python3"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
APT_LINE = "apt-get install -y python3-venv python3-certifi python3-requests"


def _debian_problem() -> str | None:
    if not os.path.isfile(DEBIAN_PYTHON) or not os.path.isfile("/etc/debian_version"):
        return "no Debian %s here" % DEBIAN_PYTHON
    probe = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import certifi, requests, ensurepip, venv; print(certifi.where())"],
        capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")},
    )
    if probe.returncode != 0:
        return "Debian's python3-certifi, python3-requests or python3-venv is missing (%s)" % APT_LINE
    if probe.stdout.strip() != SYSTEM_BUNDLE:
        return "this python3-certifi's where() is %s, not the Debian system bundle" % probe.stdout.strip()
    return None


def _namespace_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount --bind /dev/null /etc/hostname"],
        capture_output=True, text=True,
    )
    return None if probe.returncode == 0 else "no private mount namespace here: %s" % probe.stderr.strip()


@pytest.fixture(scope="module")
def debian_venv(wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Venv, dict[str, str]]:
    """/usr/bin/python3 -m venv --system-site-packages, with requests and the company wheel from real pip.

    certifi is Debian's (python3-certifi satisfies requests' requirement),
    as it is for everyone who makes a venv this way.
    """
    problem = _debian_problem()
    if problem:
        pytest.skip(problem)
    base = tmp_path_factory.mktemp("debian")
    env = clean_env(base / "home")
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", str(base / "venv")], check=True, env=env)
    venv = Venv(base / "venv")
    run([venv.python, "-m", "pip", "install", "-q", "--no-index", "-f", str(wheelhouse), "requests", str(project_wheel)], env)
    where = run([venv.python, "-c", "import certifi; print(certifi.__file__); print(certifi.where())"], env)
    package, answer = where.stdout.splitlines()
    assert package.startswith("/usr/lib/python3/dist-packages/") and answer == SYSTEM_BUNDLE, where.stdout
    # Debian 12's python3-certifi also ships a cacert.pem that where() does not
    # name (the file the old base took); sid's ships none. where() decides either way.
    return venv, env


def test_debian_certifi_merged_bundles_hold_every_certificate_of_the_system_bundle(
    debian_venv: tuple[Venv, dict[str, str]], world: World
) -> None:
    venv, env = debian_venv
    # The system bundle lacks this world's company root (only the stand-in
    # certifi has it), so the trust rule (issue #22) would leave the
    # intermediate out and export nothing: the root is a company certificate too.
    env = dict(env, CERT_SESSION_CERTS=str(world.company.root_pem))
    for bundle in exported(venv, env):
        missing = ders(SYSTEM_BUNDLE) - ders(bundle)
        assert not missing, "%d of the system bundle's certificates are missing from %s" % (len(missing), bundle)


def test_debian_request_under_a_root_only_the_system_bundle_has_keeps_working_with_the_wheel(
    debian_venv: tuple[Venv, dict[str, str]], world: World, tmp_path: Path
) -> None:
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    venv, env = debian_venv
    # What update-ca-certificates makes once IT installed its root (newroot)
    # and the company root: seen at /etc/ssl/certs/ca-certificates.crt by
    # these processes only.
    view = tmp_path / "ca-certificates.crt"
    view.write_bytes(
        Path(SYSTEM_BUNDLE).read_bytes() + world.newroot.root_pem.read_bytes() + world.company.root_pem.read_bytes()
    )
    in_view = [
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        'mount --bind "$0" %s && exec "$@"' % SYSTEM_BUNDLE, str(view),
    ]
    disabled = dict(env, CERT_SESSION_DISABLE="1")
    # Without the hook, requests (Debian's certifi) trusts the IT root ...
    assert_ok(run([*in_view, venv.python, "-c", GET, world.urls["newroot"]], disabled, check=False))
    # ... and with it, it still does, and reaches the company server too.
    assert_ok(run([*in_view, venv.python, "-c", GET, world.urls["newroot"]], env, check=False))
    assert_ok(run([*in_view, venv.python, "-c", GET, world.urls["company"]], env, check=False))
    for bundle in exported(venv, env, *in_view):
        assert ders(view) <= ders(bundle)
