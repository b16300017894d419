"""Issue #2 end to end: real wheel, real pip, fresh venvs, real HTTPS servers.

Every server sends only its leaf; the company chain is root (in the stand-in
certifi) -> intermediate (the company certificate) -> leaf.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from cert_session import _startup_files
from tests.conftest import (
    CERTIFI_WITH_NEW_ROOT,
    CERTIFI_WITH_ROOT,
    CERTIFI_WITHOUT_ROOT,
    World,
    new_venv,
)
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv, assert_ok, assert_ssl_error

BUNDLE_OF = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', ''))"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unmodified_requests_fails_before_install_and_succeeds_after(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT)
    assert_ssl_error(venv.get(env, world.urls["company"]))

    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), str(project_wheel))
    assert_ok(venv.get(env, world.urls["company"]))
    # Public roots still trusted: the merged bundle adds, never displaces.
    bundle = Path(venv.run(env, "-c", BUNDLE_OF).stdout.strip())
    certifi_pem = next(venv.site_packages.glob("certifi/cacert.pem"))
    merged = bundle.read_text()
    for block in certifi_pem.read_text().split("-----END CERTIFICATE-----")[:-1]:
        body = "".join(block.split("-----BEGIN CERTIFICATE-----")[1].split())
        assert body in "".join(merged.split())


def test_certifi_upgrade_trusts_new_root_and_dropping_root_untrusts_without_command(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(
        tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel)
    )
    assert_ok(venv.get(env, world.urls["company"]))
    assert_ssl_error(venv.get(env, world.urls["newroot"]))

    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "certifi==" + CERTIFI_WITH_NEW_ROOT)
    assert_ok(venv.get(env, world.urls["newroot"]))  # no command run in between
    assert_ok(venv.get(env, world.urls["company"]))

    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "certifi==" + CERTIFI_WITHOUT_ROOT)
    assert_ssl_error(venv.get(env, world.urls["company"]))  # no stale trust survives
    assert_ssl_error(venv.get(env, world.urls["newroot"]))


def test_in_place_rewrite_of_base_bundle_is_picked_up(installed: Venv, world: World, tmp_path: Path) -> None:
    system = tmp_path / "ca-certificates.crt"
    system.write_bytes(world.company.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", REQUESTS_CA_BUNDLE=str(system))
    assert_ok(installed.get(env, world.urls["company"]))
    assert_ssl_error(installed.get(env, world.urls["private"]))

    # Debian's update-ca-certificates style: same path, new content.
    with open(system, "ab") as f:
        f.write(world.private.root_pem.read_bytes())
    assert_ok(installed.get(env, world.urls["private"]))

    with open(system, "r+b") as f:  # drop the company root, same inode
        data = world.private.root_pem.read_bytes()
        f.write(data)
        f.truncate(len(data))
    assert_ssl_error(installed.get(env, world.urls["company"]))
    assert_ok(installed.get(env, world.urls["private"]))


def test_preset_requests_ca_bundle_is_appended_to_not_replaced(installed: Venv, world: World, tmp_path: Path) -> None:
    preset = tmp_path / "corporate.pem"
    preset.write_bytes(world.private.root_pem.read_bytes() + world.company.root_pem.read_bytes())
    before = preset.read_bytes()
    env = clean_env(tmp_path / "home", REQUESTS_CA_BUNDLE=str(preset))
    assert_ok(installed.get(env, world.urls["private"]))  # the preset's own root is kept
    assert_ok(installed.get(env, world.urls["company"]))  # and the company chain added
    assert preset.read_bytes() == before

    env_curl = clean_env(tmp_path / "home2", CURL_CA_BUNDLE=str(preset))
    assert_ok(installed.get(env_curl, world.urls["private"]))


def test_seed_compatible_session_works_with_preset_env_bundle(installed: Venv, world: World, tmp_path: Path) -> None:
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_bytes(world.newroot.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", REQUESTS_CA_BUNDLE=str(unrelated), CERT_SESSION_DISABLE="1")
    code = r"""
import os, sys, glob, cert_session, requests
before = set(os.listdir(os.environ["TMPDIR"]))
with cert_session.Session(sys.argv[2]) as s:
    print(s.get(sys.argv[1] + "company", timeout=20).status_code)
    print(s.get(sys.argv[1] + "private", timeout=20).status_code)
with cert_session.Session() as s:
    try:
        s.get(sys.argv[1] + "private", timeout=20)
        print("private trusted without certs_filepath?!")
    except requests.exceptions.SSLError:
        print("private refused")
print(sorted(set(os.listdir(os.environ["TMPDIR"])) - before))
"""
    urls = world.urls
    # One script, several servers: pass a tiny dispatcher via argv.
    code = code.replace('sys.argv[1] + "company"', repr(urls["company"])).replace(
        'sys.argv[1] + "private"', repr(urls["private"])
    )
    proc = installed.run(env, "-c", code, "-", str(world.private.root_pem))
    assert proc.stdout.split("\n")[:4] == ["200", "200", "private refused", "[]"], proc.stdout + proc.stderr


def test_nested_interpreters_see_identical_bundles(installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    code = r"""
import os, sys, subprocess, hashlib
depth = int(sys.argv[1])
path = os.environ["REQUESTS_CA_BUNDLE"]
print(path, hashlib.sha256(open(path, "rb").read()).hexdigest())
sys.stdout.flush()
if depth:
    subprocess.run([sys.executable, "-c", sys.argv[2], str(depth - 1), sys.argv[2]], check=True)
"""
    proc = installed.run(env, "-c", code, "9", code)
    lines = proc.stdout.split()
    assert len(lines) == 20
    assert len(set(lines)) == 2, proc.stdout  # one path, one digest, ten levels deep
    assert proc.stderr == ""


def test_uninstall_restores_failure_and_leaves_certifi_byte_identical(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT)
    certifi_pem = venv.site_packages / "certifi" / "cacert.pem"
    original = sha(certifi_pem)
    before = {p.name for p in venv.site_packages.iterdir()}

    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), str(project_wheel))
    # The one start-up file for this Python: .pth up to 3.17, .start from 3.18 (PEP 829).
    assert sorted(p.name for p in venv.site_packages.glob("cert_session_hook.*")) == sorted(
        ["cert_session_hook.py", _startup_files.for_version(sys.version_info[:2])[1]]
    )
    assert_ok(venv.get(env, world.urls["company"]))
    assert sha(certifi_pem) == original

    venv.pip(env, "uninstall", "-y", "-q", "cert-session-company")
    after = {p.name for p in venv.site_packages.iterdir()}
    assert after == before, after ^ before
    assert_ssl_error(venv.get(env, world.urls["company"]))
    assert sha(certifi_pem) == original
