"""``cert-session package`` and ``rebuild --system``: company wheels and read-only images.

The company wheel is built by the *installed* console script (no source
tree), installed with real pip into a fresh venv and used by unmodified
requests against a server that sends only its leaf.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import zipfile
from pathlib import Path

import pytest

from cert_session import _startup_files
from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import pki, wheels
from tests.helpers.env import clean_env, run
from tests.helpers.inprocess import isolate, run_main
from tests.helpers.venvs import Venv, assert_ok, assert_ssl_error

NAME = "acme-certs"
STATUS = "import json, sys; from cert_session._cli import main; sys.exit(main(['status', '--json']))"
EXPORTED = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', '')); print(os.environ.get('SSL_CERT_FILE', ''))"


@pytest.fixture(scope="session")
def company_wheel(installed: Venv, world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """acme-certs built by the installed cert-session from a DER Issuer.cer."""
    work = tmp_path_factory.mktemp("package")
    der = pki.der_of(world.company.intermediate_pem, work / "Issuer.cer")
    out = work / "dist"
    proc = run(
        [installed.script("cert-session"), "package", "--name", NAME, "--cert", str(der),
         "--targets", "requests,ssl", "--version", "2026.1", "-o", str(out)],
        clean_env(work / "home"),
    )
    assert "in DER (binary) form" in proc.stdout  # converted, and said so
    names = sorted(w.name for w in out.glob("*.whl"))
    assert names == [
        "acme_certs-2026.1-py318-none-any.whl",
        "acme_certs-2026.1-py38.py39.py310.py311.py312.py313.py314.py315.py316.py317-none-any.whl",
    ]
    assert all(str(out / n) in proc.stdout for n in names)
    return wheels.for_python(out)


def test_company_wheel_holds_installed_files_and_only_the_given_certificate(company_wheel: Path, world: World) -> None:
    with zipfile.ZipFile(company_wheel) as zf:
        names = set(zf.namelist())
        assert {"cert_session_hook.py", _startup_files.for_version(sys.version_info[:2])[1],
                "cert_session/_cli.py", "cert_session/__init__.py", "cert_session/py.typed"} <= names
        assert not [n for n in names if "__pycache__" in n or "_prebuilt" in n]
        # the installed company wheel's own certificate is not carried over
        assert [n for n in names if n.startswith("cert_session/certs/")] == ["cert_session/certs/Issuer.pem"]
        embedded = zf.read("cert_session/certs/Issuer.pem").decode()
        assert embedded.startswith("-----BEGIN CERTIFICATE-----\n")  # DER input, PEM inside
        assert ssl.PEM_cert_to_DER_cert(embedded) == ssl.PEM_cert_to_DER_cert(world.company.intermediate_pem.read_text())
        assert b'DEFAULT_TARGETS = "requests,ssl"\n' in zf.read("cert_session/_defaults.py")
        entry_points = zf.read("acme_certs-2026.1.dist-info/entry_points.txt").decode()
        assert "cert-session = cert_session._cli:main" in entry_points


def test_company_wheel_installs_with_pip_trusts_company_server_and_uninstalls_cleanly(
    world: World, wheelhouse: Path, company_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT)
    before = {p.name for p in venv.site_packages.iterdir()}
    assert_ssl_error(venv.get(env, world.urls["company"]))

    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), str(company_wheel))
    assert_ok(venv.get(env, world.urls["company"]))
    requests_bundle, ssl_bundle = venv.run(env, "-c", EXPORTED).stdout.split("\n")[:2]
    assert Path(ssl_bundle).name.startswith("cert-session-") and Path(requests_bundle).is_file()  # --targets
    status = json.loads(venv.run(env, "-c", STATUS).stdout)
    assert status["hook"]["distributions"] == [NAME]
    (cert,) = status["certificates"]
    assert cert["source"] == "package" and cert["sha256"] == pki.sha256_fingerprint(world.company.intermediate_pem)
    assert cert["problems"] == []  # stored as PEM: no DER warning any more

    venv.pip(env, "uninstall", "-y", "-q", NAME)
    assert {p.name for p in venv.site_packages.iterdir()} == before
    assert_ssl_error(venv.get(env, world.urls["company"]))


def test_company_wheel_beside_cert_session_company_is_reported_and_uninstalling_one_breaks_both(
    world: World, wheelhouse: Path, company_wheel: Path, project_wheel: Path, tmp_path: Path
) -> None:
    # Documented limitation: both distributions own the same files.
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(
        tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel)
    )
    venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), str(company_wheel))
    status = json.loads(venv.run(env, "-c", STATUS).stdout)
    assert status["hook"]["distributions"] == sorted([NAME, "cert-session-company"])
    (dup,) = [p for p in status["problems"] if p["code"] == "duplicate-install"]
    assert NAME in dup["message"] and "cert-session-company" in dup["message"]

    venv.pip(env, "uninstall", "-y", "-q", NAME)
    assert not (venv.site_packages / "cert_session_hook.pth").exists()
    assert_ssl_error(venv.get(env, world.urls["company"]))


def test_package_from_installed_copy_with_crlf_line_ends_sets_targets_and_writes_lf(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    """A Git for Windows checkout with autocrlf installs every source file with CRLF line ends."""
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    sources = [venv.site_packages / "cert_session_hook.py", *(venv.site_packages / "cert_session").rglob("*.py")]
    for path in sources:
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert any(b'\nDEFAULT_TARGETS = "requests,ssl"\r\n' in p.read_bytes() for p in sources)

    out = tmp_path / "dist"
    proc = run([venv.script("cert-session"), "package", "--name", NAME, "--cert", str(world.company.intermediate_pem),
                "--targets", "requests,node", "-o", str(out)], env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel = wheels.for_python(out)
    with zipfile.ZipFile(wheel) as zf:
        packed = {n: zf.read(n) for n in zf.namelist() if n.endswith(".py")}
    assert [n for n, b in packed.items() if b'\nDEFAULT_TARGETS = "requests,node"\n' in b]  # the line --targets rewrites
    assert not [n for n, b in packed.items() if b'DEFAULT_TARGETS = "requests,ssl"' in b]
    assert [n for n, b in packed.items() if b"\r\n" in b] == []


def test_package_writes_the_same_two_wheels_twice_one_start_up_file_each(world: World, tmp_path: Path) -> None:
    from cert_session._package import build_wheel

    certs = {"cert_session/certs/Issuer.pem": world.company.intermediate_pem.read_bytes()}
    first = build_wheel(NAME, "2026.1", certs, None, str(tmp_path / "a"))
    second = build_wheel(NAME, "2026.1", certs, None, str(tmp_path / "b"))
    assert [Path(p).read_bytes() for p in first] == [Path(p).read_bytes() for p in second]  # reproducible
    for path, (tag, name, line) in zip(first, _startup_files.VARIANTS):
        assert Path(path).name == "acme_certs-2026.1-%s-none-any.whl" % tag
        with zipfile.ZipFile(path) as zf:
            assert zf.read(name) == line
            assert not {_startup_files.PTH, _startup_files.START} - {name} & set(zf.namelist())


def test_package_refuses_bad_certificates_naming_each_and_writes_no_wheel(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    garbage = pki.garbage_file(tmp_path)
    out = tmp_path / "dist"
    code, _, err = run_main(
        capsys, "package", "--name", NAME, "--cert", str(world.company.intermediate_pem),
        "--cert", str(world.company.leaf_pem), "--cert", str(garbage), "-o", str(out),
    )
    assert code == 1
    assert "refusing to build" in err
    assert str(world.company.leaf_pem) in err and "not a CA" in err
    assert pki.sha256_fingerprint(world.company.leaf_pem)[:23] in err
    assert str(garbage) in err and "not a certificate" in err
    assert str(world.company.intermediate_pem) not in err  # the good one is not blamed
    assert not out.exists() or not list(out.iterdir())


def test_package_warns_when_the_bootstrap_cannot_complete_the_company_chain_and_names_the_certificate(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    """Issue #23: an intermediate whose root certifi lacks made a bootstrap file that completes nothing, silently."""
    import trustme

    from tests.helpers import servers

    root = trustme.CA(organization_name="cert-session test root certifi lacks")
    intermediate = root.create_child_ca()
    issuer, root_pem = tmp_path / "Issuer.crt", tmp_path / "Root.crt"
    intermediate.cert_pem.write_to_path(str(issuer))
    root.cert_pem.write_to_path(str(root_pem))
    leaf = intermediate.issue_cert("localhost")
    leaf_pem, leaf_key = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    leaf.cert_chain_pems[0].write_to_path(str(leaf_pem))
    leaf.private_key_pem.write_to_path(str(leaf_key))
    env = clean_env(tmp_path / "home")
    cli = installed.script("cert-session")

    def build(*certs: Path) -> tuple[str, Path]:
        out = tmp_path / ("dist-%d" % len(certs))
        args = [a for c in certs for a in ("--cert", str(c))]
        proc = run([cli, "package", "--name", NAME, *args, "-o", str(out)], env)
        return proc.stdout, out / ("%s-bootstrap.pem" % NAME)

    def verifies(bootstrap: Path, url: str) -> bool:
        # What pip's vendored urllib3 1.26 builds: OpenSSL's defaults, no partial chain.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(str(bootstrap))
        try:
            with socket.create_connection(("localhost", int(url.rsplit(":", 1)[1].strip("/"))), timeout=20) as sock:
                ctx.wrap_socket(sock, server_hostname="localhost").close()
            return True
        except ssl.SSLCertVerificationError:
            return False

    with servers.serve_https(leaf_pem, leaf_key) as url:
        out, bootstrap = build(issuer)
        (warning,) = [line for line in out.splitlines() if line.startswith("warning: ")]
        assert pki.sha256_fingerprint(issuer)[:23] in warning and str(issuer) in warning  # the certificate, its file
        assert "cert-session test root certifi lacks" in warning and str(bootstrap) in warning  # the missing root
        assert "with another --cert" in warning  # what to do
        assert not verifies(bootstrap, url)  # the warning is true

        out, bootstrap = build(issuer, root_pem)  # doing what it says
        assert "warning" not in out
        assert verifies(bootstrap, url)

    # The company intermediate whose root certifi has: no warning (the acme fixture's build).
    out, _ = build(world.company.intermediate_pem)
    assert "warning" not in out


def test_bootstrap_leaves_out_an_intermediate_whose_root_certifi_lacks_and_says_so(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The trust rule: on Python 3.13+ the intermediate alone would anchor trust in the bootstrap file."""
    isolate(monkeypatch, tmp_path)
    issuer, root = world.company.intermediate_pem, world.company.root_pem
    # This runner's certifi lacks the test company's root.
    code, out, err = run_main(capsys, "package", "--name", NAME, "--cert", str(issuer), "-o", str(tmp_path / "a"))
    assert code == 0, out + err
    (warning,) = [ln for ln in out.splitlines() if "left out of" in ln]
    assert warning.startswith("warning: ") and "%s-bootstrap.pem" % NAME in warning
    bootstrap = (tmp_path / "a" / ("%s-bootstrap.pem" % NAME)).read_text()
    assert issuer.read_text().strip() not in bootstrap
    # With the root given too, both are in it, and nothing is said.
    code, out, err = run_main(
        capsys, "package", "--name", NAME, "--cert", str(root), "--cert", str(issuer), "-o", str(tmp_path / "b")
    )
    assert code == 0 and "left out of" not in out, out + err
    bootstrap = (tmp_path / "b" / ("%s-bootstrap.pem" % NAME)).read_text()
    assert issuer.read_text().strip() in bootstrap and root.read_text().strip() in bootstrap


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "requests,bogus"], "unknown target(s) bogus"),
        (["--name", "acme certs!"], "not a valid distribution name"),
    ],
)
def test_package_refuses_bad_options_with_the_reason(
    args: list[str], message: str, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolate(monkeypatch, tmp_path)
    argv = ["package", "--name", NAME, "--cert", str(world.company.intermediate_pem), "-o", str(tmp_path / "d")]
    code, _, err = run_main(capsys, *argv, *args)
    assert code == 1 and message in err
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())


# --- rebuild --system -------------------------------------------------------


@pytest.fixture(scope="session")
def prebuilt(world: World, wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv whose bundle was prebuilt into the environment, as in an image build."""
    base = tmp_path_factory.mktemp("prebuilt")
    venv = new_venv(
        base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel)
    )
    proc = run([venv.script("cert-session"), "rebuild", "--system"], clean_env(base / "build-home"))
    assert "_prebuilt" in proc.stdout
    return venv


def unwritable_env(tmp_path: Path) -> dict[str, str]:
    """No cache directory can be created: every candidate is under a regular file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file, so nothing can be created below it\n")
    return clean_env(
        tmp_path / "home", CERT_SESSION_CACHE_DIR=str(blocker / "cache"), TMPDIR=str(blocker / "tmp"),
        XDG_RUNTIME_DIR=str(blocker / "run"),
    )


def test_prebuilt_bundle_serves_requests_when_no_cache_is_writable(
    prebuilt: Venv, world: World, tmp_path: Path
) -> None:
    env = unwritable_env(tmp_path)
    assert_ok(prebuilt.get(env, world.urls["company"]))  # and stderr is empty
    bundle = Path(prebuilt.run(env, "-c", EXPORTED).stdout.split("\n")[0])
    assert bundle.parent == prebuilt.site_packages / "cert_session" / "_prebuilt"


def test_prebuilt_image_starts_on_the_fast_path_with_no_writable_cache(
    prebuilt: Venv, tmp_path: Path
) -> None:
    # rebuild --system also prebuilds the fast state of a fresh process, so a
    # read-only image never hands over to the general path.
    show = "import os, sys; print(os.environ.get('REQUESTS_CA_BUNDLE', ''), '_cert_session._startup' in sys.modules)"
    proc = prebuilt.run(unwritable_env(tmp_path), "-c", show)
    bundle, general = proc.stdout.split()
    assert (Path(bundle).parent, general, proc.stderr) == (prebuilt.site_packages / "cert_session" / "_prebuilt", "False", "")


def test_without_prebuilt_bundle_an_unwritable_cache_is_reported(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    # Control for the test above: the same environment, no prebuilt bundle.
    proc = installed.get(unwritable_env(tmp_path), world.urls["company"])
    assert proc.stderr.startswith("cert-session: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "CERT_SESSION_CACHE_DIR" in proc.stderr


def test_uninstall_removes_prebuilt_bundles_too(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT)
    before = {p.name for p in venv.site_packages.iterdir()}
    venv.pip(clean_env(home), "install", "-q", "--no-index", str(project_wheel))
    run([venv.script("cert-session"), "rebuild", "--system"], clean_env(home))
    assert any((venv.site_packages / "cert_session" / "_prebuilt").iterdir())
    venv.pip(clean_env(home), "uninstall", "-y", "-q", "cert-session-company")
    assert {p.name for p in venv.site_packages.iterdir()} == before

