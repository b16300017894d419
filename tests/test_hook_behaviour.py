"""Issue #2: how the start-up hook behaves, seen from a fresh interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import wheels
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv

SHOW = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', '<unset>'))"


@pytest.fixture(scope="module")
def bare_installed(world: World, wheelhouse: Path, bare_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("bare")
    return new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(bare_wheel))


def test_without_company_certificate_nothing_changes(bare_installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    proc = bare_installed.run(env, "-c", SHOW)
    assert (proc.stdout, proc.stderr) == ("<unset>\n", "")
    preset = str(world.company.root_pem)
    proc = bare_installed.run(clean_env(tmp_path / "home", REQUESTS_CA_BUNDLE=preset), "-c", SHOW)
    assert (proc.stdout, proc.stderr) == (preset + "\n", "")
    assert "SSLError" in bare_installed.get(env, world.urls["company"]).stdout


def test_company_certificate_from_environment_variable_is_used(bare_installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(world.company.intermediate_pem))
    proc = bare_installed.get(env, world.urls["company"])
    assert proc.stdout.startswith("OK 200") and proc.stderr == "", proc.stdout + proc.stderr


def test_hook_prints_nothing_and_is_idempotent(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    code = (
        "import os, cert_session_hook as h; from cert_session._layout import is_ours; "
        "a = os.environ['REQUESTS_CA_BUNDLE']; "
        "h.start(); h.start(); b = os.environ['REQUESTS_CA_BUNDLE']; print(a == b, is_ours(a))"
    )
    first = installed.run(env, "-c", code)
    second = installed.run(env, "-c", code)  # steady state
    assert first.stdout == second.stdout == "True True\n"
    assert first.stderr == second.stderr == ""


def test_disable_variable_turns_the_hook_off(installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1")
    assert installed.run(env, "-c", SHOW).stdout == "<unset>\n"
    assert "SSLError" in installed.get(env, world.urls["company"]).stdout
    assert not (tmp_path / "home" / "cache").exists()  # nothing ran, nothing written


def test_debug_variable_explains_decisions(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home", CERT_SESSION_DEBUG="1")
    first = installed.run(env, "-c", "pass").stderr
    assert "rebuilding: no state yet" in first
    assert "REQUESTS_CA_BUNDLE=" in first
    second = installed.run(env, "-c", "pass").stderr
    assert "steady state from" in second and "rebuilding" not in second


def test_bad_company_certificate_is_skipped_with_one_line_and_the_rest_apply(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("this is not a certificate\n")
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(garbage))
    proc = installed.get(env, world.urls["company"])
    assert proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cert-session: ") and str(garbage) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    again = installed.get(env, world.urls["company"])  # steady state: said once per change
    assert again.stdout.startswith("OK 200") and again.stderr == ""


def test_python_dash_S_skips_the_hook_and_activate_turns_it_on(installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    sp = str(installed.site_packages)
    code = (
        "import sys; sys.path.append(%r); import os; print(os.environ.get('REQUESTS_CA_BUNDLE', '<unset>')); "
        "import cert_session; print(sorted(cert_session.activate())); "
        "import requests; print(requests.get(sys.argv[1], timeout=20).status_code)" % sp
    )
    proc = installed.run(env, "-S", "-c", code, world.urls["company"])
    assert proc.stdout.splitlines() == ["<unset>", "['REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE']", "200"], proc.stdout + proc.stderr


def test_where_returns_the_merged_bundle(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    api = installed.run(env, "-c", "import cert_session; print(cert_session.where())").stdout.strip()
    cli = installed.run(env, "-m", "cert_session", "where").stdout.strip()
    exported = installed.run(env, "-c", SHOW).stdout.strip()
    assert api == cli == exported
    assert Path(api).name.startswith("cert-session-") and Path(api).is_file()


def test_debian_style_certifi_where_is_honoured_and_rewrites_picked_up(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    """A certifi without cacert.pem whose where() names the system bundle (Debian, Fedora)."""
    system = tmp_path / "etc-ssl" / "ca-certificates.crt"
    system.parent.mkdir()
    system.write_bytes(world.company.root_pem.read_bytes())
    house = tmp_path / "house"
    files = {
        "certifi/__init__.py": b'from .core import contents, where\n__version__ = "4000.1.1"\n',
        "certifi/core.py": (
            "def where():\n    return %r\n\ndef contents():\n    return open(where()).read()\n" % str(system)
        ).encode(),
    }
    wheels.write_wheel(house, "certifi", "4000.1.1", files)
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "-f", str(house), "requests", "certifi==4000.1.1", str(project_wheel))
    assert venv.get(env, world.urls["company"]).stdout.startswith("OK 200")
    assert "SSLError" in venv.get(env, world.urls["private"]).stdout
    with open(system, "ab") as f:  # update-ca-certificates adds a root in place
        f.write(world.private.root_pem.read_bytes())
    assert venv.get(env, world.urls["private"]).stdout.startswith("OK 200")
    assert system.read_bytes() == world.company.root_pem.read_bytes() + world.private.root_pem.read_bytes()


def test_relative_certificate_paths_resolve_against_each_processes_cwd(
    bare_installed: Venv, world: World, tmp_path: Path
) -> None:
    with_cert = tmp_path / "project-a"
    without_cert = tmp_path / "project-b"
    for d in (with_cert, without_cert):
        (d / "certs").mkdir(parents=True)
    (with_cert / "certs" / "Issuer.crt").write_bytes(world.company.intermediate_pem.read_bytes())
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS="certs")
    from tests.helpers.env import run
    from tests.helpers.venvs import GET

    a = run([bare_installed.python, "-c", GET, world.urls["company"]], env, check=False, cwd=with_cert)
    b = run([bare_installed.python, "-c", GET, world.urls["company"]], env, check=False, cwd=without_cert)
    assert a.stdout.startswith("OK 200"), a.stdout + a.stderr
    assert "SSLError" in b.stdout  # not the state built for project-a


def test_new_company_certificate_takes_effect_at_next_start_without_command(
    bare_installed: Venv, world: World, tmp_path: Path
) -> None:
    certs = tmp_path / "company-certs"
    certs.mkdir()
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(certs))
    assert "SSLError" in bare_installed.get(env, world.urls["company"]).stdout  # steady state, no certificate yet
    assert "SSLError" in bare_installed.get(env, world.urls["company"]).stdout
    (certs / "Issuer.crt").write_bytes(world.company.intermediate_pem.read_bytes())
    proc = bare_installed.get(env, world.urls["company"])
    assert proc.stdout.startswith("OK 200") and proc.stderr == "", proc.stdout + proc.stderr
    (certs / "Issuer.crt").unlink()  # and removing it removes the trust
    assert "SSLError" in bare_installed.get(env, world.urls["company"]).stdout
