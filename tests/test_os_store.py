"""Issue #12: the operating system's trust store as an opt-in source (CERT_SESSION_OS_STORE=1).

On Linux, the real thing: a hashed CA directory (``openssl rehash``) named by
SSL_CERT_DIR holds a root that nothing else has, served by a real HTTPS
server that sends only its leaf. On macOS and Windows, the parsers run on
recorded ``security`` output and on ``ssl.enum_certificates``-shaped results,
and Windows change detection runs the real hook under the platform emulation
(tests/helpers/emulation.py: winreg and enum_certificates backed by a directory).
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import cert_session_hook
from cert_session import _os_store, _pem, _platform
from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import emulation, pki, wheels
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import Venv

PROBE = r"""
import os, sys, requests
print(os.environ.get("REQUESTS_CA_BUNDLE", ""))
print("general" if "_cert_session._startup" in sys.modules else "fast")
for url in sys.argv[1:]:
    try:
        requests.get(url, timeout=20)
        print("ok")
    except requests.exceptions.SSLError:
        print("ssl")
"""

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl rehash makes the hashed CA directory")


@pytest.fixture(scope="module")
def store_venv(world: World, wheelhouse: Path, bare_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """requests, stand-in certifi and the wheel with no company certificate: the store is the only addition."""
    base = tmp_path_factory.mktemp("os-store")
    venv = new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(bare_wheel))
    emulation.install(venv.site_packages)
    return venv


def hashed_dir(path: Path, *roots: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for old in path.iterdir():
        old.unlink()
    for root in roots:
        shutil.copy(root, path / root.name.replace("root.pem", root.parent.name + ".pem"))
    subprocess.run(["openssl", "rehash", str(path)], check=True, capture_output=True)
    return path


def start(venv: Venv, env: dict[str, str], *urls: str) -> tuple[list[str], str]:
    proc = run([venv.python, "-c", PROBE, *urls], env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines(), proc.stderr


@needs_openssl
def test_root_only_in_the_openssl_ca_directory_is_trusted_with_the_option_on(
    store_venv: Venv, world: World, tmp_path: Path
) -> None:
    cadir = hashed_dir(tmp_path / "cadir", world.private.root_pem)
    on = clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir), CERT_SESSION_OS_STORE="1")
    off = clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir))

    (bundle, _, private), err = start(store_venv, on, world.urls["private"])
    assert (private, err) == ("ok", "")  # exported with no company certificate at all
    assert bundle.startswith(str(tmp_path / "home" / "cache"))
    assert start(store_venv, on, world.urls["private"])[0][1:] == ["fast", "ok"]  # steady: the fast path
    (bundle, _, private), err = start(store_venv, off, world.urls["private"])
    assert (bundle, private, err) == ("", "ssl", "")  # off: nothing exported, nothing added


@needs_openssl
def test_certifi_every_openssl_default_root_and_the_company_chain_stay_trusted(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    cadir = hashed_dir(tmp_path / "cadir", world.private.root_pem)
    cafile = tmp_path / "system.pem"  # SSL_CERT_FILE: OpenSSL's CA file for this process
    cafile.write_bytes(world.newroot.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir), SSL_CERT_FILE=str(cafile), CERT_SESSION_OS_STORE="1")
    (bundle, _, company, private, newroot), err = start(
        installed, env, world.urls["company"], world.urls["private"], world.urls["newroot"]
    )
    assert (company, private, newroot) == ("ok", "ok", "ok")
    # The ssl target (on by default) appends to this SSL_CERT_FILE, which lacks the company root:
    # said once, naming the variable; requests' base (certifi) has the root.
    assert err.count("\n") == 1 and "is neither in the base bundle of SSL_CERT_FILE (%s)" % cafile in err, err
    ders = {b.cert_der for b in _pem.iter_blocks(Path(bundle).read_bytes())}
    (certifi_pem,) = installed.site_packages.glob("certifi/cacert.pem")
    for source in (certifi_pem, cafile, world.private.root_pem, world.company.intermediate_pem):
        assert {b.cert_der for b in _pem.iter_blocks(source.read_bytes())} <= ders, source
    assert len(ders) == Path(bundle).read_bytes().count(b"-----BEGIN CERTIFICATE-----")  # each once


@needs_openssl
def test_a_root_added_to_or_removed_from_the_directory_counts_at_the_next_start(
    store_venv: Venv, world: World, tmp_path: Path
) -> None:
    cadir = hashed_dir(tmp_path / "cadir", world.private.root_pem)
    env = clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir), CERT_SESSION_OS_STORE="1")
    urls = (world.urls["private"], world.urls["newroot"])
    assert start(store_venv, env, *urls)[0][2:] == ["ok", "ssl"]

    hashed_dir(cadir, world.private.root_pem, world.newroot.root_pem)  # IT adds a root
    lines, err = start(store_venv, env, *urls)
    assert (lines[1:], err) == (["general", "ok", "ok"], "")  # noticed with no command
    assert start(store_venv, env, *urls)[0][1:] == ["fast", "ok", "ok"]

    hashed_dir(cadir, world.newroot.root_pem)  # and removes one
    assert start(store_venv, env, *urls)[0][2:] == ["ssl", "ok"]


@needs_openssl
def test_pip_trusts_an_index_under_a_root_only_in_the_os_store(
    store_venv: Venv, world: World, wheelhouse: Path, tmp_path: Path
) -> None:
    # pip's vendored requests, in the venv's own interpreter (pip --python runs there).
    from tests.helpers import servers

    cadir = hashed_dir(tmp_path / "cadir", world.private.root_pem)
    root = tmp_path / "index"
    (root / "simple" / "certifi").mkdir(parents=True)
    (wheel,) = wheelhouse.glob("certifi-%s-*.whl" % CERTIFI_WITH_ROOT)
    shutil.copy(wheel, root / wheel.name)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (root / "simple" / "certifi" / "index.html").write_text(
        '<a href="../../%s#sha256=%s">%s</a>\n' % (wheel.name, digest, wheel.name)
    )
    # pip 24.2 and later verify through truststore (the OS store) by default:
    # there the test is about pip's certifi-based verification, which
    # --use-deprecated=legacy-certs keeps (the runner's pip is 23.2 on 3.11, 26 on Debian's 3.15).
    import pip

    legacy = ["--use-deprecated=legacy-certs"] if tuple(map(int, pip.__version__.split(".")[:2])) >= (24, 2) else []
    results = {}
    with servers.serve_https(world.private.leaf_pem, world.private.leaf_key, root) as url:
        for option in ("1", "0"):
            dest = tmp_path / ("dl-" + option)
            env = clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir), CERT_SESSION_OS_STORE=option)
            proc = store_venv.pip(
                env, "download", "--no-deps", "--no-cache-dir", "--retries", "0", "--timeout", "20", *legacy,
                "-d", str(dest), "--index-url", url + "simple/", "certifi", check=False,
            )
            results[option] = (proc.returncode, (dest / wheel.name).is_file(), proc.stdout + proc.stderr)
    assert results["1"][:2] == (0, True), results["1"][2]
    assert results["0"][0] != 0 and not results["0"][1] and "CERTIFICATE_VERIFY_FAILED" in results["0"][2]


# --- macOS: recorded `security` output ----------------------------------------


def _trust_list(entries: dict[bytes, list[dict[str, object]]]) -> bytes:
    """What `security trust-settings-export -d` writes (an XML plist keyed by SHA-1)."""
    trust = {
        hashlib.sha1(der).hexdigest().upper(): {  # noqa: S324 - Apple's key
            "issuerName": b"", "modDate": None, "serialNumber": b"\x01", "trustSettings": settings,
        }
        for der, settings in entries.items()
    }
    for value in trust.values():
        del value["modDate"]
    return plistlib.dumps({"trustList": trust, "trustVersion": 1})


def test_macos_keeps_roots_unless_denied_and_system_keychain_certs_only_when_trusted_for_ssl(tmp_path: Path) -> None:
    chains = {name: pki.make_chain(tmp_path, name, intermediate=False) for name in ("a", "b", "c", "d", "e")}
    pem = {name: c.root_pem.read_bytes() for name, c in chains.items()}
    der = {name: next(_pem.iter_blocks(p)).cert_der for name, p in pem.items()}
    ssl_policy = {"kSecTrustSettingsPolicy": _os_store.APPLE_SSL_POLICY, "kSecTrustSettingsResult": 1}
    smime_only = {"kSecTrustSettingsPolicy": bytes.fromhex("2a864886f763640108"), "kSecTrustSettingsResult": 1}
    deny_ssl = {"kSecTrustSettingsPolicy": b"\x06\x09" + _os_store.APPLE_SSL_POLICY, "kSecTrustSettingsResult": 3}
    admin = _trust_list({der["b"]: [deny_ssl], der["c"]: [], der["d"]: [smime_only], der["e"]: [ssl_policy]})

    kept = _os_store.parse_macos(pem["a"] + pem["b"], pem["c"] + pem["d"] + pem["e"], admin)

    # a: a system root; b: denied for SSL by the admin; c: MDM-installed, trusted
    # for everything; d: trusted for S/MIME only; e: trusted for SSL.
    assert [b.cert_der for b in kept] == [der["a"], der["c"], der["e"]]
    assert _os_store.parse_macos(pem["a"], pem["c"], b"") == list(_pem.iter_blocks(pem["a"]))  # no settings: roots only


# --- Windows: ssl.enum_certificates results --------------------------------------


def test_windows_keeps_server_auth_roots_and_their_intermediates(tmp_path: Path) -> None:
    good = pki.make_chain(tmp_path, "good")
    email = pki.make_chain(tmp_path, "email", intermediate=False)
    server = pki.make_chain(tmp_path, "server", intermediate=False)
    stray = pki.make_chain(tmp_path, "stray")

    def der(path: Path) -> bytes:
        return next(_pem.iter_blocks(path.read_bytes())).cert_der

    root_store = [
        (der(good.root_pem), "x509_asn", True),
        (der(email.root_pem), "x509_asn", {"1.3.6.1.5.5.7.3.4"}),
        (der(server.root_pem), "x509_asn", {_os_store.SERVER_AUTH, "1.3.6.1.5.5.7.3.2"}),
        (b"\x30\x03\x02\x01\x01", "pkcs_7_asn", True),
    ]
    ca_store = [(der(good.intermediate_pem), "x509_asn", True), (der(stray.intermediate_pem), "x509_asn", True)]
    kept = [b.cert_der for b in _os_store.parse_windows(root_store, ca_store)]
    assert kept == [der(good.root_pem), der(server.root_pem), der(good.intermediate_pem)]


class FakeWinreg(types.ModuleType):
    """The builtin winreg's four names, over a dict of last-write times."""

    HKEY_LOCAL_MACHINE = "HKLM"
    HKEY_CURRENT_USER = "HKCU"

    def __init__(self, keys: dict[str, int]) -> None:
        super().__init__("winreg")
        self.keys = keys

    def OpenKey(self, hive: str, path: str) -> types.SimpleNamespace:  # noqa: N802 - winreg's name
        if "%s\\%s" % (hive, path) not in self.keys:
            raise FileNotFoundError(2, "not found", path)
        handle = types.SimpleNamespace(key="%s\\%s" % (hive, path))
        handle.__enter__ = lambda: handle  # type: ignore[attr-defined]
        return _Handle(handle.key)

    def QueryInfoKey(self, handle: _Handle) -> tuple[int, int, int]:  # noqa: N802
        return 0, 0, self.keys[handle.key]


class _Handle:
    def __init__(self, key: str) -> None:
        self.key = key

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_windows_registry_fingerprint_and_the_fast_path_copy_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    root_key = _os_store.REGISTRY_KEYS[0]
    user_key = [k for k in _os_store.REGISTRY_KEYS if "HKCU" in k][0]
    fake = FakeWinreg({root_key[len("registry:") :]: 133000000000000000, user_key[len("registry:") :]: 7})
    monkeypatch.setitem(sys.modules, "winreg", fake)
    monkeypatch.setattr(sys, "platform", "win32")
    for key in (root_key, user_key, _os_store.REGISTRY_KEYS[1]):
        assert cert_session_hook._registry(key) == _platform.WINDOWS.registry_fingerprint(key)
    before = _platform.WINDOWS.registry_fingerprint(root_key)
    fake.keys[root_key[len("registry:") :]] += 1  # a certificate added under the key
    assert _platform.WINDOWS.registry_fingerprint(root_key) != before
    assert _platform.WINDOWS.registry_fingerprint(_os_store.REGISTRY_KEYS[1]) == "-"  # no such key


def emulated_windows(tmp_path: Path) -> tuple[Path, dict[str, str | None]]:
    """An empty emulated ROOT store (a directory of DER files) and the variables of a Windows start."""
    registry = tmp_path / "registry"
    store = registry.joinpath(*emulation.REGISTRY_STORE, "ROOT", "Certificates")
    store.mkdir(parents=True)
    local = tmp_path / "home" / "AppData" / "Local"
    local.mkdir(parents=True)
    return store, dict(
        CERT_SESSION_EMULATE="win32", CERT_SESSION_EMULATE_REGISTRY=str(registry), CERT_SESSION_CACHE_DIR=None,
        HOME=None, LOCALAPPDATA=str(local), TEMP=str(local), USERNAME="alice",
    )


def test_windows_store_change_is_picked_up_at_the_next_start_under_emulation(
    store_venv: Venv, world: World, tmp_path: Path
) -> None:
    store, windows = emulated_windows(tmp_path)

    def add(name: str, root: Path) -> None:
        (store / name).write_bytes(next(_pem.iter_blocks(root.read_bytes())).cert_der)

    add("private", world.private.root_pem)
    env = clean_env(tmp_path / "home", CERT_SESSION_OS_STORE="1", **windows)
    urls = (world.urls["private"], world.urls["newroot"])
    lines, err = start(store_venv, env, *urls)
    assert (lines[2:], err) == (["ok", "ssl"], "")
    assert start(store_venv, env, *urls)[0][1:] == ["fast", "ok", "ssl"]  # steady: registry keys unchanged

    os.utime(store, ns=(0, store.stat().st_mtime_ns))  # no change yet ...
    add("newroot", world.newroot.root_pem)  # ... then IT adds a root (the key's last-write time moves)
    lines, err = start(store_venv, env, *urls)
    assert (lines[1:], err) == (["general", "ok", "ok"], "")
    assert start(store_venv, env, *urls)[0][1:] == ["fast", "ok", "ok"]


def test_status_lists_the_os_store_its_count_and_how_it_is_watched(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers.inprocess import isolate, run_main, status_json

    if shutil.which("openssl") is None:
        pytest.skip("openssl rehash makes the hashed CA directory")
    cadir = hashed_dir(tmp_path / "cadir", world.private.root_pem, world.newroot.root_pem)
    isolate(monkeypatch, tmp_path, SSL_CERT_DIR=str(cadir), SSL_CERT_FILE=str(tmp_path / "none.pem"), CERT_SESSION_OS_STORE="1")
    code, data = status_json(capsys)
    store = data["os_store"]
    assert store["enabled"] and store["certificates"] == 2 and str(cadir) in store["origin"]
    assert "next start" in store["refresh"]
    assert data["hook"]["active"], data["hook"]  # no company certificate, and still something to add
    code, out, _ = run_main(capsys, "status")
    assert "os store: OpenSSL's CA file" in out and "(2 certificates)" in out


@needs_openssl
def test_package_os_store_makes_it_the_default_without_a_certificate(
    store_venv: Venv, world: World, wheelhouse: Path, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    run([store_venv.script("cert-session"), "package", "--name", "acme-store", "--os-store", "-o", str(tmp_path / "dist")], env)
    wheel = wheels.for_python(tmp_path / "dist", "acme_store-*.whl")
    venv = new_venv(tmp_path / "venv", wheelhouse, tmp_path / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(wheel))
    cadir = hashed_dir(tmp_path / "cadir", world.private.root_pem)
    lines, err = start(venv, clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir)), world.urls["private"], world.urls["company"])
    assert (lines[2:], err) == (["ok", "ssl"], "")  # on by default; no company certificate in this wheel
    (bundle, _, private), _ = start(
        venv, clean_env(tmp_path / "home", SSL_CERT_DIR=str(cadir), CERT_SESSION_OS_STORE="0"), world.urls["private"]
    )
    assert (bundle, private) == ("", "ssl")  # and the variable still turns it off


# ------------------------------------------ issue #23 item 6: a client's OS verifier is kept

# httpx2's default client (huggingface_hub 2.x, the OpenAI SDK 3.x): httpcore2's
# default_ssl_context() verifies with truststore (the OS store) on Windows and
# macOS, but with ssl.create_default_context(cafile=SSL_CERT_FILE) once that is set.
HTTPX2_PROBE = r"""
import os, sys, httpcore2, httpx2
bundle = os.environ.get("SSL_CERT_FILE", "")
print(bundle)
for url in sys.argv[1:]:
    try:
        httpx2.get(url, timeout=20)
        print("ok")
    except httpx2.ConnectError as e:
        print("ssl" if "CERTIFICATE_VERIFY_FAILED" in str(e) else repr(e))
"""


def start_httpx2(venv: Venv, env: dict[str, str], *urls: str) -> tuple[list[str], str]:
    proc = run([venv.python, "-c", HTTPX2_PROBE, *urls], env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines(), proc.stderr


@pytest.fixture(scope="module")
def httpx2_venv(wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """httpx2 from the registry, stand-in certifi, the company wheel, the platform emulation."""
    from tests.helpers.wheels import download

    base = tmp_path_factory.mktemp("httpx2")
    house = download(base / "house", "httpx2", certifi_from=wheelhouse)
    venv = new_venv(base / "venv", house, base / "home", "httpx2", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    emulation.install(venv.site_packages)
    return venv


def test_windows_root_only_in_the_os_store_keeps_verifying_through_httpx2s_default_context(
    httpx2_venv: Venv, world: World, tmp_path: Path
) -> None:
    # IT put the private root in the Windows ROOT store, where httpx2's truststore
    # default finds it. The hook exports SSL_CERT_FILE (the default ssl target), which
    # replaces that default: the exported bundle must hold the store.
    store, windows = emulated_windows(tmp_path)
    (store / "private").write_bytes(next(_pem.iter_blocks(world.private.root_pem.read_bytes())).cert_der)
    urls = (world.urls["private"], world.urls["company"], world.urls["newroot"])
    lines, err = start_httpx2(httpx2_venv, clean_env(tmp_path / "home", **windows), *urls)
    assert (lines[1:], err) == (["ok", "ok", "ssl"], "")  # the store's root, the company chain, nothing else
    assert lines[0].startswith(str(windows["LOCALAPPDATA"])) and "cert-session-" in lines[0]

    # CERT_SESSION_OS_STORE=0 says "not the store": then the export costs httpx2 that root.
    lines, err = start_httpx2(httpx2_venv, clean_env(tmp_path / "home", CERT_SESSION_OS_STORE="0", **windows), *urls)
    assert (lines[1:], err) == (["ssl", "ok", "ssl"], "")
    # A preset SSL_CERT_FILE is what httpx2 used before (not the store): appended to, nothing more.
    preset = tmp_path / "preset.pem"
    preset.write_bytes(world.newroot.root_pem.read_bytes() + world.company.root_pem.read_bytes())
    lines, err = start_httpx2(httpx2_venv, clean_env(tmp_path / "home", SSL_CERT_FILE=str(preset), **windows), *urls)
    assert (lines[1:], err) == (["ssl", "ok", "ok"], "")
    # On Linux, where httpx2's default is OpenSSL's default file (already in the ssl base), no store is added.
    lines, err = start_httpx2(httpx2_venv, clean_env(tmp_path / "home"), *urls)
    assert (lines[1:], err) == (["ssl", "ok", "ssl"], "")


def test_the_ssl_base_keeps_the_os_store_on_windows_and_macos_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from cert_session import _config

    origs = {var: "" for var in _config.TARGETS.values()}
    monkeypatch.delenv("CERT_SESSION_OS_STORE", raising=False)
    for policy, kept in ((_platform.WINDOWS, ["ssl"]), (_platform.MACOS, ["ssl"]), (_platform.POSIX, [])):
        monkeypatch.setattr(_config, "CURRENT", policy)
        assert [t for t in _config.TARGETS if _config.kept_os_store(t, origs)] == kept, policy.name
    monkeypatch.setattr(_config, "CURRENT", _platform.MACOS)
    assert not _config.kept_os_store("ssl", dict(origs, SSL_CERT_FILE="/etc/ssl/mine.pem"))
    monkeypatch.setenv("CERT_SESSION_OS_STORE", "0")
    assert not _config.kept_os_store("ssl", origs)
