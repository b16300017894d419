"""Issue #17: the hook runs only its own code and never breaks an import.

A user's own ``cert_session.py`` or ``cert_session/`` folder beside a script,
in the working directory, on ``PYTHONPATH`` or inside a zipapp must neither
run because of us nor break ``import requests``. Each case installs the real
wheel into a venv (the session's ``installed`` one) and does real requests to
loopback servers that send only their leaf, through one probe that tries the
three ``verify`` choices the guard is about:

- default: the company service verifies (the merged bundle was exported);
- ``Session.verify = False``: a service no bundle trusts is reached (the
  guard kept verification off against ``REQUESTS_CA_BUNDLE``);
- ``Session.verify = own.pem`` (the private root only): the private service
  is reached (the guard kept the tool's own file).

The user's shadowing module prints a marker and raises, so a test sees both
whether it ran and whether it broke anything.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import zipapp
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import wheels
from tests.helpers.env import clean_env
from tests.helpers.venvs import OUTCOME, Venv

MARKER = "USER-CERT-SESSION-RAN"
SHADOW = "print(%r)\nraise ImportError(\"the user's own cert_session, not cert-session's\")\n" % MARKER

# argv: company URL, untrusted URL, own bundle (the untrusted service's root).
PROBE = r"""
import sys, warnings
path = "general" if "_cert_session._startup" in sys.modules else "fast"
import requests
warnings.simplefilter("ignore")  # verify=False warns; the outcome is what counts
company, untrusted, own = sys.argv[1:4]
""" + OUTCOME + r"""
print("path=%s default=%s false=%s own=%s" % (
    path, outcome(company, None), outcome(untrusted, False), outcome(untrusted, own)))
"""
ALL_OK = "default=OK false=OK own=OK"


def probe_args(world: World, own: Path) -> list[str]:
    return [world.urls["company"], world.urls["private"], str(own)]


def assert_helped(proc: subprocess.CompletedProcess[str], path: str | None = None) -> None:
    """The request succeeded with every verify choice, silently, and the user's file did not run."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert MARKER not in proc.stdout, "the user's cert_session ran: " + proc.stdout
    (line,) = proc.stdout.splitlines()
    assert line.endswith(ALL_OK), proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr
    if path is not None:
        assert line.startswith("path=%s " % path), line


@pytest.fixture
def own(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "own.pem"
    path.write_bytes(world.private.root_pem.read_bytes())
    return path


def shadow_folder(where: Path, kind: str) -> Path:
    """``where`` holding the user's ``cert_session.py`` (kind "module") or ``cert_session/`` ("package")."""
    where.mkdir(parents=True, exist_ok=True)
    if kind == "module":
        (where / "cert_session.py").write_text(SHADOW)
    else:
        (where / "cert_session").mkdir()
        (where / "cert_session" / "__init__.py").write_text(SHADOW)
    (where / "main.py").write_text(PROBE)
    return where


KINDS = ["module", "package"]


@pytest.mark.parametrize("kind", KINDS)
def test_script_beside_a_users_cert_session_is_helped_and_the_file_never_runs(
    installed: Venv, world: World, own: Path, tmp_path: Path, kind: str
) -> None:
    folder = shadow_folder(tmp_path / "project", kind)
    env = clean_env(tmp_path / "home")
    for path in ("general", "fast"):  # a fresh cache, then the steady start
        proc = installed.run(env, str(folder / "main.py"), *probe_args(world, own), check=False, cwd=str(folder))
        assert_helped(proc, path)


@pytest.mark.parametrize("kind", KINDS)
def test_python_c_and_m_in_a_folder_with_a_users_cert_session(
    installed: Venv, world: World, own: Path, tmp_path: Path, kind: str
) -> None:
    folder = shadow_folder(tmp_path / "project", kind)
    env = clean_env(tmp_path / "home")
    for path in ("general", "fast"):
        assert_helped(installed.run(env, "-c", PROBE, *probe_args(world, own), check=False, cwd=str(folder)), path)
        assert_helped(installed.run(env, "-m", "main", *probe_args(world, own), check=False, cwd=str(folder)), "fast")


@pytest.mark.parametrize("kind", KINDS)
def test_users_cert_session_on_pythonpath_breaks_neither_the_general_nor_the_steady_path(
    installed: Venv, world: World, own: Path, tmp_path: Path, kind: str
) -> None:
    folder = shadow_folder(tmp_path / "lib", kind)
    env = clean_env(tmp_path / "home", PYTHONPATH=str(folder))
    for path in ("general", "fast"):
        assert_helped(installed.run(env, "-c", PROBE, *probe_args(world, own), check=False), path)


def test_users_own_import_cert_session_gets_the_users_module(installed: Venv, tmp_path: Path) -> None:
    # The name stays the user's: `import cert_session` resolves as it would
    # without the hook, before and after requests (and our guard) is imported.
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "cert_session.py").write_text("WHOSE = 'mine'\n")
    code = "import requests, cert_session; print(cert_session.WHOSE)"
    env = clean_env(tmp_path / "home")
    for _ in range(2):  # general, then steady
        proc = installed.run(env, "-c", code, cwd=str(folder))
        assert (proc.stdout, proc.stderr) == ("mine\n", "")
    # Without a shadow, `import cert_session` is the installed package.
    proc = installed.run(env, "-c", "import requests, cert_session; print(cert_session.where() == __import__('os').environ['REQUESTS_CA_BUNDLE'])")
    assert (proc.stdout, proc.stderr) == ("True\n", "")


def test_isolated_mode_is_helped(installed: Venv, world: World, own: Path, tmp_path: Path) -> None:
    folder = shadow_folder(tmp_path / "project", "module")
    env = clean_env(tmp_path / "home")
    for path in ("general", "fast"):
        proc = installed.run(env, "-I", str(folder / "main.py"), *probe_args(world, own), check=False, cwd=str(folder))
        assert_helped(proc, path)


def test_no_site_then_site_main_is_helped_with_the_cwd_already_on_sys_path(
    installed: Venv, world: World, own: Path, tmp_path: Path
) -> None:
    # -S then site.main(): the .pth runs with '' (the cwd, holding the user's
    # cert_session.py) already first on sys.path.
    folder = shadow_folder(tmp_path / "project", "module")
    code = "import site; site.main()\n" + PROBE
    env = clean_env(tmp_path / "home")
    for path in ("general", "fast"):
        assert_helped(installed.run(env, "-S", "-c", code, *probe_args(world, own), check=False, cwd=str(folder)), path)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PYTHONSAFEPATH is new in Python 3.11")
def test_pythonsafepath_is_helped(installed: Venv, world: World, own: Path, tmp_path: Path) -> None:
    folder = shadow_folder(tmp_path / "project", "package")
    env = clean_env(tmp_path / "home", PYTHONSAFEPATH="1")
    for path in ("general", "fast"):
        proc = installed.run(env, str(folder / "main.py"), *probe_args(world, own), check=False, cwd=str(folder))
        assert_helped(proc, path)


@pytest.fixture(scope="module")
def zipapp_with_requests(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zipapp bundling requests and its dependencies, and a user's cert_session.py."""
    base = tmp_path_factory.mktemp("zipapp")
    target = base / "app"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "-f", str(wheelhouse),
         "--target", str(target), "--no-compile", "requests", "certifi==" + CERTIFI_WITH_ROOT],
        check=True, capture_output=True, env=clean_env(base / "home"),
    )
    for compiled in target.rglob("*.so"):  # zipimport loads pure Python only (charset_normalizer has both)
        compiled.unlink()
    (target / "cert_session.py").write_text(SHADOW)
    (target / "__main__.py").write_text(PROBE)
    app = base / "app.pyz"
    zipapp.create_archive(target, app)
    return app


def test_zipapp_bundling_requests_is_helped_and_guarded(
    installed: Venv, world: World, own: Path, zipapp_with_requests: Path, tmp_path: Path
) -> None:
    # zipimport shares one loader per archive: the guard must watch
    # requests.sessions without changing what the rest of the archive loads.
    env = clean_env(tmp_path / "home")
    code = "import requests, sys; print(type(requests.sessions.__loader__).__name__, requests.__file__.startswith(sys.argv[1]))"
    for path in ("general", "fast"):
        proc = installed.run(env, str(zipapp_with_requests), *probe_args(world, own), check=False)
        assert_helped(proc, path)
    proc = installed.run(clean_env(tmp_path / "home", PYTHONPATH=str(zipapp_with_requests)), "-c", code, str(zipapp_with_requests))
    assert (proc.stdout, proc.stderr) == ("zipimporter True\n", "")  # the module keeps the real loader


# Both copies of requests imported at the same moment from two threads, then
# every verify choice through each: run several times, first on the general
# path, then steady.
THREADS = r"""
import sys, threading, warnings
warnings.simplefilter("ignore")
company, untrusted, own = sys.argv[1:4]
barrier = threading.Barrier(2)
mods = {}
def load(name):
    barrier.wait()
    mods[name] = __import__(name, fromlist=["Session"])
ts = [threading.Thread(target=load, args=(n,)) for n in ("requests", "pip._vendor.requests")]
for t in ts: t.start()
for t in ts: t.join()
out = []
for name in ("requests", "pip._vendor.requests"):
    r = mods[name]
    guarded = getattr(r.Session.merge_environment_settings, "__cert_session_verify_guard__", False)
    res = []
    for url, verify in ((company, None), (untrusted, False), (untrusted, own)):
        s = r.Session()
        if verify is not None:
            s.verify = verify
        try:
            s.get(url, timeout=20)
            res.append("OK")
        except r.exceptions.SSLError:
            res.append("SSLError")
    out.append("%s guarded=%s %s" % (name, guarded, "/".join(res)))
print("; ".join(out))
"""


def test_threads_importing_requests_and_pips_copy_at_once_are_both_guarded(
    newest_pip_venv: Venv, world: World, own: Path, tmp_path: Path
) -> None:
    # The newest pip: ensurepip's pip 23.2.1 deadlocks here on its own, with
    # CERT_SESSION_DISABLE=1 too (its vendored urllib3's six importer imports
    # http.client inside find_spec while the other thread is importing it).
    pip_venv = newest_pip_venv
    env = clean_env(tmp_path / "home")
    expected = "requests guarded=True OK/OK/OK; pip._vendor.requests guarded=True OK/OK/OK\n"
    for _ in range(6):
        proc = pip_venv.run(env, "-c", THREADS, *probe_args(world, own), check=False)
        assert (proc.stdout, proc.stderr) == (expected, ""), proc.stdout + proc.stderr


# ---------------------------------------------------------- half upgrades

PREVIOUS_RELEASE = "e3a0dd9"  # main before issue #17: absolute imports, the hook's old finder


@pytest.fixture(scope="module")
def previous_wheel(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release of cert-session-company, built from git history with the same certificate."""
    if not (wheels.REPO / ".git").exists():
        pytest.skip("no git history in this checkout to build the previous release from")
    archive = subprocess.run(
        ["git", "-C", str(wheels.REPO), "archive", "--format=tar", PREVIOUS_RELEASE], capture_output=True, check=True
    ).stdout
    work = tmp_path_factory.mktemp("previous")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # filter="data" where tarfile has it (3.12, backported to 3.8.17+): 3.12 and 3.13 warn without one.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(work / "src", filter="data")
        else:
            tar.extractall(work / "src")  # noqa: S202 - our own repository's history
    shutil.copy(world.company.intermediate_pem, work / "src" / "cert_session" / "certs" / "Issuer.pem")
    out = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(work / "src")],
        check=True, capture_output=True, env=clean_env(work / "home"),
    )
    (wheel,) = out.glob("cert_session_company-*.whl")
    return wheel


def _swap_hook(venv: Venv, wheel: Path) -> None:
    """Put ``wheel``'s cert_session_hook.py in ``venv``, with no stale bytecode."""
    with zipfile.ZipFile(wheel) as whl:
        (venv.site_packages / "cert_session_hook.py").write_bytes(whl.read("cert_session_hook.py"))
    shutil.rmtree(venv.site_packages / "__pycache__", ignore_errors=True)


def assert_survived(proc: subprocess.CompletedProcess[str]) -> None:
    """The program ran to its end, with at most one line of ours on stderr and no traceback."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(proc.stdout.splitlines()) == 1 and proc.stdout.startswith("path="), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 1, proc.stderr
    if proc.stderr:
        assert proc.stderr.startswith("cert-session:") and "CERT_SESSION_DISABLE=1" in proc.stderr, proc.stderr


@pytest.mark.parametrize("hook_from", ["previous", "this"])
def test_hook_file_and_package_of_two_releases_start_and_help(
    world: World, wheelhouse: Path, project_wheel: Path, previous_wheel: Path, own: Path, tmp_path: Path, hook_from: str
) -> None:
    # pip install -U mid-way, or a process that loaded the old hook before an
    # upgrade: the hook file of one release beside the package of the other.
    hook_wheel, package_wheel = (previous_wheel, project_wheel) if hook_from == "previous" else (project_wheel, previous_wheel)
    home = tmp_path / "home"
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(package_wheel))
    _swap_hook(venv, hook_wheel)
    env = clean_env(home)
    for _ in range(2):  # general path, then steady
        proc = venv.run(env, "-c", PROBE, *probe_args(world, own), check=False)
        assert_survived(proc)
        assert proc.stdout.strip().endswith(ALL_OK)


@pytest.mark.parametrize("missing", ["_startup.py", "_verify_guard.py", "__init__.py"])
def test_package_files_missing_mid_upgrade_cost_one_line_never_a_start(
    world: World, wheelhouse: Path, project_wheel: Path, own: Path, tmp_path: Path, missing: str
) -> None:
    home = tmp_path / "home"
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    env = clean_env(home)
    assert_helped(venv.run(env, "-c", PROBE, *probe_args(world, own), check=False), "general")  # a fast state now exists
    (venv.site_packages / "cert_session" / missing).unlink()
    shutil.rmtree(venv.site_packages / "cert_session" / "__pycache__", ignore_errors=True)
    for fresh in (False, True):  # the steady start, then a start that must hand over
        run_env = clean_env(tmp_path / "other-home") if fresh else env
        assert_survived(venv.run(run_env, "-c", PROBE, *probe_args(world, own), check=False))


def test_users_import_of_the_installed_package_shares_the_hooks_guard(
    installed: Venv, world: World, own: Path, tmp_path: Path
) -> None:
    # `import cert_session` (no shadow) is a second copy of our modules; its
    # activate() must find the guard the hook installed, not add another.
    code = (
        "import sys, cert_session; cert_session.activate()\n"
        "guards = sum(bool(getattr(f, 'cert_session_guard', False)) for f in sys.meta_path)\n"
        + PROBE.replace('print("path=', 'print("guards=%d " % guards + "path=')
    )
    env = clean_env(tmp_path / "home")
    for _ in range(2):  # general, then steady
        proc = installed.run(env, "-c", code, *probe_args(world, own), check=False)
        assert proc.stderr == "" and proc.stdout.startswith("guards=1 "), proc.stdout + proc.stderr
        assert proc.stdout.strip().endswith(ALL_OK), proc.stdout
