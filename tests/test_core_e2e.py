"""Issue #2 end to end: real wheel, real pip, fresh venvs, real HTTPS servers.

Every server sends only its leaf; the company chain is root (in the stand-in
certifi) -> intermediate (the company certificate) -> leaf.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from cert_session import _startup_files
from tests.conftest import (
    CERTIFI_WITH_NEW_ROOT,
    CERTIFI_WITH_ROOT,
    CERTIFI_WITHOUT_ROOT,
    World,
    new_venv,
)
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import Venv, assert_ok, assert_ssl_error
from tests.helpers.wheels import download

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


# requests, urllib.request and httpx, each with its defaults, in one child.
CLIENTS = r"""
import sys, urllib.request
import httpx, requests
url = sys.argv[1]
def attempt(name, call, errors):
    try:
        call()
        return name + " OK"
    except errors as e:
        return name + (" FAIL" if "CERTIFICATE_VERIFY_FAILED" in str(e) else " %r" % e)
print(" | ".join([
    attempt("requests", lambda: requests.get(url, timeout=20), requests.exceptions.SSLError),
    attempt("urllib", lambda: urllib.request.urlopen(url, timeout=20).read(), OSError),
    attempt("httpx", lambda: httpx.get(url, timeout=20), httpx.ConnectError),
]))
"""


@pytest.fixture(scope="module")
def clients_house(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requests and httpx from the registry; certifi replaced by the stand-ins."""
    return download(tmp_path_factory.mktemp("wheelhouse-clients"), "requests", "httpx", certifi_from=wheelhouse)


def test_dropping_the_company_root_untrusts_the_intermediate_in_requests_urllib_and_httpx_and_says_why(
    world: World, clients_house: Path, project_wheel: Path, tmp_path: Path
) -> None:
    """The trust rule: Python 3.13+ (VERIFY_X509_PARTIAL_CHAIN) would keep trusting the intermediate alone."""
    home = tmp_path / "home"
    env = clean_env(home)
    url = world.urls["company"]
    venv = new_venv(
        tmp_path / "venv", clients_house, home, "requests", "httpx", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel)
    )
    before = venv.run(env, "-c", CLIENTS, url)
    assert before.stdout.strip() == "requests OK | urllib OK | httpx OK", before.stdout + before.stderr

    venv.pip(env, "install", "-q", "--no-index", "-f", str(clients_house), "certifi==" + CERTIFI_WITHOUT_ROOT)
    after = venv.run(env, "-c", CLIENTS, url)
    assert after.stdout.strip() == "requests FAIL | urllib FAIL | httpx FAIL", after.stdout + after.stderr
    # The start that rebuilt said why, in one line, and it is true now; the next one is quiet.
    issuer = next(venv.site_packages.glob("cert_session/certs/*.crt"))
    (line,) = after.stderr.splitlines()
    assert str(issuer) in line and "left out of those merged bundles" in line, line
    assert venv.run(env, "-c", CLIENTS, url).stderr == ""

    status = json.loads(run([venv.script("cert-session"), "status", "--json"], env, check=False).stdout)
    (cert,) = status["certificates"]
    assert cert["path"] == str(issuer) and cert["left_out_of"] == ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"]
    (problem,) = [p for p in status["problems"] if p["code"] == "chain-incomplete"]
    assert cert["subject"] in problem["message"] and str(issuer) in problem["message"]
    assert "Add the certificate of %r" % cert["issuer"] in problem["message"]
    assert status["hook"]["active"] is False and "no company certificate could be added" in status["hook"]["reason"]
    text = run([venv.script("cert-session"), "status"], env, check=False).stdout
    assert "WARNING: %s" % problem["message"] in text and "left out of: REQUESTS_CA_BUNDLE, SSL_CERT_FILE" in text

    rebuilt = run([venv.script("cert-session"), "rebuild"], env, check=False)
    assert rebuilt.returncode == 1 and "nothing exported" in rebuilt.stdout
    assert str(issuer) in rebuilt.stderr and cert["subject"] in rebuilt.stderr, rebuilt.stderr

    # Putting the root back (a certifi that has it) trusts the chain again at the next start.
    venv.pip(env, "install", "-q", "--no-index", "-f", str(clients_house), "certifi==" + CERTIFI_WITH_ROOT)
    again = venv.run(env, "-c", CLIENTS, url)
    assert again.stdout.strip() == "requests OK | urllib OK | httpx OK", again.stdout + again.stderr


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
