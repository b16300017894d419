"""Issue #3 part 2: opt-in targets beyond requests (``CERT_SESSION_TARGETS``).

Each target exports one variable with append semantics: its preset value, or
the client's own default, plus the company certificates. Real clients
(urllib, httpx, node, curl, git) run as children of a venv's Python with the
company wheel and talk to loopback HTTPS servers that send only their leaf.

The company root of these tests sits in the stand-in certifi only, not in
OpenSSL's system file or Node's roots. Where a client's base is one of
those, a test either presets the variable with a "system bundle" that holds
the company root, or adds the root as a company certificate
(``CERT_SESSION_CERTS``), as a company with a private root would.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_NEW_ROOT, World
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv, make_venv
from tests.helpers.wheels import download

# urllib.request and (where installed) httpx, each with its defaults.
CLIENTS = r"""
import os, sys, urllib.request
url = sys.argv[1]
results = []
try:
    urllib.request.urlopen(url, timeout=20).read()
    results.append("urllib OK")
except Exception as e:
    results.append("urllib %s" % type(getattr(e, "reason", e)).__name__)
try:
    import httpx
except ImportError:
    httpx = None
if httpx is not None:
    try:
        httpx.get(url, timeout=20)
        results.append("httpx OK")
    except httpx.ConnectError as e:
        results.append("httpx " + ("CERTIFICATE_VERIFY_FAILED" if "CERTIFICATE_VERIFY_FAILED" in str(e) else repr(e)))
print(" | ".join(results))
print(os.environ.get("SSL_CERT_FILE", ""))
"""

NODE_GET = (
    "require('https').get(process.argv[1], r => { console.log('OK', r.statusCode); process.exit(0) })"
    ".on('error', e => { console.log('ERR', e.code); process.exit(3) })"
)
# Node started from Python, inheriting the environment the hook set up.
RUN_NODE = r"""
import os, subprocess, sys
proc = subprocess.run(["node", "-e", sys.argv[1], sys.argv[2]], capture_output=True, text=True, timeout=60)
print(proc.stdout.strip())
print(os.environ.get("NODE_EXTRA_CA_CERTS", ""))
"""

# curl and git from Python. The test server answers every path with a short
# text, so git, once the handshake is trusted, says the URL is no repository.
RUN_CURL_GIT = r"""
import os, subprocess, sys
url = sys.argv[1]
curl = subprocess.run(["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", url], capture_output=True, text=True, timeout=60)
print("curl", "200" if curl.stdout == "200" else " ".join(curl.stderr.split()))
git = subprocess.run(["git", "ls-remote", url + "repo.git"], capture_output=True, text=True, timeout=60)
print("git", "TLS OK" if "is this a git repository" in git.stderr else " ".join(git.stderr.split()))
for var in ("CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE"):
    print(os.environ.get(var, ""))
"""


def ders(path: Path | str) -> set[bytes]:
    """The certificates of a PEM file, as DER."""
    text = Path(path).read_text(encoding="ascii", errors="replace")
    end = "-----END CERTIFICATE-----"
    blocks = [b + end for b in text.split(end) if "-----BEGIN CERTIFICATE-----" in b]
    return {ssl.PEM_cert_to_DER_cert(b[b.index("-----BEGIN CERTIFICATE-----") :]) for b in blocks}


def is_ours(path: str) -> bool:
    return Path(path).name.startswith("cert-session-") and Path(path).is_file()


@pytest.fixture(scope="session")
def httpx_venv(wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """httpx and its dependencies from the registry, the company wheel, and the stand-in certifi
    whose roots include the company root and a newer root that OpenSSL's default file lacks."""
    house = download(tmp_path_factory.mktemp("wheelhouse-httpx"), "httpx", certifi_from=wheelhouse)
    base = tmp_path_factory.mktemp("venv-httpx")
    venv = make_venv(base / "venv")
    venv.pip(
        clean_env(base / "home"),
        "install", "-q", "--no-index", "-f", str(house),
        "httpx", "certifi==" + CERTIFI_WITH_NEW_ROOT, str(project_wheel),
    )
    return venv


@pytest.fixture
def system_bundle(world: World, tmp_path: Path) -> Path:
    """A stand-in system bundle where IT installed the company root (no intermediate)."""
    path = tmp_path / "system-ca.pem"
    path.write_bytes(world.company.root_pem.read_bytes())
    return path


# ------------------------------------------------------------------- ssl


def test_ssl_target_makes_urllib_and_httpx_trust_company_chain_keeping_openssl_roots(
    httpx_venv: Venv, world: World, tmp_path: Path
) -> None:
    url = world.urls["company"]
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="requests,ssl", CERT_SESSION_CERTS=str(world.company.root_pem))
    proc = httpx_venv.run(env, "-c", CLIENTS, url)
    results, bundle = proc.stdout.splitlines()
    assert results == "urllib OK | httpx OK", proc.stdout + proc.stderr
    assert proc.stderr == ""
    # Append semantics: OpenSSL's own default file (urllib's) and certifi
    # (httpx's) both stay fully trusted.
    default_file = ssl.get_default_verify_paths().openssl_cafile
    assert is_ours(bundle)
    certifi_file = httpx_venv.site_packages / "certifi" / "cacert.pem"
    expected = ders(default_file) | ders(certifi_file) | ders(world.company.intermediate_pem) | ders(world.company.root_pem)
    assert ders(bundle) == expected

    # The same company certificates without the ssl target (CERT_SESSION_TARGETS=requests,
    # the behaviour before it became a default target): urllib is untouched.
    off = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(world.company.root_pem), CERT_SESSION_TARGETS="requests")
    proc = httpx_venv.run(off, "-c", CLIENTS, url)
    assert proc.stdout.splitlines() == ["urllib SSLCertVerificationError | httpx CERTIFICATE_VERIFY_FAILED", ""]


def test_ssl_target_without_preset_keeps_certifi_only_root_for_httpx_and_every_openssl_root_for_urllib(
    httpx_venv: Venv, world: World, tmp_path: Path
) -> None:
    # The newroot site's root is in this certifi and not in OpenSSL's default
    # file: httpx reached it before the ssl target was turned on.
    newroot = world.urls["newroot"]
    before = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="requests")  # the ssl target off
    proc = httpx_venv.run(before, "-c", CLIENTS, newroot)
    assert proc.stdout.splitlines() == ["urllib SSLCertVerificationError | httpx OK", ""], proc.stdout + proc.stderr

    # No CERT_SESSION_CERTS: the company root comes from certifi, the
    # intermediate from the wheel.
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="requests,ssl")
    proc = httpx_venv.run(env, "-c", CLIENTS, newroot)
    results, bundle = proc.stdout.splitlines()
    assert results == "urllib OK | httpx OK", proc.stdout + proc.stderr
    assert proc.stderr == ""
    proc = httpx_venv.run(env, "-c", CLIENTS, world.urls["company"])
    assert proc.stdout.splitlines() == ["urllib OK | httpx OK", bundle], proc.stdout + proc.stderr
    default_file = ssl.get_default_verify_paths().openssl_cafile
    assert ders(default_file) <= ders(bundle)  # urllib keeps every root it had
    assert ders(httpx_venv.site_packages / "certifi" / "cacert.pem") <= ders(bundle)  # and httpx too
    assert ders(world.newroot.root_pem) <= ders(bundle)


def test_ssl_target_appends_to_preset_ssl_cert_file_and_leaves_it_byte_identical(
    httpx_venv: Venv, world: World, system_bundle: Path, tmp_path: Path
) -> None:
    url = world.urls["company"]
    before = system_bundle.read_bytes()
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="ssl", SSL_CERT_FILE=str(system_bundle))
    proc = httpx_venv.run(env, "-c", CLIENTS, url)
    results, bundle = proc.stdout.splitlines()
    assert results == "urllib OK | httpx OK", proc.stdout + proc.stderr
    assert ders(bundle) == ders(system_bundle) | ders(world.company.intermediate_pem)
    assert system_bundle.read_bytes() == before

    off = clean_env(tmp_path / "home", SSL_CERT_FILE=str(system_bundle), CERT_SESSION_TARGETS="requests")  # no ssl target
    proc = httpx_venv.run(off, "-c", CLIENTS, url)
    assert proc.stdout.splitlines() == [
        "urllib SSLCertVerificationError | httpx CERTIFICATE_VERIFY_FAILED",
        str(system_bundle),
    ]


# ------------------------------------------------------------------ node


def test_node_target_makes_node_child_trust_company_chain_with_company_certs_only(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    url = world.urls["company"]
    company = str(world.company.root_pem)  # Node's own roots lack this test root
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="requests,node", CERT_SESSION_CERTS=company)
    proc = installed.run(env, "-c", RUN_NODE, NODE_GET, url)
    result, extra = proc.stdout.splitlines()
    assert result == "OK 200", proc.stdout + proc.stderr
    # Node appends NODE_EXTRA_CA_CERTS to its own roots: company certificates only.
    assert is_ours(extra)
    assert ders(extra) == ders(world.company.intermediate_pem) | ders(world.company.root_pem)

    # Without the node target (the defaults, requests,ssl), NODE_EXTRA_CA_CERTS
    # is not set. Node then trusts the company chain only if it reads OpenSSL's
    # default store, which the ssl target's SSL_CERT_FILE names: Debian's nodejs
    # does (built with --openssl-use-def-ca-store); nodejs.org's builds use
    # their own roots and fail.
    off = clean_env(tmp_path / "home", CERT_SESSION_CERTS=company)
    proc = installed.run(off, "-c", RUN_NODE, NODE_GET, url)
    want = "OK 200" if node_reads_ssl_cert_file(world, tmp_path / "probe") else "ERR "
    assert proc.stdout.splitlines()[0].startswith(want), proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1:] == [""]


def node_reads_ssl_cert_file(world: World, scratch: Path) -> bool:
    """Whether this node verifies with OpenSSL's default paths: SSL_CERT_FILE holding the company chain, no other roots."""
    scratch.mkdir(parents=True)
    chain = scratch / "chain.pem"
    chain.write_bytes(world.company.root_pem.read_bytes() + world.company.intermediate_pem.read_bytes())
    (scratch / "no-certs").mkdir()
    env = clean_env(scratch / "home", SSL_CERT_FILE=str(chain), SSL_CERT_DIR=str(scratch / "no-certs"))
    proc = subprocess.run(["node", "-e", NODE_GET, world.urls["company"]], env=env, capture_output=True, text=True, timeout=60)
    return proc.stdout.startswith("OK 200")


# ------------------------------------------------------ curl, git and aws


def test_curl_git_and_aws_targets_append_to_their_preset_bundles(
    installed: Venv, world: World, system_bundle: Path, tmp_path: Path
) -> None:
    for tool in ("curl", "git"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed" % tool)
    url = world.urls["company"]
    before = system_bundle.read_bytes()
    presets = {var: str(system_bundle) for var in ("CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE")}
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="curl,git,aws", GIT_TERMINAL_PROMPT="0", **presets)
    proc = installed.run(env, "-c", RUN_CURL_GIT, url)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["curl 200", "git TLS OK"], proc.stdout + proc.stderr
    for bundle in lines[2:]:  # what botocore would load for AWS_CA_BUNDLE, too
        assert is_ours(bundle)
        assert ders(bundle) == ders(system_bundle) | ders(world.company.intermediate_pem)
    assert system_bundle.read_bytes() == before

    off = clean_env(tmp_path / "home", GIT_TERMINAL_PROMPT="0", **presets)  # default targets: requests,ssl
    proc = installed.run(off, "-c", RUN_CURL_GIT, url)
    lines = proc.stdout.splitlines()
    # curl (OpenSSL) and Debian's git (GnuTLS) word it differently; curl's
    # wording changed in 8.x ("SSL certificate OpenSSL verify result"), its code 60 did not.
    assert "curl: (60)" in lines[0] and "unable to get local issuer certificate" in lines[0], proc.stdout
    assert "certificate verification failed" in lines[1], proc.stdout
    assert lines[2:] == [str(system_bundle)] * 3


# ---------------------------------------------------------------- status


def test_status_shows_each_active_target_and_its_bundle(installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(
        tmp_path / "home",
        CERT_SESSION_TARGETS="requests,ssl,node",
        CERT_SESSION_CERTS=str(world.company.root_pem),
    )
    exported = installed.run(env, "-c", "import os; print(os.environ['SSL_CERT_FILE'], os.environ['NODE_EXTRA_CA_CERTS'])")
    ssl_bundle, node_bundle = exported.stdout.split()
    cli = installed.script("cert-session")
    proc = subprocess.run([cli, "status"], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert "target ssl: SSL_CERT_FILE=%s" % ssl_bundle in out, out + proc.stderr
    assert "target node: NODE_EXTRA_CA_CERTS=%s" % node_bundle in out
    assert "merged bundle: %s (2 certificates)" % node_bundle in out
    assert "target curl" not in out and "target aws" not in out
