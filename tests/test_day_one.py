"""Issue #19: a company's first day, with a real company wheel and no configuration at all.

The wheel is the one `cert-session package --name acme-certs --cert Issuer.crt`
writes (tests/conftest.py ``acme``), installed with real pip into a venv
holding the clients from the registry. Every server is a loopback TLS server
that sends only its leaf. The company root sits in the stand-in certifi (as
a public root would); Issuer.crt, the intermediate, comes from the wheel.

- every HTTP stack trusts the company chain by default (``requests,ssl``),
  while each keeps the roots it had, a preset ``SSL_CERT_FILE`` stays
  byte-identical, a tool's own context is kept and ``CERT_SESSION_EXPORT=0``
  and ``CERT_SESSION_TARGETS=requests`` are respected;
- the first install on a machine that has never had the package: pip (and uv)
  with ``acme-certs-bootstrap.pem`` against a real index (pypiserver) behind
  the company chain, the wheel uploaded to it by twine through the chain.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, CompanyWheel, Index, World
from tests.helpers import servers
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import BIN, GET, Venv, make_venv
from tests.helpers.wheels import download

CLIENT_NAMES = ["requests", "urllib", "urllib3", "httpx", "aiohttp", "huggingface_hub"]
# Issue #23: the clients of the README's table not in CLIENT_NAMES (httpx2 is
# huggingface_hub's stack, botocore the AWS CLI's), plus niquests (with
# urllib3-future, which takes urllib3's place) and google-auth's session (requests
# underneath). The tools run as children of the probe, a hooked Python,
# when PROBE_TOOLS=1: URL must then be a simple index holding demo-pkg.
MORE_CLIENTS = ["niquests", "httpx2", "google_auth", "botocore"]
# The command-line tools among them that this machine has (tests/test_targets.py says when node is missing).
TOOLS = ["pip", "uv"] + [t for t in ("curl", "git", "node") if shutil.which(t)]

# Each client with its own defaults, as a tool would call it. argv: URL [own-CA-file | off].
# With own-CA-file, each client is given its own context/bundle instead (verify=, ssl=, context=,
# --cert, --cacert, ...); with "off", its own switch that turns verification off.
CLIENTS = r"""
import asyncio, os, ssl, subprocess, sys, tempfile, urllib.parse, urllib.request, warnings
warnings.simplefilter("ignore")  # InsecureRequestWarning and the like: what is tested is the outcome
url = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "default"
off = mode == "off"
ca = mode if mode not in ("default", "off") else None
own = ssl.create_default_context(cafile=ca) if ca else None
host = urllib.parse.urlsplit(url).netloc
verify = ca if ca else (False if off else None)  # requests-style verify=, None: the default

def requests_get():
    import requests
    requests.get(url, timeout=20, **({} if verify is None else {"verify": verify}))

def urllib_get():
    urllib.request.urlopen(url, timeout=20, context=ssl._create_unverified_context() if off else own).read()

def urllib3_get():
    import urllib3
    kw = {"ssl_context": own} if own else ({"cert_reqs": "CERT_NONE"} if off else {})
    urllib3.PoolManager(**kw).request("GET", url, timeout=20, retries=False)

def httpx_get():
    import httpx
    httpx.get(url, timeout=20, **({"verify": own or False} if mode != "default" else {}))

def aiohttp_get():
    import aiohttp
    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(url, **({"ssl": own or False} if mode != "default" else {})) as r:
                await r.read()
    asyncio.run(main())

def huggingface_hub_get():
    import huggingface_hub
    if mode != "default":  # huggingface_hub 2.x: the tool hands it its own httpx2 client
        import httpx2
        huggingface_hub.set_client_factory(lambda: httpx2.Client(verify=own or False))
    huggingface_hub.get_session().get(url)

def niquests_get():
    import niquests
    s = niquests.Session()  # Session.verify, as the issue reports it
    if verify is not None:
        s.verify = verify
    s.get(url, timeout=20).raise_for_status()

def httpx2_get():
    import httpx2
    httpx2.get(url, timeout=20, **({"verify": own or False} if mode != "default" else {}))

def google_auth_get():
    import google.auth.credentials, google.auth.transport.requests
    s = google.auth.transport.requests.AuthorizedSession(google.auth.credentials.AnonymousCredentials())
    if verify is not None:
        s.verify = verify
    s.get(url, timeout=20)

def botocore_get():
    import botocore.exceptions, botocore.session
    kw = {"verify": ca or False} if mode != "default" else {}
    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", **kw)
    try:
        client.list_buckets()
    except (botocore.exceptions.SSLError, botocore.exceptions.ConnectionError):
        raise
    except Exception:
        pass  # the server answered (with no S3 in it): the handshake went through

def tool(argv, env=None):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env)
    text = proc.stdout + proc.stderr
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or "SSL certificate problem" in text \
            or "SSL certificate OpenSSL verify result" in text \
            or "UnknownIssuer" in text or "unable to get local issuer" in text or "certificate verification failed" in text:
        raise ssl.SSLError("CERTIFICATE_VERIFY_FAILED")
    return proc, text

def pip_get():
    flags = ["--cert", ca] if ca else (["--trusted-host", host] if off else [])
    with tempfile.TemporaryDirectory() as d:
        proc, text = tool([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", d, "--index-url", url, *flags, "demo-pkg"])
    assert proc.returncode == 0, text

def uv_get():
    env = dict(os.environ, **({"SSL_CERT_FILE": ca} if ca else {}))  # uv takes its own bundle from SSL_CERT_FILE
    flags = ["--allow-insecure-host", host] if off else []
    proc, text = tool([os.environ["PROBE_UV"], "pip", "install", "--dry-run", "--no-cache", "--python", sys.executable,
                       "--index-url", url, *flags, "demo-pkg"], env)
    assert proc.returncode == 0, text

def curl_get():
    flags = ["--cacert", ca] if ca else (["-k"] if off else [])
    proc, text = tool(["curl", "-sS", "-o", os.devnull, *flags, url])
    assert proc.returncode == 0, text

def git_get():
    env = dict(os.environ, **({"GIT_SSL_CAINFO": ca} if ca else {}))  # beats http.sslCAInfo
    flags = ["-c", "http.sslVerify=false"] if off else []
    proc, text = tool(["git", *flags, "ls-remote", url + "repo.git"], env)
    # The handshake went through: the server answered (404: no repository there), or GnuTLS
    # (Debian's git) reports the plain HTTP/1.0 server closing without a TLS close_notify.
    assert "not found" in text or "is this a git repository" in text or "non-properly terminated" in text, text

def node_get():
    script = "const https = require('https'), fs = require('fs'); const [url, mode] = process.argv.slice(1);" \
        "const o = mode === 'off' ? {rejectUnauthorized: false} : mode !== 'default' ? {ca: fs.readFileSync(mode)} : {};" \
        "https.get(url, o, r => { r.resume(); r.on('end', () => console.log('OK')); })" \
        ".on('error', e => { console.log(e.code || e.message); process.exit(3); });"
    proc, text = tool(["node", "-e", script, url, mode])
    if proc.stdout.strip() != "OK":
        raise ssl.SSLError("CERTIFICATE_VERIFY_FAILED" if "CERT" in text or "UNABLE_TO_VERIFY" in text else text)

names = %r
if os.environ.get("PROBE_TOOLS") == "1":
    names += %r
for name in names:
    try:
        __import__(name.replace("google_auth", "google.auth")) if name not in %r else None
    except ImportError:
        print(name, "missing")
        continue
    try:
        globals()[name + "_get"]()
        print(name, "OK")
    except BaseException as e:
        text = repr(e) + repr(getattr(e, "__cause__", None)) + repr(getattr(e, "__context__", None))
        print(name, "CERTIFICATE_VERIFY_FAILED" if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text else " ".join(text.split())[:300])
print("SSL_CERT_FILE", os.environ.get("SSL_CERT_FILE", ""))
""" % (CLIENT_NAMES + MORE_CLIENTS, TOOLS, TOOLS)


def results(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = [line.split(" ", 1) for line in proc.stdout.splitlines() if line]
    return {k: v for k, v in lines}


def ders(path: Path | str) -> set[bytes]:
    text = Path(path).read_text(encoding="ascii", errors="replace")
    end = "-----END CERTIFICATE-----"
    return {ssl.PEM_cert_to_DER_cert(b[b.index("-----BEGIN") :] + end) for b in text.split(end) if "-----BEGIN" in b}


@pytest.fixture(scope="session")
def clients_house(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clients (and twine) from the registry; certifi replaced by the stand-ins."""
    house = tmp_path_factory.mktemp("wheelhouse-clients")
    download(house, "requests", "httpx", "urllib3", "aiohttp", "twine", certifi_from=wheelhouse)
    try:  # huggingface_hub "where it installs"
        download(house, "huggingface_hub", certifi_from=wheelhouse)
    except subprocess.CalledProcessError:
        pass
    return house


@pytest.fixture(scope="session")
def clients(clients_house: Path, acme: CompanyWheel, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Every client, pip, the stand-in certifi with the company root, and the acme-certs wheel."""
    base = tmp_path_factory.mktemp("venv-clients")
    venv = make_venv(base / "venv", with_pip=True)
    specs = ["requests", "httpx", "urllib3", "aiohttp", "twine", "certifi==" + CERTIFI_WITH_ROOT, str(acme.wheel)]
    if list(clients_house.glob("huggingface_hub-*.whl")):
        specs.append("huggingface_hub")
    venv.pip(clean_env(base / "home"), "install", "-q", "--no-index", "-f", str(clients_house), *specs)
    return venv


def day_one_env(home: Path, **extra: str | None) -> dict[str, str]:
    """A new user's environment: no variable of ours or any preset bundle (tests/helpers/env.py)."""
    return clean_env(home, HF_HUB_OFFLINE=None, **extra)


def test_acme_wheel_defaults_to_requests_and_ssl_and_carries_the_license(acme: CompanyWheel) -> None:
    with zipfile.ZipFile(acme.wheel) as zf:
        assert b'\nDEFAULT_TARGETS = "requests,ssl"\n' in zf.read("cert_session/_defaults.py")
        (license_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/LICENSE")]
        text = zf.read(license_name).decode()
        assert "MIT License" in text and "cert-session contributors" in text
        assert "License: MIT" in zf.read(license_name.replace("LICENSE", "METADATA")).decode()
        assert any(line.startswith(license_name + ",sha256=") for line in zf.read(license_name.replace("LICENSE", "RECORD")).decode().splitlines())


def test_every_client_trusts_the_company_chain_with_no_configuration(
    clients: Venv, world: World, tmp_path: Path
) -> None:
    env = day_one_env(tmp_path / "home")
    proc = clients.run(env, "-c", CLIENTS, world.urls["company"], check=False)
    got = results(proc)
    hf = "missing" if got.get("huggingface_hub") == "missing" else "OK"
    assert {n: got[n] for n in CLIENT_NAMES} == dict({n: "OK" for n in CLIENT_NAMES}, huggingface_hub=hf), proc.stdout + proc.stderr
    assert proc.stderr == ""
    bundle = got["SSL_CERT_FILE"]
    assert Path(bundle).name.startswith("cert-session-")
    # No client lost a root: OpenSSL's default file (urllib, aiohttp) and certifi (httpx, urllib3's
    # default under requests) are both in the exported bundle, plus the company certificate.
    default_file = ssl.get_default_verify_paths().openssl_cafile
    certifi_file = clients.site_packages / "certifi" / "cacert.pem"
    assert ders(bundle) == ders(default_file) | ders(certifi_file) | ders(world.company.intermediate_pem)

    # Negative control: the behaviour of 0.2.0 (requests only) leaves every other client failing.
    old = day_one_env(tmp_path / "home", CERT_SESSION_TARGETS="requests")
    got = results(clients.run(old, "-c", CLIENTS, world.urls["company"], check=False))
    assert got["requests"] == "OK" and got["SSL_CERT_FILE"] == ""
    for name in ["urllib", "urllib3", "httpx", "aiohttp"] + (["huggingface_hub"] if hf == "OK" else []):
        assert got[name] == "CERTIFICATE_VERIFY_FAILED", (name, got)


def test_pip_downloads_from_an_index_behind_the_company_chain_with_the_acme_wheel(
    clients: Venv, index: Index, tmp_path: Path
) -> None:
    env = day_one_env(tmp_path / "home")
    dest = tmp_path / "dest"
    proc = clients.run(
        env, "-m", "pip", "download", "-q", "--no-deps", "--index-url", index.company + "simple/", "-d", str(dest), "demo-pkg",
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in dest.iterdir()] == [index.wheel.name]


def test_by_default_a_preset_ssl_cert_file_is_appended_to_and_stays_byte_identical(
    clients: Venv, world: World, tmp_path: Path
) -> None:
    system = tmp_path / "system-ca.pem"
    system.write_bytes(world.company.root_pem.read_bytes() + world.newroot.root_pem.read_bytes())
    before = system.read_bytes()
    env = day_one_env(tmp_path / "home", SSL_CERT_FILE=str(system))
    for url in (world.urls["company"], world.urls["newroot"]):  # newroot: only the preset file has its root
        got = results(clients.run(env, "-c", CLIENTS, url, check=False))
        assert (got["urllib"], got["httpx"], got["aiohttp"]) == ("OK", "OK", "OK"), got
    assert ders(got["SSL_CERT_FILE"]) == ders(system) | ders(world.company.intermediate_pem)
    assert system.read_bytes() == before


def test_by_default_a_tools_own_context_or_bundle_is_kept(clients: Venv, world: World, tmp_path: Path) -> None:
    # Each client is handed a context (or, for requests, a file) trusting only the private root.
    env = day_one_env(tmp_path / "home")
    own = str(world.private.root_pem)
    got = results(clients.run(env, "-c", CLIENTS, world.urls["private"], own, check=False))
    assert [got[n] for n in ["requests", "urllib", "urllib3", "httpx", "aiohttp"]] == ["OK"] * 5, got
    # ... and a context is not given the company chain behind the tool's back (requests' own
    # file gets the company certificates: the verify guard's documented rule, without public roots).
    got = results(clients.run(env, "-c", CLIENTS, world.urls["company"], own, check=False))
    assert [got[n] for n in ["urllib", "urllib3", "httpx", "aiohttp"]] == ["CERTIFICATE_VERIFY_FAILED"] * 4, got


def test_by_default_export_off_exports_nothing_and_only_requests_uses_the_bundle(
    clients: Venv, world: World, tmp_path: Path
) -> None:
    env = day_one_env(tmp_path / "home", CERT_SESSION_EXPORT="0")
    got = results(clients.run(env, "-c", CLIENTS, world.urls["company"], check=False))
    assert got["requests"] == "OK" and got["SSL_CERT_FILE"] == "", got
    assert [got[n] for n in ["urllib", "urllib3", "httpx", "aiohttp"]] == ["CERTIFICATE_VERIFY_FAILED"] * 4, got


# ------------------------------------------- every client, before, with and after the wheel

LIFECYCLE_TARGETS = "requests,ssl,curl,git,node,aws"  # the default targets and the opt-in ones with a client here


@pytest.fixture(scope="session")
def lifecycle_venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Every Python client of the README's table from the registry, niquests (whose urllib3-future
    takes urllib3's place, under requests too) and google-auth, its own pip, the stand-in certifi
    with the company root; not our package."""
    base = tmp_path_factory.mktemp("venv-lifecycle")
    specs = ["requests", "niquests", "httpx", "urllib3", "aiohttp", "huggingface_hub", "google-auth", "botocore"]
    house = download(base / "house", *specs, certifi_from=wheelhouse)
    venv = make_venv(base / "venv", with_pip=True)
    venv.pip(clean_env(base / "home"), "install", "-q", "--no-index", "-f", str(house), *specs, "certifi==" + CERTIFI_WITH_ROOT)
    return venv


# The bundle niquests' default verify uses, the exported SSL_CERT_FILE, and how many roots
# of the OS store niquests verifies with by default (wassima) that bundle lacks.
NIQUESTS_DEFAULT = r"""
import os, ssl, niquests, wassima
used = niquests.Session().merge_environment_settings("https://localhost/", {}, None, None, None)["verify"]
text = open(used).read()
end = "-----END CERTIFICATE-----"
ders = {ssl.PEM_cert_to_DER_cert(b[b.index("-----BEGIN"):] + end) for b in text.split(end) if "-----BEGIN" in b}
print(used, os.environ.get("SSL_CERT_FILE"), os.environ.get("REQUESTS_CA_BUNDLE"), len(set(wassima.root_der_certificates()) - ders))
"""


def every_client(venv: Venv, env: dict[str, str], url: str, mode: str) -> dict[str, str]:
    """Each client's outcome for one GET of ``url`` in a fresh process: "OK" or "CERTIFICATE_VERIFY_FAILED"."""
    proc = venv.run(env, "-c", CLIENTS, url, mode, check=False)
    got = results(proc)
    names = CLIENT_NAMES + MORE_CLIENTS + TOOLS
    assert set(names) <= set(got), proc.stdout + proc.stderr
    return {name: got[name] for name in names}


def test_every_client_fails_without_the_wheel_works_with_it_keeps_its_own_choices_and_fails_after_uninstall(
    lifecycle_venv: Venv, project_wheel: Path, index: Index, world: World, uv: str, tmp_path: Path
) -> None:
    """Issue #23: each client of the README's table, and niquests, through the whole life of the package.

    ``default``: the company index (behind the company chain), each client as it
    comes. ``own``: the private index, each client handed its own bundle
    holding only the private root (verify=, ssl=, context=, --cert, --cacert, the
    tool's own variable). ``off``: the private index, each client's own switch
    that turns verification off (verify=False, -k, --trusted-host, ...).
    """
    home = tmp_path / "home"
    env = day_one_env(
        home, CERT_SESSION_TARGETS=LIFECYCLE_TARGETS, PROBE_TOOLS="1", PROBE_UV=uv,
        UV_CACHE_DIR=str(home / "uv-cache"), UV_NO_CONFIG="1", GIT_TERMINAL_PROMPT="0",
        # Node ships its own roots, not certifi's: the company root (a public root in this
        # world, in the stand-in certifi) joins them as it would be among them.
        NODE_EXTRA_CA_CERTS=str(world.company.root_pem),
        # git's base, the system CA file, lacks this world's company root (only the
        # stand-in certifi has it): the trust rule (issue #22) would leave the
        # intermediate out of git's bundle. So the root is a company certificate
        # too, as a company whose root is not public ships it.
        CERT_SESSION_CERTS=str(world.company.root_pem),
        AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    company, private = index.company + "simple/", index.private + "simple/"
    own = str(world.private.root_pem)
    names = CLIENT_NAMES + MORE_CLIENTS + TOOLS
    ok = {n: "OK" for n in names}
    refused = {n: "CERTIFICATE_VERIFY_FAILED" for n in names}

    def each_mode(default: dict[str, str]) -> None:
        """Every client in each mode, against what is expected: the company index by ``default``, the private one ``ok``."""
        for url, mode, want in ((company, "default", default), (private, own, ok), (private, "off", ok)):
            got = every_client(lifecycle_venv, env, url, mode)
            assert {n: got[n] for n in names if got[n] != want[n]} == {}, mode

    each_mode(refused)  # without the package: the company chain is unknown to all

    lifecycle_venv.pip(clean_env(home), "install", "-q", "--no-index", "--no-deps", str(project_wheel))
    try:
        each_mode(ok)  # the company chain, and each client's own bundle and switch
        proc = lifecycle_venv.run(env, "-c", CLIENTS, company, check=False)
        assert proc.stderr == "" and results(proc)["SSL_CERT_FILE"], proc.stderr
        # niquests' default is the OS store (wassima): its default verify is the exported
        # SSL_CERT_FILE, which holds every root of that store, not certifi's REQUESTS_CA_BUNDLE.
        used, store, _, missing = lifecycle_venv.run(env, "-c", NIQUESTS_DEFAULT).stdout.split()
        assert (used, missing) == (store, "0")
        # requests beside niquests runs on urllib3-future, which sets each connection's ALPN
        # on the context it is given: no shared, preloaded context for it.
        proc = lifecycle_venv.run(dict(env, CERT_SESSION_DEBUG="1"), "-c", GET, company)
        assert proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
        assert "requests: no preloaded CA contexts (urllib3 configures the context of each connection)" in proc.stderr
        # A preset REQUESTS_CA_BUNDLE is what niquests used before: that file plus the company certificates.
        preset = dict(env, REQUESTS_CA_BUNDLE=str(world.company.root_pem))
        used, _, bundle, _ = lifecycle_venv.run(preset, "-c", NIQUESTS_DEFAULT).stdout.split()
        assert used == bundle and "cert-session-" in bundle
    finally:
        # The real uninstall, run by the environment's own pip (a hooked process).
        lifecycle_venv.run(clean_env(home), "-m", "pip", "uninstall", "-y", "cert-session-company")
    assert not (lifecycle_venv.site_packages / "cert_session_hook.pth").exists()
    # A fresh process after uninstall: nothing of ours is exported or used, so the company chain fails again.
    each_mode(refused)
    proc = lifecycle_venv.run(env, "-c", CLIENTS, company, check=False)
    assert results(proc)["SSL_CERT_FILE"] == "" and "cert-session" not in proc.stderr, proc.stdout + proc.stderr


# --------------------------------------------------- the first install: bootstrap


def test_bootstrap_holds_certifi_roots_of_build_time_and_the_company_certificate(
    acme: CompanyWheel, installed: Venv, world: World
) -> None:
    assert str(acme.bootstrap) in acme.output and acme.bootstrap.name == "acme-certs-bootstrap.pem"
    certifi_then = installed.site_packages / "certifi" / "cacert.pem"  # the builder's certifi
    assert ders(acme.bootstrap) == ders(certifi_then) | ders(world.company.intermediate_pem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CompanyIndex:
    def __init__(self, url: str, packages: Path) -> None:
        self.url = url  # https://localhost:PORT/ behind the company chain
        self.packages = packages


@pytest.fixture(scope="session")
def pypiserver(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """pypiserver from the registry, in a venv of its own.

    Not in the [test] extra: it requires pip, and would upgrade the test
    runner's own pip past the versions that still serve Python 3.8 and 3.9.
    """
    base = tmp_path_factory.mktemp("pypiserver")
    house = download(base / "house", "pypiserver")
    venv = make_venv(base / "venv")
    venv.pip(clean_env(base / "home"), "install", "-q", "--no-index", "-f", str(house), "pypiserver")
    return venv


@pytest.fixture(scope="session")
def company_index(
    world: World, clients: Venv, acme: CompanyWheel, wheelhouse: Path, pypiserver: Venv,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CompanyIndex]:
    """pypiserver (the real one, from the registry) behind a TLS front sending only its leaf.

    acme-certs is uploaded by twine, run from the clients venv, where the
    acme wheel makes it trust the company chain; certifi (the stand-in, as
    a company mirror would hold it) too.
    """
    base = tmp_path_factory.mktemp("company-index")
    packages = base / "packages"
    packages.mkdir()
    port = _free_port()
    server = subprocess.Popen(
        [pypiserver.python, "-m", "pypiserver", "run", "-i", "127.0.0.1", "-p", str(port), "-a", ".", "-P", ".",
         "--disable-fallback", str(packages)],
        env=clean_env(base / "server-home"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert server.poll() is None and time.time() < deadline, "pypiserver did not start"
            time.sleep(0.2)
        with servers.tls_proxy(world.company.leaf_pem, world.company.leaf_key, ("127.0.0.1", port)) as url:
            (certifi,) = wheelhouse.glob("certifi-%s-*.whl" % CERTIFI_WITH_ROOT)
            env = clean_env(base / "twine-home", TWINE_USERNAME="acme", TWINE_PASSWORD="unused",  # noqa: S106 - pypiserver runs with -a . (no authentication)
                            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
            proc = clients.run(
                env, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
                "--repository-url", url, str(acme.wheel), str(certifi), check=False,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert sorted(p.name for p in packages.iterdir()) == sorted([acme.wheel.name, certifi.name])
            yield CompanyIndex(url, packages)
    finally:
        server.terminate()
        server.wait(30)


def test_first_install_on_a_new_machine_with_pip_and_the_bootstrap_bundle(
    company_index: CompanyIndex, acme: CompanyWheel, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")  # PIP_CONFIG_FILE=os.devnull, no PIP_CERT: a new laptop
    laptop = make_venv(tmp_path / "laptop", with_pip=True)  # never had our package
    install = ["-m", "pip", "install", "-q", "--index-url", company_index.url + "simple/", "acme-certs"]

    # What the README used to leave people with: the intermediate alone is no trust anchor.
    issuer = tmp_path / "Issuer.crt"
    issuer.write_bytes(world.company.intermediate_pem.read_bytes())
    proc = laptop.run(env, *install[:3], "--cert", str(issuer), *install[3:], check=False)
    assert proc.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not list(laptop.site_packages.glob("cert_session_hook.py"))

    proc = laptop.run(env, *install[:3], "--cert", str(acme.bootstrap), *install[3:], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Then nothing more: a plain urllib call (and pip itself, next time) trusts the company chain.
    probe = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20); print('OK')"
    assert laptop.run(env, "-c", probe, world.urls["company"]).stdout == "OK\n"
    again = laptop.run(env, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp_path / "d"),
                       "--index-url", company_index.url + "simple/", "acme-certs", check=False)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.fixture(scope="session")
def uv(tmp_path_factory: pytest.TempPathFactory) -> str:
    """uv from PyPI, in a venv of its own (without our package)."""
    base = tmp_path_factory.mktemp("uv")
    try:
        house = download(base / "house", "uv", deps=False)
    except subprocess.CalledProcessError:
        pytest.skip("uv cannot be downloaded from the registry here")
    venv = make_venv(base / "venv")
    venv.pip(clean_env(base / "home"), "install", "-q", "--no-index", "-f", str(house), "uv")
    path = venv.path / BIN / ("uv" + (".exe" if os.name == "nt" else ""))
    if not path.is_file():
        pytest.skip("the uv wheel has no binary for this platform")
    return str(path)


def test_first_install_on_a_new_machine_with_uv_and_the_bootstrap_bundle(
    company_index: CompanyIndex, acme: CompanyWheel, uv: str, tmp_path: Path
) -> None:
    laptop = make_venv(tmp_path / "laptop")
    home = tmp_path / "home"
    argv = [uv, "pip", "install", "--no-cache", "--python", laptop.python, "--index-url", company_index.url + "simple/", "acme-certs"]
    env = clean_env(home, UV_NO_CONFIG="1", UV_CACHE_DIR=str(home / "uv-cache"), SSL_CERT_FILE=str(acme.bootstrap))
    proc = run(argv, env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (laptop.site_packages / "cert_session_hook.py").is_file()

    # Control: without the bootstrap bundle, uv cannot reach the index.
    other = make_venv(tmp_path / "other")
    proc = run([other.python if a == laptop.python else a for a in argv], clean_env(home, UV_NO_CONFIG="1"), check=False)
    assert proc.returncode != 0 and not (other.site_packages / "cert_session_hook.py").exists()
    shutil.rmtree(tmp_path / "other")
