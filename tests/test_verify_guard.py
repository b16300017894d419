"""Issue #3 part 1: one rule for every bundle requests uses (psf/requests#3829).

Real requests (the oldest supported, 2.28.2, and the newest) and real pip
(its vendored requests) in fresh venvs with the company wheel, against
loopback HTTPS servers that send only their leaf. In these venvs the stand-in
certifi holds the company root, the wheel adds the company intermediate, and
the ``private`` root is trusted nowhere unless a test's own bundle names it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, Index, World, new_venv
from tests.helpers import wheels
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv, assert_ok, assert_ssl_error, make_venv

# One request through a requests.Session configured from argv:
# url, session verify, request verify ("-" = left alone), trust_env (1/0).
PROBE = r"""
import sys, warnings
import requests
warnings.simplefilter("ignore")  # verify=False warns; the outcome is what counts here
url, session_verify, request_verify, trust_env = sys.argv[1:5]
CHOICES = {"-": None, "False": False, "True": True}
s = requests.Session()
s.trust_env = trust_env == "1"
if CHOICES.get(session_verify, session_verify) is not None:
    s.verify = CHOICES.get(session_verify, session_verify)
kwargs = {}
if CHOICES.get(request_verify, request_verify) is not None:
    kwargs["verify"] = CHOICES.get(request_verify, request_verify)
try:
    r = s.get(url, timeout=20, **kwargs)
    print("OK", r.status_code, requests.__version__)
except requests.exceptions.SSLError as e:
    print("SSLError", requests.__version__, e)
    sys.exit(3)
"""


def probe(
    venv: Venv, env: dict[str, str], url: str, session: str = "-", request: str = "-", trust_env: bool = True
) -> subprocess.CompletedProcess[str]:
    return venv.run(env, "-c", PROBE, url, session, request, "1" if trust_env else "0", check=False)


def certifi_pem(venv: Venv) -> Path:
    return venv.site_packages / "certifi" / "cacert.pem"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(params=["ensurepip", "newest"])
def any_pip(request: pytest.FixtureRequest) -> Venv:
    """Each pip test runs with ensurepip's pip and with the newest pip."""
    venv: Venv = request.getfixturevalue("pip_venv" if request.param == "ensurepip" else "newest_pip_venv")
    return venv


@pytest.fixture(scope="session")
def bare_venv(wheelhouse: Path, bare_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """requests, stand-in certifi and the wheel built without any company certificate."""
    base = tmp_path_factory.mktemp("venv-bare")
    venv = make_venv(base / "venv")
    venv.pip(
        clean_env(base / "home"),
        "install", "-q", "--no-index", "-f", str(wheelhouse),
        "requests", "certifi==" + CERTIFI_WITH_ROOT, str(bare_wheel),
    )
    return venv


@pytest.fixture
def own_bundles(world: World, installed: Venv, tmp_path: Path) -> tuple[Path, Path]:
    """(own.pem: the private root only, full.pem: the public roots + the private root)."""
    own = tmp_path / "own.pem"
    own.write_bytes(world.private.root_pem.read_bytes())
    full = tmp_path / "full.pem"
    full.write_bytes(certifi_pem(installed).read_bytes() + world.private.root_pem.read_bytes())
    return own, full


# ------------------------------------------------------- requests sessions


def test_default_session_trusts_company_chain_and_no_other_root(
    requests_venv: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    ok = probe(requests_venv, env, world.urls["company"])
    assert_ok(ok)
    assert_ssl_error(probe(requests_venv, env, world.urls["private"]))


def test_trust_env_false_session_still_trusts_company_chain(
    requests_venv: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    assert_ok(probe(requests_venv, env, world.urls["company"], trust_env=False))
    # Without cert-session, trust_env=False means certifi alone: no intermediate.
    off = clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1")
    assert_ssl_error(probe(requests_venv, off, world.urls["company"], trust_env=False))


def test_verify_false_stays_off_at_session_and_request_level(
    requests_venv: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    untrusted = world.urls["private"]  # its root is trusted nowhere here
    assert_ssl_error(probe(requests_venv, env, untrusted))
    assert_ok(probe(requests_venv, env, untrusted, session="False"))
    assert_ok(probe(requests_venv, env, untrusted, request="False"))
    assert_ok(probe(requests_venv, env, untrusted, session="False", trust_env=False))


def test_own_bundle_is_kept_and_gets_company_certs_not_public_roots(
    requests_venv: Venv, world: World, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    own, _ = own_bundles
    before = own.read_bytes()
    env = clean_env(tmp_path / "home")
    # A tool's own bundle without public roots is its choice: no warning.
    assert_ok(probe(requests_venv, env, world.urls["private"], session=str(own)))
    assert_ok(probe(requests_venv, env, world.urls["private"], request=str(own)))
    assert_ok(probe(requests_venv, env, world.urls["private"], session=str(own), trust_env=False))
    # Only the roots the tool chose, plus company certificates: the company
    # intermediate alone cannot reach a root, so the company service fails.
    assert_ssl_error(probe(requests_venv, env, world.urls["company"], session=str(own)))
    assert own.read_bytes() == before


def test_without_cert_session_preset_bundle_beats_session_verify(
    requests_venv: Venv, world: World, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    """The trap the guard removes is real in this requests version (psf/requests#3829)."""
    own, _ = own_bundles
    env = clean_env(
        tmp_path / "home", CERT_SESSION_DISABLE="1", REQUESTS_CA_BUNDLE=str(certifi_pem(requests_venv))
    )
    assert_ssl_error(probe(requests_venv, env, world.urls["private"], session=str(own)))
    assert_ok(probe(requests_venv, env, world.urls["private"], request=str(own)))


def test_without_company_certificates_requests_behaves_exactly_as_without_cert_session(
    bare_venv: Venv, world: World, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    own, _ = own_bundles
    preset = str(certifi_pem(bare_venv))
    env = clean_env(tmp_path / "home", REQUESTS_CA_BUNDLE=preset)
    # requests' own precedence, untouched: the preset beats Session.verify ...
    assert_ssl_error(probe(bare_venv, env, world.urls["private"], session=str(own)))
    assert_ok(probe(bare_venv, env, world.urls["private"], request=str(own)))
    # ... and nothing was exported or patched.
    code = (
        "import os, requests; print(os.environ['REQUESTS_CA_BUNDLE'], "
        "hasattr(requests.Session.merge_environment_settings, '__cert_session_verify_guard__'))"
    )
    assert bare_venv.run(env, "-c", code).stdout.split() == [preset, "False"]


def test_own_bundle_with_public_roots_reaches_private_and_company_services(
    requests_venv: Venv, world: World, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    _, full = own_bundles
    env = clean_env(tmp_path / "home")
    assert_ok(probe(requests_venv, env, world.urls["company"], session=str(full)))
    assert_ok(probe(requests_venv, env, world.urls["private"], session=str(full)))
    assert_ok(probe(requests_venv, env, world.urls["company"], request=str(full), trust_env=False))
    # The company intermediate is what made the difference.
    off = clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1")
    assert_ssl_error(probe(requests_venv, off, world.urls["company"], session=str(full)))


def test_own_bundle_gains_the_company_intermediate_only_as_a_link_to_a_root_it_holds(
    requests_venv: Venv, world: World, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    """The trust rule: on Python 3.13+ the intermediate alone would anchor trust (VERIFY_X509_PARTIAL_CHAIN)."""
    own, _ = own_bundles
    with_root = tmp_path / "own-with-company-root.pem"
    with_root.write_bytes(world.private.root_pem.read_bytes() + world.company.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", CERT_SESSION_DEBUG="1")
    # Without the company root, nothing is added: the file is used as it is.
    proc = probe(requests_venv, env, world.urls["company"], session=str(own))
    assert proc.stdout.startswith("SSLError") and "CERTIFICATE_VERIFY_FAILED" in proc.stdout, proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "asked for" in ln]
    assert "verify=%s asked for; using %s instead of " % (own, own) in line, line
    # With it, the intermediate completes the chain ...
    assert_ok(probe(requests_venv, clean_env(tmp_path / "home"), world.urls["company"], session=str(with_root)))
    assert_ok(probe(requests_venv, clean_env(tmp_path / "home"), world.urls["private"], request=str(with_root)))
    # ... which the file alone does not.
    off = clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1")
    assert_ssl_error(probe(requests_venv, off, world.urls["company"], session=str(with_root)))


def test_debug_logs_each_substitution_with_the_bundle_used(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    own = tmp_path / "own-with-company-root.pem"  # the company root: the intermediate is added
    own.write_bytes(world.private.root_pem.read_bytes() + world.company.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", CERT_SESSION_DEBUG="1")
    proc = probe(installed, env, world.urls["private"], session=str(own))
    assert proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "asked for" in ln]
    assert line.startswith("cert-session: debug: requests: verify=%s asked for; using " % own)
    used = Path(line.split("; using ")[1].split(" instead of ")[0])
    assert used.name.startswith("cert-session-") and used.parent.is_relative_to(tmp_path / "home")
    text = used.read_text()
    assert world.private.root_pem.read_text().strip() in text
    assert world.company.intermediate_pem.read_text().strip() in text

    proc = probe(installed, env, world.urls["company"], trust_env=False)
    assert proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if "asked for" in ln]
    assert "verify=default asked for; using %s" % used.parent in line and line.endswith(" instead of default")


def test_directory_verify_is_left_as_it_is(installed: Venv, world: World, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to hash a CA directory")
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    shutil.copy(world.private.root_pem, cadir / "private.pem")
    subprocess.run(["openssl", "rehash", str(cadir)], check=True, capture_output=True)
    env = clean_env(tmp_path / "home")
    assert_ok(probe(installed, env, world.urls["private"], session=str(cadir)))
    assert_ssl_error(probe(installed, env, world.urls["company"], session=str(cadir)))


def test_requests_is_guarded_only_once_imported_and_the_idle_finder_stays(
    pip_venv: Venv, tmp_path: Path
) -> None:
    code = r"""
import sys
def state():
    guarded = [m for m in ("requests", "pip._vendor.requests") if m in sys.modules]
    # The guard is the hook module itself after a steady start, else the general path's GuardFinder.
    finders = sum(getattr(f, "__name__", "") == "cert_session_hook" or type(f).__name__ == "GuardFinder" for f in sys.meta_path)
    return "%s finders=%d guard=%s" % (guarded, finders, "_cert_session._verify_guard" in sys.modules)
def guarded(requests):
    return getattr(requests.Session.merge_environment_settings, "__cert_session_verify_guard__", False)
print(state())
import requests
print(state(), guarded(requests))
import pip._vendor.requests as vendored
print(state(), guarded(vendored))
"""
    proc = pip_venv.run(clean_env(tmp_path / "home"), "-c", code)
    assert proc.stdout.splitlines() == [
        "[] finders=1 guard=False",  # nothing imported at start-up, one set lookup per import
        "['requests'] finders=1 guard=True True",
        # Nothing pending: one set lookup per import. It stays, because removing
        # it while another thread's import walks sys.meta_path would make that
        # import skip the finder after it.
        "['requests', 'pip._vendor.requests'] finders=1 guard=True True",
    ], proc.stdout + proc.stderr
    assert proc.stderr == ""
    off = pip_venv.run(clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1"), "-c", code)
    assert off.stdout.splitlines()[1] == "['requests'] finders=0 guard=False False"


# ------------------------------------------------------------------- pip


def pip_download(venv: Venv, env: dict[str, str], index_url: str, dest: Path) -> subprocess.CompletedProcess[str]:
    """Real ``pip download`` of demo-pkg from a simple index, failing fast on TLS errors."""
    return venv.run(
        env,
        "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--retries", "0", "--timeout", "20",
        "-d", str(dest), "--index-url", index_url + "simple/", "demo-pkg",
        check=False,
    )


def assert_downloaded(proc: subprocess.CompletedProcess[str], dest: Path, wheel: Path) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (dest / wheel.name).read_bytes() == wheel.read_bytes()


def assert_refused(proc: subprocess.CompletedProcess[str], dest: Path) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in proc.stdout + proc.stderr
    assert not dest.exists() or not any(dest.iterdir())


def test_pip_downloads_from_index_behind_company_chain(any_pip: Venv, index: Index, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")  # PIP_CONFIG_FILE=os.devnull: this machine's pip.conf is out
    proc = pip_download(any_pip, env, index.company, tmp_path / "dl")
    assert_downloaded(proc, tmp_path / "dl", index.wheel)
    assert proc.stderr == ""
    off = clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1")
    assert_refused(pip_download(any_pip, off, index.company, tmp_path / "dl-off"), tmp_path / "dl-off")


def test_pip_cert_private_bundle_still_reaches_private_index(
    any_pip: Venv, index: Index, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    own, _ = own_bundles
    env = clean_env(tmp_path / "home", PIP_CERT=str(own))
    assert_downloaded(pip_download(any_pip, env, index.private, tmp_path / "dl"), tmp_path / "dl", index.wheel)
    # pip's vendored requests has the #3829 precedence too: without the guard
    # an exported REQUESTS_CA_BUNDLE would replace PIP_CERT.
    trap = clean_env(
        tmp_path / "home", PIP_CERT=str(own), CERT_SESSION_DISABLE="1", REQUESTS_CA_BUNDLE=str(certifi_pem(any_pip))
    )
    assert_refused(pip_download(any_pip, trap, index.private, tmp_path / "dl-trap"), tmp_path / "dl-trap")


def test_pip_cert_full_bundle_gets_company_certs_for_company_index(
    any_pip: Venv, index: Index, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    _, full = own_bundles  # public roots (with the company root) + the private root
    env = clean_env(tmp_path / "home", PIP_CERT=str(full))
    proc = pip_download(any_pip, env, index.company, tmp_path / "dl")
    assert_downloaded(proc, tmp_path / "dl", index.wheel)
    assert proc.stderr == ""
    assert_downloaded(pip_download(any_pip, env, index.private, tmp_path / "dl2"), tmp_path / "dl2", index.wheel)
    off = clean_env(tmp_path / "home", PIP_CERT=str(full), CERT_SESSION_DISABLE="1")
    assert_refused(pip_download(any_pip, off, index.company, tmp_path / "dl-off"), tmp_path / "dl-off")


# ------------------------------------ CERT_SESSION_EXPORT=0: nothing exported

ENVIRON = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', '-'), os.environ.get('CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE', '-'))"


def test_export_off_requests_trusts_company_chain_in_process_and_environ_gets_nothing(
    requests_venv: Venv, world: World, own_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home", CERT_SESSION_EXPORT="0")
    assert requests_venv.run(env, "-c", ENVIRON).stdout.split() == ["-", "-"]
    assert_ok(probe(requests_venv, env, world.urls["company"]))
    assert_ok(probe(requests_venv, env, world.urls["company"], trust_env=False))
    assert_ssl_error(probe(requests_venv, env, world.urls["private"]))
    # The append rule and verify=False, in-process, as with the export.
    own, full = own_bundles
    assert_ok(probe(requests_venv, env, world.urls["private"], session=str(own)))
    assert_ok(probe(requests_venv, env, world.urls["company"], request=str(full)))
    assert_ok(probe(requests_venv, env, world.urls["private"], session="False"))


def test_export_off_pip_downloads_from_index_behind_company_chain(any_pip: Venv, index: Index, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home", CERT_SESSION_EXPORT="0")
    proc = pip_download(any_pip, env, index.company, tmp_path / "dl")
    assert_downloaded(proc, tmp_path / "dl", index.wheel)
    assert proc.stderr == ""


# A hooked Python starts a Python of another venv, without the package, whose
# script sets session.verify = False for a dev server (psf/requests#3829 lets
# an inherited REQUESTS_CA_BUNDLE beat it).
CHILD = r"""
import os, subprocess, sys
child = subprocess.run([sys.argv[1], "-c", sys.argv[2], sys.argv[3], "False", "-", "1"], capture_output=True, text=True)
print(child.stdout.split()[0] if child.stdout else child.stderr)
print(os.environ.get("REQUESTS_CA_BUNDLE", "-"))
"""


def test_export_off_child_python_without_the_package_keeps_its_verify_false(
    installed: Venv, plain_venv: Venv, world: World, tmp_path: Path
) -> None:
    url = world.urls["private"]
    assert probe(plain_venv, clean_env(tmp_path / "home"), url, session="False").stdout.startswith("OK")
    env = clean_env(tmp_path / "home", CERT_SESSION_EXPORT="0")
    proc = installed.run(env, "-c", CHILD, plain_venv.python, PROBE, url)
    assert proc.stdout.splitlines() == ["OK", "-"], proc.stdout + proc.stderr
    # The default exports: that child inherits the bundle and loses its verify=False.
    proc = installed.run(clean_env(tmp_path / "home"), "-c", CHILD, plain_venv.python, PROBE, url)
    result, inherited = proc.stdout.splitlines()
    assert result == "SSLError" and "cert-session-" in inherited, proc.stdout + proc.stderr


def test_company_wheel_can_make_export_off_the_default(
    world: World, wheelhouse: Path, tmp_path: Path
) -> None:
    from cert_session._package import package

    out = tmp_path / "dist"
    assert package("acme-certs", [str(world.company.intermediate_pem)], str(out), export="0") == 0
    wheel = wheels.for_python(out, "acme_certs-*.whl")
    home = tmp_path / "home"
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(wheel))
    env = clean_env(home)
    assert venv.run(env, "-c", ENVIRON).stdout.split() == ["-", "-"]
    assert_ok(probe(venv, env, world.urls["company"]))
    # CERT_SESSION_EXPORT=1 turns the export back on.
    on = clean_env(home, CERT_SESSION_EXPORT="1")
    assert "cert-session-" in venv.run(on, "-c", ENVIRON).stdout


def test_the_rule_names_the_variable_the_requests_target_exports() -> None:
    # _verify_rule and _verify_guard keep their own copy: importing _config costs instructions at every `import requests`.
    from cert_session import _config, _verify_rule

    assert _verify_rule._VAR == _config.TARGETS["requests"]


def test_debug_says_nothing_when_the_guard_changes_nothing(installed: Venv, world: World, tmp_path: Path) -> None:
    # Issue #18: it used to say "using <bundle> instead of <bundle>" at every default request.
    env = clean_env(tmp_path / "home", CERT_SESSION_DEBUG="1")
    proc = probe(installed, env, world.urls["company"])
    assert proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if "asked for" in ln] == []
