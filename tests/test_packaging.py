"""Issue #2 packaging: the start-up files reach site-packages from a wheel and from `pip install -e`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import wheels
from tests.helpers.env import clean_env
from tests.helpers.venvs import assert_ok

REPO = wheels.REPO


def test_pth_is_one_plain_import_line_and_the_start_file_names_a_callable() -> None:
    # Nothing to compile at every start (issue #10): the off switch, the
    # run-once guard and the no-traceback guarantee live in the module.
    assert (REPO / "cert_session_hook.pth").read_bytes() == b"import cert_session_hook\n"
    assert (REPO / "cert_session_hook.start").read_text() == "cert_session_hook:start\n"


def test_wheel_puts_startup_files_at_the_root_and_ships_company_certs(project_wheel: Path) -> None:
    names = set(zipfile.ZipFile(project_wheel).namelist())
    assert {"cert_session_hook.pth", "cert_session_hook.start", "cert_session_hook.py"} <= names
    assert "cert_session/certs/Issuer.crt" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_wheel_carries_the_mit_license_in_its_dist_info(project_wheel: Path) -> None:
    with zipfile.ZipFile(project_wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith("LICENSE")]
        assert name.startswith("cert_session_company-") and ".dist-info/" in name
        text = zf.read(name).decode()
        metadata = zf.read(name.split(".dist-info/")[0] + ".dist-info/METADATA").decode()
    assert text == (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 cert-session contributors" in text
    assert "License-File: LICENSE" in metadata


def test_repository_ships_no_company_certificate() -> None:
    shipped = [p for p in (REPO / "cert_session" / "certs").iterdir() if p.suffix.lower() in (".pem", ".crt", ".cer")]
    assert shipped == []


def test_certificates_with_upper_case_extensions_reach_the_wheel_and_are_trusted(
    world: World, wheelhouse: Path, tmp_path: Path
) -> None:
    """Package data globs are case-sensitive on Linux and macOS; Issuer.CRT must not be left out."""
    named = tmp_path / "named"
    named.mkdir()
    issuer = named / "Issuer.CRT"
    issuer.write_bytes(world.company.intermediate_pem.read_bytes())
    other = named / "Other.Pem"
    other.write_bytes(world.newroot.root_pem.read_bytes())  # a root certifi does not have
    wheel = wheels.build_project_wheel(tmp_path / "build", [issuer, other], tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"cert_session/certs/Issuer.CRT", "cert_session/certs/Other.Pem"} <= names

    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(wheel))
    assert_ok(venv.get(env, world.urls["company"]))  # root in certifi, intermediate from Issuer.CRT
    assert_ok(venv.get(env, world.urls["newroot"]))  # root from Other.Pem


@pytest.fixture(scope="module")
def buildhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """setuptools and wheel for pip's isolated build environment."""
    return wheels.download(tmp_path_factory.mktemp("buildhouse"), "setuptools>=70.1", "wheel")


def test_editable_install_works_and_uninstall_leaves_no_trace(
    world: World, wheelhouse: Path, buildhouse: Path, tmp_path: Path
) -> None:
    src = wheels.project_copy(tmp_path / "src", [world.company.intermediate_pem])
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT)
    before = {p.name for p in venv.site_packages.iterdir()}
    assert "SSLError" in venv.get(env, world.urls["company"]).stdout

    venv.pip(env, "install", "-q", "--no-index", "-f", str(buildhouse), "-f", str(wheelhouse), "-e", str(src))
    assert (venv.site_packages / "cert_session_hook.pth").read_bytes() == (REPO / "cert_session_hook.pth").read_bytes()
    assert (venv.site_packages / "cert_session_hook.start").is_file()
    proc = venv.get(env, world.urls["company"])
    assert proc.stdout.startswith("OK 200") and proc.stderr == "", proc.stdout + proc.stderr

    # Editable means editable: a certificate added to the source tree applies at the next start.
    (src / "cert_session" / "certs" / "Issuer.crt").unlink()
    assert "SSLError" in venv.get(env, world.urls["company"]).stdout

    venv.pip(env, "uninstall", "-y", "-q", "cert-session-company")
    after = {p.name for p in venv.site_packages.iterdir()}
    assert after == before, after ^ before
