"""``cert-session check URL`` against real loopback servers sending only their leaf.

Each case asserts the exit code and that the one-line diagnosis names the
certificate at fault by its SHA-256 fingerprint (computed by cryptography).
"""

from __future__ import annotations

import contextlib
import http.server
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography import x509

from tests.conftest import World
from tests.helpers import pki, servers
from tests.helpers.env import clean_env, run
from tests.helpers.inprocess import isolate, run_main
from tests.helpers.venvs import Venv


def fp(pem: Path) -> str:
    return pki.sha256_fingerprint(pem)[:23]


def diagnosis(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("diagnosis: ")]
    return line


@contextlib.contextmanager
def serve_files(directory: Path) -> Iterator[str]:
    """Plain HTTP on 127.0.0.1, as CAs publish caIssuers certificates."""

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args, directory=str(directory))

        def log_message(self, *args: Any) -> None:
            pass

    with servers.running(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)) as port:
        yield "http://127.0.0.1:%d/" % port


class Odd:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.urls: dict[str, str] = {}
        self.certs: dict[str, Path] = {}


@pytest.fixture(scope="module")
def odd(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Odd]:
    """Servers that are wrong in one way each, plus a caIssuers file server."""
    o = Odd(tmp_path_factory.mktemp("odd"))
    self_cert, self_key = pki.self_signed_server(o.base)
    wrong_cert, wrong_key = pki.leaf_for(world.company.intermediate, o.base, "wrong-host", "other.example")
    expired_cert, expired_key = pki.expired_leaf(world.company.intermediate, o.base)
    lax_ca, lax_cert, lax_key = pki.lax_chain(o.base)
    published = o.base / "published"
    published.mkdir()
    pki.der_of(world.company.intermediate_pem, published / "issuer.cer")
    with serve_files(published) as files_url:
        aia_cert, aia_key = pki.leaf_with_aia(world.company.intermediate, o.base, files_url + "issuer.cer")
        with servers.serve_https(self_cert, self_key) as self_url, servers.serve_https(
            wrong_cert, wrong_key
        ) as wrong_url, servers.serve_https(aia_cert, aia_key) as aia_url, servers.serve_https(
            expired_cert, expired_key
        ) as expired_url, servers.serve_https(lax_cert, lax_key) as lax_url:
            o.urls = {
                "self-signed": self_url, "wrong-host": wrong_url, "aia": aia_url, "files": files_url,
                "expired": expired_url, "lax": lax_url,
            }
            o.certs = {
                "self-signed": self_cert, "wrong-host": wrong_cert, "aia": aia_cert, "expired": expired_cert,
                "lax-ca": lax_ca,
            }
            yield o


@pytest.fixture
def base_bundle(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "base.pem"
    path.write_bytes(world.company.root_pem.read_bytes())
    return path


def test_check_verifies_leaf_only_server_through_company_issuer_and_names_it(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = world.company.intermediate_pem
    isolate(monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle), CERT_SESSION_CERTS=str(issuer))
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert code == 0, out
    assert "sent 1 certificate" in out and fp(world.company.leaf_pem) in out
    assert "unable to get local issuer certificate" in out  # the base bundle alone fails
    line = diagnosis(out)
    assert "sends only its leaf" in line and fp(world.company.leaf_pem) in line
    assert "is among the company certificates" in line and fp(issuer) in line and str(issuer) in line


def test_check_without_company_certificate_fails_and_names_the_missing_issuer(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle))
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert code == 1, out
    line = diagnosis(out)
    assert "sends only its leaf" in line and fp(world.company.leaf_pem) in line
    assert "is not among the company certificates" in line
    assert all(v in line for v in pki.subject_values(world.company.intermediate_pem))


def test_check_names_company_certificate_that_lacks_its_root_and_leads_with_it(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_bytes(world.private.root_pem.read_bytes())
    issuer = world.company.intermediate_pem
    isolate(monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(unrelated), CERT_SESSION_CERTS=str(issuer))
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert code == 1, out
    line = diagnosis(out)
    assert "lacks its root" in line and fp(issuer) in line
    assert all(v in line for v in pki.subject_values(world.company.root_pem))
    # The configuration problem leads, before anything about this server.
    first = out.splitlines()[0]
    assert first.startswith("WARNING: %s: the issuer of " % issuer), out
    assert "is neither in the base bundle" in first and "REQUESTS_CA_BUNDLE (%s)" % unrelated in first


def test_check_self_signed_server_fails_and_names_its_certificate(
    odd: Odd, base_bundle: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle),
        CERT_SESSION_CERTS=str(world.company.intermediate_pem),
    )
    code, out, _ = run_main(capsys, "check", odd.urls["self-signed"])
    assert code == 1, out
    line = diagnosis(out)
    assert "self-signed" in line and fp(odd.certs["self-signed"]) in line


def test_check_wrong_hostname_fails_and_names_leaf_and_its_names(
    odd: Odd, base_bundle: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle),
        CERT_SESSION_CERTS=str(world.company.intermediate_pem),
    )
    code, out, _ = run_main(capsys, "check", odd.urls["wrong-host"])
    assert code == 1, out
    line = diagnosis(out)
    assert "Hostname mismatch" in line and fp(odd.certs["wrong-host"]) in line
    assert "other.example" in line and "'localhost'" in line


def test_check_expired_leaf_fails_and_names_it_with_its_end_date(
    odd: Odd, base_bundle: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle),
        CERT_SESSION_CERTS=str(world.company.intermediate_pem),
    )
    code, out, _ = run_main(capsys, "check", odd.urls["expired"])
    assert code == 1, out
    line = diagnosis(out)
    end = x509.load_pem_x509_certificate(odd.certs["expired"].read_bytes()).not_valid_after_utc
    assert "expired on %s" % end.strftime("%Y-%m-%d") in line and fp(odd.certs["expired"]) in line


def test_check_names_company_ca_that_strict_verification_rejects(
    odd: Odd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lax_ca = odd.certs["lax-ca"]
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(lax_ca))
    code, out, _ = run_main(capsys, "check", odd.urls["lax"])
    # Python < 3.13 accepts the chain and warns; 3.13+ verifies strictly by default.
    assert code == (0 if sys.version_info < (3, 13) else 1), out
    line = diagnosis(out)
    assert "VERIFY_X509_STRICT" in line and "Basic Constraints of CA cert not marked critical" in line
    assert fp(lax_ca) in line and "lacks a critical basicConstraints extension" in line


def test_check_fetch_issuer_downloads_aia_certificate_but_never_trusts_it(
    odd: Odd, base_bundle: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    aia = odd.urls["files"] + "issuer.cer"

    code, out, _ = run_main(capsys, "check", odd.urls["aia"])
    assert code == 1 and aia in out and list(work.iterdir()) == []  # shown, not fetched

    code, out, _ = run_main(capsys, "check", "--fetch-issuer", odd.urls["aia"])
    assert code == 1  # still not verified: nothing fetched is trusted
    (saved,) = work.iterdir()
    assert pki.sha256_fingerprint(saved) == pki.sha256_fingerprint(world.company.intermediate_pem)
    assert pki.sha256_fingerprint(world.company.intermediate_pem) in out
    assert "NOT trusted" in out and str(saved) in out

    code, out, _ = run_main(capsys, "check", odd.urls["aia"])
    assert code == 1


def test_check_exit_code_through_installed_console_script(installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    script = installed.script("cert-session")
    ok = run([script, "check", world.urls["company"]], env, check=False)
    assert ok.returncode == 0 and ok.stderr == "", ok.stdout + ok.stderr
    refused = run([script, "check", world.urls["private"]], env, check=False)
    assert refused.returncode == 1 and fp(world.private.leaf_pem) in diagnosis(refused.stdout)
    unreachable = run([script, "check", "https://127.0.0.1:1/"], env, check=False)
    assert unreachable.returncode == 2 and "cannot connect to 127.0.0.1:1" in unreachable.stderr

