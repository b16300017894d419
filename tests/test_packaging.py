"""Issue #2 packaging: the start-up files reach site-packages from a wheel and from `pip install -e`."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from cert_session import _startup_files
from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import wheels
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import assert_ok, assert_ssl_error

PTH_TAG = "py38.py39.py310.py311.py312.py313.py314.py315.py316.py317"

REPO = wheels.REPO


def test_each_start_up_file_is_one_line_naming_the_hook() -> None:
    # Nothing to compile at every start (issue #10): the off switch, the
    # run-once guard and the no-traceback guarantee live in the module.
    assert (REPO / "cert_session_hook.pth").read_bytes() == b"import cert_session_hook\n"
    assert (REPO / "cert_session_hook.start").read_bytes() == b"cert_session_hook:start\n"
    for _, name, line in _startup_files.VARIANTS:  # what setup.py and `cert-session package` ship
        assert (REPO / name).read_bytes() == line


@pytest.mark.parametrize(
    ("version", "tag", "name"),
    [((3, 8), PTH_TAG, "cert_session_hook.pth"), ((3, 15), PTH_TAG, "cert_session_hook.pth"),
     ((3, 17), PTH_TAG, "cert_session_hook.pth"), ((3, 18), "py318", "cert_session_hook.start"),
     ((3, 19), "py318", "cert_session_hook.start"), ((4, 0), "py318", "cert_session_hook.start")],
)
def test_one_start_up_file_per_python_the_start_file_only_where_pth_imports_are_ignored(
    version: tuple[int, int], tag: str, name: str
) -> None:
    # PEP 829: import lines run until 3.17; a .start file on 3.15 costs every process pkgutil's imports.
    assert _startup_files.for_version(version)[:2] == (tag, name)


def test_wheel_carries_the_building_pythons_start_up_file_and_tag(project_wheel: Path) -> None:
    tag, name, line = _startup_files.for_version(sys.version_info[:2])
    assert project_wheel.name.endswith("-%s-none-any.whl" % tag)
    with zipfile.ZipFile(project_wheel) as zf:
        names = set(zf.namelist())
        assert {name, "cert_session_hook.py"} <= names
        assert not {_startup_files.PTH, _startup_files.START} - {name} & names  # never both
        assert zf.read(name) == line
        (wheel_file,) = [n for n in names if n.endswith(".dist-info/WHEEL")]
        assert [x for x in zf.read(wheel_file).decode().splitlines() if x.startswith("Tag:")] == [
            "Tag: %s-none-any" % t for t in tag.split(".")
        ]
    assert "cert_session/certs/Issuer.crt" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_a_release_builds_the_start_file_wheel_from_any_python(world: World, tmp_path: Path) -> None:
    # Both wheels go to the index; the py318 one is built with CERT_SESSION_WHEEL_FOR=3.18.
    wheel = wheels.build_project_wheel(tmp_path, [world.company.intermediate_pem], tmp_path / "dist",
                                       CERT_SESSION_WHEEL_FOR="3.18")
    assert wheel.name.endswith("-py318-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("cert_session_hook.start") == b"cert_session_hook:start\n"
        assert "cert_session_hook.pth" not in zf.namelist()


def test_wheel_builds_are_reproducible_under_source_date_epoch(world: World, tmp_path: Path) -> None:
    built = [
        wheels.build_project_wheel(tmp_path / d, [world.company.intermediate_pem], tmp_path / d / "dist",
                                   SOURCE_DATE_EPOCH="1767225600")
        for d in ("a", "b")
    ]
    assert built[0].name == built[1].name and built[0].read_bytes() == built[1].read_bytes()


def test_deleting_the_start_up_file_turns_the_hook_off_on_this_python(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    # The README's off switch, on the Python running the suite (a real 3.15 in CI too).
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    (name,) = [p.name for p in venv.site_packages.iterdir() if p.name in (_startup_files.PTH, _startup_files.START)]
    assert name == _startup_files.for_version(sys.version_info[:2])[1]
    assert_ok(venv.get(env, world.urls["company"]))
    # No .start file on 3.15: site would import pkgutil (and re, enum, functools ...) to resolve it.
    assert venv.run(env, "-c", "import sys; print('pkgutil' in sys.modules)").stdout == "False\n"
    (venv.site_packages / name).unlink()
    assert_ssl_error(venv.get(env, world.urls["company"]))
    assert venv.run(env, "-c", "import os; print(os.environ.get('REQUESTS_CA_BUNDLE'))").stdout == "None\n"


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


def test_sdist_installs_with_pip_and_its_start_up_file(
    world: World, wheelhouse: Path, buildhouse: Path, tmp_path: Path
) -> None:
    src = wheels.project_copy(tmp_path / "src", [world.company.intermediate_pem])
    home = tmp_path / "home"
    env = clean_env(home)
    run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(tmp_path / "sdist"), str(src)], env)
    (sdist,) = (tmp_path / "sdist").glob("cert_session_company-*.tar.gz")
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT)
    venv.pip(env, "install", "-q", "--no-index", "-f", str(buildhouse), "-f", str(wheelhouse), str(sdist))
    name = _startup_files.for_version(sys.version_info[:2])[1]
    assert sorted(p.name for p in venv.site_packages.glob("cert_session_hook.*")) == sorted(["cert_session_hook.py", name])
    assert_ok(venv.get(env, world.urls["company"]))


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
    name = _startup_files.for_version(sys.version_info[:2])[1]
    assert (venv.site_packages / name).read_bytes() == (REPO / name).read_bytes()
    assert [p.name for p in venv.site_packages.glob("cert_session_hook.*")] == [name]  # and the module, in src
    proc = venv.get(env, world.urls["company"])
    assert proc.stdout.startswith("OK 200") and proc.stderr == "", proc.stdout + proc.stderr

    # Editable means editable: a certificate added to the source tree applies at the next start.
    (src / "cert_session" / "certs" / "Issuer.crt").unlink()
    assert "SSLError" in venv.get(env, world.urls["company"]).stdout

    venv.pip(env, "uninstall", "-y", "-q", "cert-session-company")
    after = {p.name for p in venv.site_packages.iterdir()}
    assert after == before, after ^ before
