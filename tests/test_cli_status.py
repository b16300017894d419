"""``cert-session status``: what is trusted here and why, field by field.

In-process through ``main([...])`` with real certificate files and real
bundles built by the hook; once through the installed console script.
"""

from __future__ import annotations

import datetime
import json
import os
import ssl
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography import x509

from cert_session._cli import main
from tests.conftest import CERTIFI_WITH_ROOT, World
from tests.helpers import pki
from tests.helpers.env import clean_env, run
from tests.helpers.inprocess import isolate, run_main, status_json
from tests.helpers.venvs import Venv, base_python_with_pip


def iso(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def name_values(pem: Path, which: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    return [str(a.value) for a in getattr(cert, which)]


@pytest.fixture
def base_bundle(world: World, tmp_path: Path) -> Path:
    """A preset bundle holding the company root (as a system store would)."""
    path = tmp_path / "base.pem"
    path.write_bytes(world.company.root_pem.read_bytes())
    return path


def test_status_json_reports_hook_target_bundle_cache_and_certificate_field_by_field(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = world.company.intermediate_pem
    # The requests row field by field; the default pair of targets is
    # test_status_with_default_targets_shows_both_and_names_the_base_lacking_the_root.
    cache = isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle), CERT_SESSION_CERTS=str(issuer),
        CERT_SESSION_TARGETS="requests",
    )
    started = time.time()
    code, data = status_json(capsys)

    assert code == 0 and data["ok"] is True and data["errors"] == 0 and data["warnings"] == 0
    assert data["schema"] == 1
    hook = data["hook"]
    assert hook["active"] is True and hook["reason"] == "exporting REQUESTS_CA_BUNDLE"
    assert hook["installed"] is True and hook["disabled"] is False and hook["no_site"] is False
    assert hook["targets"] == ["requests"]

    (row,) = data["targets"]
    assert (row["target"], row["variable"], row["exported"]) == ("requests", "REQUESTS_CA_BUNDLE", True)
    bundle = Path(row["bundle"])
    assert row["value"] == str(bundle) and bundle.is_file() and str(bundle).startswith(str(cache))
    assert row["certificates"] == 2  # the base's root + the company intermediate
    assert row["base"] == {
        "spec": "file:%s" % base_bundle,
        "kind": "preset",
        "variable": "REQUESTS_CA_BUNDLE",
        "certifi_version": None,
        "path": str(base_bundle),
        "paths": [str(base_bundle)],
        "origin": "REQUESTS_CA_BUNDLE=%s (preset)" % base_bundle,
        "problem": None,
    }
    rebuilt_at = datetime.datetime.strptime(row["rebuilt"]["at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )
    assert abs(rebuilt_at.timestamp() - started) < 120
    assert row["rebuilt"]["reason"] and Path(row["rebuilt"]["state"]).parent == bundle.parent

    assert data["cache"]["directory"] == str(bundle.parent)
    (cert,) = data["certificates"]
    parsed = x509.load_pem_x509_certificate(issuer.read_bytes())
    assert cert["path"] == str(issuer) and cert["source"] == "CERT_SESSION_CERTS" and cert["used"] is True
    assert all(v in cert["subject"] for v in name_values(issuer, "subject"))
    assert all(v in cert["issuer"] for v in name_values(issuer, "issuer"))
    assert cert["not_before"] == iso(parsed.not_valid_before_utc)
    assert cert["not_after"] == iso(parsed.not_valid_after_utc)
    assert cert["sha256"] == pki.sha256_fingerprint(issuer)
    assert cert["problems"] == [] and data["problems"] == []

    code, text, _ = run_main(capsys, "status")
    assert code == 0
    assert str(bundle) in text and cert["sha256"] in text and "hook: active" in text


def test_status_names_certifi_and_its_version_as_base_when_nothing_is_preset(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(world.company.intermediate_pem))
    code, data = status_json(capsys)
    base = data["targets"][0]["base"]
    import certifi

    assert base["kind"] == "certifi" and base["variable"] is None
    assert base["certifi_version"] == metadata.version("certifi")
    assert base["path"] == certifi.where()
    assert base["origin"].startswith("certifi %s" % metadata.version("certifi"))


def test_status_names_curl_ca_bundle_when_requests_falls_back_on_it(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(
        monkeypatch, tmp_path, CURL_CA_BUNDLE=str(base_bundle), CERT_SESSION_CERTS=str(world.company.intermediate_pem)
    )
    _, data = status_json(capsys)
    base = data["targets"][0]["base"]
    assert (base["kind"], base["variable"], base["path"]) == ("preset", "CURL_CA_BUNDLE", str(base_bundle))


def _leaf(world: World, d: Path) -> tuple[Path, str]:
    return world.company.leaf_pem, ""


def _garbage(world: World, d: Path) -> tuple[Path, str]:
    return pki.garbage_file(d), ""


def _der(world: World, d: Path) -> tuple[Path, str]:
    return pki.der_of(world.company.intermediate_pem, d / "Issuer.cer"), ""


def _expired(world: World, d: Path) -> tuple[Path, str]:
    return pki.expired_ca(d), "Expired Test CA"


def _orphan(world: World, d: Path) -> tuple[Path, str]:
    return pki.orphan_intermediate(d)


def _lax(world: World, d: Path) -> tuple[Path, str]:
    return pki.ca_without_critical_basic_constraints(d), "critical basicConstraints"


# (builder, exit code, cert used?, severity, codes); the first code is the case's point
CASES: dict[str, tuple[Callable[[World, Path], tuple[Path, str]], int, bool, str, list[str]]] = {
    "leaf-as-company-cert": (_leaf, 1, False, "error", ["not-ca"]),
    "garbage-file": (_garbage, 1, False, "error", ["unparseable"]),
    "der-file": (_der, 0, True, "warning", ["der"]),
    # pki.expired_ca has no keyUsage either, which OpenSSL's strict mode rejects
    "expired-ca": (_expired, 0, True, "warning", ["expired", "strict"]),
    "intermediate-whose-root-is-nowhere": (_orphan, 0, True, "warning", ["chain-incomplete"]),
    "ca-without-critical-basic-constraints": (_lax, 0, True, "warning", ["strict"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_status_flags_each_bad_certificate_naming_file_certificate_and_exit_code(
    case: str,
    world: World,
    base_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build, exit_code, used, severity, codes = CASES[case]
    certs = tmp_path / "certs"
    certs.mkdir()
    path, phrase = build(world, certs)
    # Both default targets' bases hold the company root: the only problems are the case's own.
    isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle), SSL_CERT_FILE=str(base_bundle),
        CERT_SESSION_CERTS=str(path),
    )
    code, data = status_json(capsys)

    assert code == exit_code and data["ok"] is (exit_code == 0)
    (cert,) = data["certificates"]
    assert cert["path"] == str(path) and cert["used"] is used
    assert [(p["severity"], p["code"]) for p in cert["problems"]] == [(severity, c) for c in codes]
    problem = cert["problems"][0]
    assert str(path) in problem["message"] and phrase in problem["message"]
    if cert["sha256"] is not None:  # a certificate-level problem names the certificate
        assert cert["sha256"][:23] in problem["message"] and cert["subject"] in problem["message"]
    # An intermediate whose root is nowhere is left out of every bundle (the
    # trust rule): nothing is exported, and its row says where it is missing.
    orphan = case == "intermediate-whose-root-is-nowhere"
    assert data["hook"]["active"] is (used and not orphan)
    assert cert["left_out_of"] == (["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"] if orphan else [])
    if orphan:
        assert "left out of those merged bundles" in problem["message"]
        assert data["hook"]["reason"].startswith("no company certificate could be added"), data["hook"]
    if severity == "error":
        code, text, _ = run_main(capsys, "status")
        assert code == 1 and "NOT USED" in text and "ERROR: %s" % problem["message"] in text


def test_status_der_file_is_the_same_certificate_as_its_pem(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    der = pki.der_of(world.company.intermediate_pem, tmp_path / "Issuer.cer")
    assert not der.read_bytes().startswith(b"-----")
    # A base with the company root: the intermediate is added only where its root is.
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(der), REQUESTS_CA_BUNDLE=str(base_bundle))
    _, data = status_json(capsys)
    assert data["certificates"][0]["sha256"] == pki.sha256_fingerprint(world.company.intermediate_pem)
    bundle = Path(data["targets"][0]["bundle"]).read_text()
    assert ssl.DER_cert_to_PEM_cert(der.read_bytes()).split("-----")[2].split() == bundle.split("-----")[-3].split()


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"CERT_SESSION_DISABLE": "1"}, "CERT_SESSION_DISABLE is set"),
        ({}, "no usable company certificate"),
    ],
)
def test_status_says_why_the_hook_is_inactive(
    env: dict[str, str],
    reason: str,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env:
        env = dict(env, CERT_SESSION_CERTS=str(world.company.intermediate_pem))
    isolate(monkeypatch, tmp_path, **env)
    code, data = status_json(capsys)
    assert code == 0 and data["hook"]["active"] is False and reason in data["hook"]["reason"]
    assert data["targets"][0]["exported"] is False and data["targets"][0]["bundle"] is None


def _console(venv: Venv, env: dict[str, str], *args: str, check: bool = False) -> Any:
    return run([venv.script("cert-session"), *args], env, check=check)


def test_installed_console_script_status_json_and_exit_codes(installed: Venv, world: World, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    proc = _console(installed, env, "status", "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    data = json.loads(proc.stdout)
    assert data["hook"]["active"] is True and data["hook"]["distributions"] == ["cert-session-company"]
    (cert,) = data["certificates"]
    assert cert["source"] == "package" and cert["sha256"] == pki.sha256_fingerprint(world.company.intermediate_pem)
    assert data["targets"][0]["base"]["certifi_version"] == CERTIFI_WITH_ROOT
    assert Path(data["targets"][0]["bundle"]).is_file()

    bad = clean_env(tmp_path / "home2", CERT_SESSION_CERTS=str(world.company.leaf_pem))
    proc = _console(installed, bad, "status", "--json")
    assert proc.returncode == 1
    assert [p["code"] for p in json.loads(proc.stdout)["problems"]] == ["not-ca"]


def test_status_under_python_dash_s_says_no_pth_ran(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    code = "import sys; sys.path.append(sys.argv[1]); from cert_session._cli import main; sys.exit(main(['status', '--json']))"
    proc = run([installed.python, "-S", "-c", code, str(installed.site_packages)], env, check=False)
    data = json.loads(proc.stdout)
    assert data["hook"]["active"] is False and data["hook"]["no_site"] is True
    assert "-S" in data["hook"]["reason"] and "cert_session.activate()" in data["hook"]["reason"]


USER_SITE = "import site; print(site.getusersitepackages())"


@pytest.fixture
def user_install(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The base interpreter (not a venv) with pip, and an environment whose user site is a temp dir."""
    python = base_python_with_pip()
    if python is None:
        pytest.skip("no base interpreter with pip (sys._base_executable or the python in sys.base_prefix)")
    env = clean_env(tmp_path / "home", PYTHONUSERBASE=str(tmp_path / "userbase"), PIP_BREAK_SYSTEM_PACKAGES="1")
    return python, env


def test_status_reports_hook_active_after_pip_install_user(
    user_install: tuple[str, dict[str, str]], wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    """``pip install --user`` (python.org on Windows, Homebrew) puts the hook in the user site-packages."""
    python, env = user_install
    # --ignore-installed: certifi goes to the user site too, as on a python.org install, which has none.
    pip = [python, "-m", "pip", "install", "-q", "--user", "--ignore-installed", "--no-index", "-f", str(wheelhouse)]
    run([*pip, "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel)], env)
    user_site = Path(run([python, "-c", USER_SITE], env).stdout.strip())
    assert (user_site / "cert_session_hook.pth").is_file() and str(user_site).startswith(str(tmp_path))

    proc = run([python, "-m", "cert_session", "status", "--json"], env, check=False)
    hook = json.loads(proc.stdout)["hook"]
    assert hook["active"] is True and hook["reason"] == "exporting REQUESTS_CA_BUNDLE, SSL_CERT_FILE", hook
    assert hook["installed"] is True and hook["pth"] == [str(user_site / "cert_session_hook.pth")]

    # Control: the same files, importable, but user site-packages switched off: the .pth never ran.
    off = dict(env, PYTHONNOUSERSITE="1", PYTHONPATH=str(user_site))
    proc = run([python, "-m", "cert_session", "status", "--json"], off, check=False)
    hook = json.loads(proc.stdout)["hook"]
    assert hook["active"] is False and hook["installed"] is False, hook
    assert str(user_site / "cert_session_hook.pth") in hook["reason"] and "PYTHONNOUSERSITE" in hook["reason"]


def test_user_site_hook_uses_certifi_from_the_system_site_packages(
    user_install: tuple[str, dict[str, str]], project_wheel: Path, world: World, tmp_path: Path
) -> None:
    """site runs the user site's .pth before the system site-packages are on sys.path (Homebrew, Debian)."""
    python, env = user_install
    # This test company's root is not in the real certifi: a company with a
    # private root configures it too (else the intermediate is left out).
    env = dict(env, CERT_SESSION_CERTS=str(world.company.root_pem))
    probe = run([python, "-c", "import certifi, os; print(os.path.realpath(certifi.where()))"], clean_env(tmp_path / "h0"), check=False)
    if probe.returncode != 0 or not probe.stdout.strip().endswith("cacert.pem"):
        pytest.skip("the base interpreter has no certifi with its own cacert.pem")
    system_pem = Path(probe.stdout.strip())
    run([python, "-m", "pip", "install", "-q", "--user", "--no-deps", "--no-index", str(project_wheel)], env)

    show = [python, "-c", "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', ''))"]
    first = run(show, env, check=False)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    proc = run(show, env, check=False)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == first.stdout, proc.stderr
    bundle = Path(proc.stdout.strip())
    assert bundle.name.startswith("cert-session-")  # exported, not silently skipped
    certs = bundle.read_bytes().count(b"-----BEGIN CERTIFICATE-----")
    # certifi's roots + the company root + Issuer.crt
    assert certs == system_pem.read_bytes().count(b"-----BEGIN CERTIFICATE-----") + 2


def test_status_redirected_to_cp1252_escapes_cyrillic_and_japanese_subject(installed: Venv, tmp_path: Path) -> None:
    """Windows encodes redirected output with the ANSI code page: no UnicodeEncodeError, an escaped name."""
    ca = pki.non_latin1_ca(tmp_path)
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(ca), PYTHONIOENCODING="cp1252")
    proc = _console(installed, env, "status")
    assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
    escaped = pki.NON_LATIN1_ORGANIZATION.encode("ascii", "backslashreplace").decode("ascii")
    assert "  subject: O=%s" % escaped in proc.stdout


def test_main_without_stdout_and_stderr_like_pythonw_does_not_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pythonw.exe runs with sys.stdout and sys.stderr set to None."""
    # CERT_SESSION_DEBUG=1: the hook explains its rebuild on sys.stderr, which is None here.
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(pki.non_latin1_ca(tmp_path)), CERT_SESSION_DEBUG="1")
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert main(["status"]) == 0
    assert main(["rebuild"]) == 0
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])  # argparse writes its usage error to stderr
    assert exc.value.code == 2
    assert sys.stdout is None and sys.stderr is None  # put back as they were


def test_status_with_export_off_names_the_bundle_requests_uses_in_process_and_exports_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.pem"
    base.write_bytes(world.company.root_pem.read_bytes())
    isolate(
        monkeypatch,
        tmp_path,
        CERT_SESSION_CERTS=str(world.company.intermediate_pem),
        CERT_SESSION_EXPORT="0",
        REQUESTS_CA_BUNDLE=str(base),
        SSL_CERT_FILE=str(base),  # the ssl target's base holds the root too: no chain warning
    )
    code, out, _ = run_main(capsys, "status")
    assert code == 0, out
    assert os.environ["REQUESTS_CA_BUNDLE"] == str(base)  # the preset, untouched
    assert os.environ["SSL_CERT_FILE"] == str(base)
    assert "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE" not in os.environ and "CERT_SESSION_ORIG_SSL_CERT_FILE" not in os.environ
    lines = out.splitlines()
    assert lines[1] == (
        "hook: active: CERT_SESSION_EXPORT=0: nothing exported; requests and pip here use the "
        "REQUESTS_CA_BUNDLE bundle in-process"
    )
    assert lines[2] == "target requests: REQUESTS_CA_BUNDLE=%s" % base
    bundle = lines[4].split()[2]
    assert lines[4] == "  merged bundle: %s (2 certificates, in-process only: CERT_SESSION_EXPORT=0)" % bundle
    # in words, not the state file's "no state yet"
    assert lines[5].startswith("  last rebuilt: ")
    assert lines[5].endswith(" (first use of these settings: nothing was cached for them yet)"), lines[5]
    # The guard has it: the process's one guard finder (ours, or one an
    # earlier activate() in this process put on sys.meta_path).
    guards = [f for f in sys.meta_path if getattr(f, "cert_session_guard", False)]
    assert [g.bundle for g in guards] == [bundle]


def test_status_leads_with_a_missing_issuer(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.pem"
    base.write_bytes(world.private.root_pem.read_bytes())  # lacks the company root
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(world.company.intermediate_pem), REQUESTS_CA_BUNDLE=str(base))
    _, out, _ = run_main(capsys, "status")
    third = out.splitlines()[2]
    assert third.startswith("WARNING: %s: the issuer of " % world.company.intermediate_pem), out
    assert "is neither in the base bundle" in third and "REQUESTS_CA_BUNDLE (%s)" % base in third


def test_status_and_check_name_the_ssl_cert_file_base_that_lacks_the_company_root(
    world: World, base_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #19: every active target's base is checked, and the warning names the variable at fault."""
    lacking = tmp_path / "system-without-the-company-root.pem"
    lacking.write_bytes(world.private.root_pem.read_bytes())
    isolate(
        monkeypatch, tmp_path, REQUESTS_CA_BUNDLE=str(base_bundle), SSL_CERT_FILE=str(lacking),
        CERT_SESSION_CERTS=str(world.company.intermediate_pem),
    )
    code, data = status_json(capsys)
    assert code == 0 and data["hook"]["targets"] == ["requests", "ssl"]  # the default targets
    # The intermediate is left out of SSL_CERT_FILE's bundle, which so has nothing to add.
    assert data["hook"]["reason"] == "exporting REQUESTS_CA_BUNDLE"
    (problem,) = data["problems"]
    assert problem["code"] == "chain-incomplete" and problem["path"] == str(world.company.intermediate_pem)
    assert "is neither in the base bundle of SSL_CERT_FILE (%s) nor among" % lacking in problem["message"]
    assert "left out of that merged bundle" in problem["message"]
    assert "REQUESTS_CA_BUNDLE" not in problem["message"]  # that base has the root
    assert data["certificates"][0]["left_out_of"] == ["SSL_CERT_FILE"]

    code, out, _ = run_main(capsys, "check", world.urls["company"])
    assert "target requests (requests, pip): REQUESTS_CA_BUNDLE=" in out and "REQUESTS_CA_BUNDLE" not in out.splitlines()[0]
    assert "diagnosis for REQUESTS_CA_BUNDLE: The server sends only its leaf" in out  # the merged bundle completes it
    ssl_line = [line for line in out.splitlines() if line.startswith("target ssl ")][0]
    # SSL_CERT_FILE's clients verify only where they accept a partial chain (Python 3.13+).
    assert code == (0 if ssl_line.endswith(": verified") else 1), out
    first = out.splitlines()[0]  # ... and the base that lacks the root leads the output
    assert first.startswith("WARNING: ") and "the base bundle of SSL_CERT_FILE (%s)" % lacking in first, out

    # Control: the same with SSL_CERT_FILE holding the company root says nothing.
    monkeypatch.setenv("SSL_CERT_FILE", str(base_bundle))
    monkeypatch.delenv("CERT_SESSION_ORIG_SSL_CERT_FILE", raising=False)
    code, data = status_json(capsys)
    assert code == 0 and data["problems"] == [], data["problems"]


def test_status_with_a_preset_ssl_cert_file_lacking_the_root_says_it_once_in_plain_words(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    """Issue #23: the hook's start-up line and status's own report were the same warning twice."""
    lacking = tmp_path / "system-without-the-company-root.pem"
    lacking.write_bytes(world.private.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", SSL_CERT_FILE=str(lacking))
    cli = installed.script("cert-session")
    proc = run([cli, "status"], env)  # the first start in this cache: the hook rebuilds, and would warn
    assert proc.stderr == "", proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "the base bundle of SSL_CERT_FILE (%s)" % lacking in warnings[0], proc.stdout
    assert "no state yet" not in proc.stdout and "(first use of these settings" in proc.stdout

    # A command that does not report problems itself still passes the hook's line on, once.
    fresh = clean_env(tmp_path / "home2", SSL_CERT_FILE=str(lacking))
    where = run([cli, "where"], fresh)
    (line,) = where.stderr.splitlines()
    assert line.startswith("cert-session: ") and "the base bundle of SSL_CERT_FILE (%s)" % lacking in line


def test_status_with_a_preset_ssl_cert_file_that_does_not_exist_says_it_once(
    installed: Venv, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-bundle.pem"
    proc = run([installed.script("cert-session"), "status"], clean_env(tmp_path / "home", SSL_CERT_FILE=str(missing)))
    assert proc.stderr == "", proc.stderr  # the hook's own wording of it is not printed besides
    (warning,) = [line for line in proc.stdout.splitlines() if line.startswith("WARNING")]
    assert warning.startswith("WARNING: SSL_CERT_FILE is not exported: %s does not exist" % missing), proc.stdout
