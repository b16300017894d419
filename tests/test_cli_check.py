"""``cert-session check URL`` against real loopback servers sending only their leaf.

Each case asserts the exit code and that the one-line diagnosis names the
certificate at fault by its SHA-256 fingerprint (computed by cryptography).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import ssl
import subprocess
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
    """The one diagnosis: every active target's clients fare the same."""
    (line,) = [line for line in out.splitlines() if line.startswith("diagnosis")]
    assert line.startswith("diagnosis: "), out
    return line


def diagnosis_for(out: str, var: str) -> str:
    """The diagnosis line concerning ``var`` ("diagnosis for VAR[, VAR...]: ...")."""
    (line,) = [
        line for line in out.splitlines()
        if line.startswith("diagnosis for ") and var in line.split(": ", 1)[0][len("diagnosis for "):].split(", ")
    ]
    return line


def target_line(out: str, target: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("target %s " % target)]
    return line


def client_flags() -> dict[str, int]:
    """The verify flags requests' and urllib's contexts get on this Python, asked of the libraries."""
    from urllib3.util.ssl_ import create_urllib3_context

    return {"requests": int(create_urllib3_context().verify_flags), "ssl": int(ssl.create_default_context().verify_flags)}


PARTIAL_CHAIN = int(getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0x80000))


def strict_clients() -> bool:
    return any(flags & ssl.VERIFY_X509_STRICT for flags in client_flags().values())


def partial_chain_clients() -> bool:
    """Whether both default targets' clients take an intermediate as the anchor (both or neither, here)."""
    got = {bool(flags & PARTIAL_CHAIN) for flags in client_flags().values()}
    assert len(got) == 1, "urllib3 and ssl disagree on VERIFY_X509_PARTIAL_CHAIN: %s" % client_flags()
    return got.pop()


def bases(bundle: Path) -> dict[str, str]:
    """Both default targets' base bundles (requests, ssl) set to ``bundle``."""
    return {"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle)}


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
    isolate(monkeypatch, tmp_path, **bases(base_bundle), CERT_SESSION_CERTS=str(issuer))
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
    isolate(monkeypatch, tmp_path, **bases(base_bundle))
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert code == 1, out
    line = diagnosis(out)
    assert "sends only its leaf" in line and fp(world.company.leaf_pem) in line
    assert "no company certificate is configured here" in line
    assert all(v in line for v in pki.subject_values(world.company.intermediate_pem))


def test_check_names_company_certificate_that_lacks_its_root_and_leads_with_it(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_bytes(world.private.root_pem.read_bytes())
    issuer = world.company.intermediate_pem
    isolate(monkeypatch, tmp_path, **bases(unrelated), CERT_SESSION_CERTS=str(issuer))
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    line = diagnosis(out)
    # The trust rule leaves the intermediate out of every bundle, on 3.13+ too
    # (where the clients would otherwise take it as the anchor): it fails, and says why.
    assert code == 1, out
    assert "lacks its root" in line and fp(issuer) in line
    assert all(v in line for v in pki.subject_values(world.company.root_pem))  # the certificate to add
    # The configuration problem leads, before anything about this server, once.
    first = out.splitlines()[0]
    assert first.startswith("WARNING: %s: the issuer of " % issuer), out
    assert "is neither in the base bundles of REQUESTS_CA_BUNDLE (%s) and SSL_CERT_FILE" % unrelated in first
    assert sum(line.startswith("WARNING") for line in out.splitlines()) == 1, out


def test_check_self_signed_server_fails_and_names_its_certificate(
    odd: Odd, base_bundle: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(
        monkeypatch, tmp_path, **bases(base_bundle),
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
        monkeypatch, tmp_path, **bases(base_bundle),
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
        monkeypatch, tmp_path, **bases(base_bundle),
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
    # Where the clients set VERIFY_X509_STRICT (Python 3.13+) the chain is refused; elsewhere a warning.
    assert code == (1 if strict_clients() else 0), out
    lines = [line for line in out.splitlines() if line.startswith("diagnosis")]
    assert lines, out
    for line in lines:  # one per client when their wording differs (each names its own context)
        assert "VERIFY_X509_STRICT" in line and "Basic Constraints of CA cert not marked critical" in line
        assert fp(lax_ca) in line and "lacks a critical basicConstraints extension" in line


def test_check_fetch_issuer_downloads_aia_certificate_but_never_trusts_it(
    odd: Odd, base_bundle: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(monkeypatch, tmp_path, **bases(base_bundle))
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



# The real clients, each given the bundle `check` says it uses (CERT_SESSION_DISABLE: no hook in the child).
REAL_CLIENT = {
    "requests": ([sys.executable, "-c", "import requests, sys; requests.get(sys.argv[1], timeout=20)"], "REQUESTS_CA_BUNDLE"),
    "ssl": ([sys.executable, "-c", "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=20)"], "SSL_CERT_FILE"),
    "curl": (["curl", "-sS", "-o", os.devnull], "CURL_CA_BUNDLE"),
}


def real_client_verifies(target: str, bundle: str, url: str, home: Path) -> bool:
    argv, var = REAL_CLIENT[target]
    env = clean_env(home, CERT_SESSION_DISABLE="1", **{var: bundle})
    proc = subprocess.run(argv + [url], env=env, cwd=str(home), capture_output=True, text=True, timeout=60)
    # curl's exit code 60 is "not verified"; its wording varies by version.
    assert proc.returncode in (0, 60) or "CERTIFICATE_VERIFY_FAILED" in proc.stderr, proc.stderr
    return proc.returncode == 0


def test_check_answers_for_every_active_target_as_its_real_client_does(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #23: requests' base has the company root, SSL_CERT_FILE's does not, curl's default neither.

    Issue #22's trust rule leaves the intermediate out of the last two, on
    every Python (curl and Python 3.13+ would take it as the anchor on its own).
    """
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    lacking = tmp_path / "system-without-the-company-root.pem"
    lacking.write_bytes(world.private.root_pem.read_bytes())
    issuer = world.company.intermediate_pem
    isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle), SSL_CERT_FILE=str(lacking),
        CERT_SESSION_CERTS=str(issuer), CERT_SESSION_TARGETS="requests,ssl,curl",
    )
    url = world.urls["company"]
    code, out, err = run_main(capsys, "check", url)
    line = target_line(out, "requests")
    bundle = line.split(" REQUESTS_CA_BUNDLE=", 1)[1].rsplit(": ", 1)[0]
    assert Path(bundle).name.startswith("cert-session-") and line.endswith(": verified"), line
    # What check says is what the client itself does with that bundle.
    assert real_client_verifies("requests", bundle, url, tmp_path / "home"), out
    for target in ("ssl", "curl"):
        line = target_line(out, target)
        assert " is not exported " in line and not line.endswith(": verified"), line
    assert code == 1, out
    missing_root = pki.subject_values(world.company.root_pem)
    line = diagnosis_for(out, "SSL_CERT_FILE")
    assert line == diagnosis_for(out, "CURL_CA_BUNDLE")  # one sentence for both
    assert "lacks its root" in line and fp(issuer) in line and all(v in line for v in missing_root)
    # The configuration warning names each base at fault, once.
    warnings = [line for line in out.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "SSL_CERT_FILE (%s)" % lacking in warnings[0] and "CURL_CA_BUNDLE" in warnings[0]
    assert "cert-session:" not in err  # the hook's line is not repeated (the loopback server logs its refusals there)


def test_check_says_which_verify_flags_it_used_as_each_client_sets_them(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #22: the flags come from urllib3's and ssl's own context factories on this Python."""
    import urllib3

    isolate(monkeypatch, tmp_path, **bases(base_bundle), CERT_SESSION_CERTS=str(world.company.intermediate_pem))
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert code == 0, out
    lines = out.splitlines()
    python = "Python %d.%d.%d" % sys.version_info[:3]
    for target, how in (("requests", "urllib3 %s's create_urllib3_context()" % urllib3.__version__), ("ssl", "ssl.create_default_context()")):
        flags_line = lines[lines.index(target_line(out, target)) + 1]
        assert flags_line.startswith("  verify flags: ") and flags_line.endswith(", as %s sets them on %s" % (how, python))
        named = flags_line.split(", as ")[0]
        flags = client_flags()[target]
        for flag in (ssl.VERIFY_X509_STRICT, ssl.VERIFY_X509_TRUSTED_FIRST):
            assert (flag.name in named.split(" (")[0]) == bool(flags & flag), (flags_line, flags)
        assert ("VERIFY_X509_PARTIAL_CHAIN" in named.split(" (")[0]) == bool(flags & PARTIAL_CHAIN), (flags_line, flags)


def test_check_of_an_unrelated_private_server_does_not_blame_the_company_certificates(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = world.company.intermediate_pem
    isolate(monkeypatch, tmp_path, **bases(base_bundle), CERT_SESSION_CERTS=str(issuer))
    code, out, _ = run_main(capsys, "check", world.urls["private"])
    assert code == 1, out
    line = diagnosis(out)
    assert fp(world.private.leaf_pem) in line
    assert all(v in line for v in pki.subject_values(world.private.root_pem))  # the server's own CA, named
    assert "is not among the company certificates" in line and all(v in line for v in pki.subject_values(issuer))
    assert "not under the company chain configured here" in line
    assert "If it is not, the company certificates do not concern it" in line
    # adding its CA is advice only for a company server
    assert line.index("If it is one of your company's servers") < line.index("CERT_SESSION_CERTS")


def test_check_with_export_off_says_the_ssl_clients_do_not_get_the_company_certificates(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(
        monkeypatch, tmp_path, **bases(base_bundle), CERT_SESSION_EXPORT="0",
        CERT_SESSION_CERTS=str(world.company.intermediate_pem),
    )
    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert code == 1, out
    assert target_line(out, "requests").endswith(": verified")  # in-process, through the verify guard
    line = target_line(out, "ssl")
    assert "SSL_CERT_FILE is not exported (CERT_SESSION_EXPORT=0)" in line and not line.endswith(": verified")
    assert "do not get the company certificates" in diagnosis_for(out, "SSL_CERT_FILE")
    assert "lacks its root" not in out  # nothing is wrong with the company certificate itself
