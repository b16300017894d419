"""Issue #5: what the start-up hook imports and prints, proven without timing.

``python -X importtime`` lists every module an interpreter imports, so the
hook's import cost is visible as a set difference between a run with the hook
and one with ``CERT_SESSION_DISABLE=1`` in the same venv. That is
deterministic where a wall-clock budget is not (the timings live in
benchmarks/startup.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv, make_venv

# Prints what the hook exported, so a hook that silently did nothing cannot
# pass the import checks. os and sys are loaded before site runs .pth files,
# so this line imports nothing itself.
SHOW_BUNDLE = "import os, sys; sys.stdout.write(os.environ.get('REQUESTS_CA_BUNDLE', ''))"


def imported_modules(stderr: str) -> tuple[set[str], list[str]]:
    """(modules listed by -X importtime, every other stderr line)."""
    modules: set[str] = set()
    other: list[str] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            other.append(line)
            continue
        name = line.rsplit("|", 1)[-1].strip()
        if name != "imported package":  # the header line
            modules.add(name)
    return modules, other


def bundles_in(cache: Path) -> list[Path]:
    return sorted(cache.rglob("cert-session-*.pem"))


def test_steady_state_hook_imports_only_itself_and_prints_nothing(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    cache = Path(env["CERT_SESSION_CACHE_DIR"])
    installed.run(env, "-c", "pass")  # builds the bundles (requests, ssl) and the state file
    show = "import os; print(os.environ['REQUESTS_CA_BUNDLE']); print(os.environ['SSL_CERT_FILE'])"
    bundle, ssl_bundle = installed.run(env, "-c", show).stdout.split()
    assert sorted([Path(bundle), Path(ssl_bundle)]) == bundles_in(cache)  # the default targets: requests, ssl
    built = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    # The same interpreter with no package at all (the .pth is a plain import
    # line now, so CERT_SESSION_DISABLE still loads the hook module), but a
    # .pth file of its own: 3.14's site decodes any .pth with
    # encodings.utf_8_sig, which is the cost of every .pth, not ours.
    bare = make_venv(tmp_path / "bare")
    (bare.site_packages / "a-comment-only.pth").write_text("# nothing to run\n")

    hooked = installed.run(env, "-X", "importtime", "-c", SHOW_BUNDLE)
    disabled = installed.run(
        clean_env(tmp_path / "home", CERT_SESSION_DISABLE="1"), "-X", "importtime", "-c", SHOW_BUNDLE
    )
    plain = bare.run(env, "-X", "importtime", "-c", SHOW_BUNDLE)

    hooked_modules, hooked_other = imported_modules(hooked.stderr)
    disabled_modules, disabled_other = imported_modules(disabled.stderr)
    plain_modules, _ = imported_modules(plain.stderr)
    assert hooked.stdout == str(bundle)  # the hook did its job ...
    assert disabled.stdout == plain.stdout == ""  # ... and is really off when disabled
    assert hooked_other == [] and disabled_other == []  # not one line of our own on stderr
    assert hooked_modules - plain_modules == {"cert_session_hook"}
    assert disabled_modules - plain_modules == {"cert_session_hook"}
    assert plain_modules - hooked_modules == set()
    # Steady state really was steady: nothing in the cache was rewritten.
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == built


def test_rebuild_for_requests_imports_neither_ssl_nor_certifi(installed: Venv, tmp_path: Path) -> None:
    # The requests target alone: the ssl target (on by default) needs OpenSSL's default paths (_ssl).
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="requests")
    cache = Path(env["CERT_SESSION_CACHE_DIR"])
    assert bundles_in(cache) == []  # a fresh cache: this start must rebuild

    proc = installed.run(env, "-X", "importtime", "-c", SHOW_BUNDLE)

    modules, other = imported_modules(proc.stderr)
    (bundle,) = bundles_in(cache)
    assert proc.stdout == str(bundle)
    assert other == []  # the company certificate chains to certifi's root: nothing to report
    assert "_cert_session._rebuild" in modules  # it did rebuild, company certificate validated
    # certifi's cacert.pem is found with find_spec, not by importing certifi.
    assert {"ssl", "_ssl", "certifi", "importlib.resources"} & modules == set()

    # With the default targets the rebuild asks _ssl for OpenSSL's default file, and no more.
    default = clean_env(tmp_path / "home-default")
    proc = installed.run(default, "-X", "importtime", "-c", SHOW_BUNDLE)
    modules, other = imported_modules(proc.stderr)
    assert other == [] and "_cert_session._rebuild" in modules and "_ssl" in modules
    assert {"ssl", "certifi", "importlib.resources"} & modules == set()


def test_rebuild_after_company_certificate_change_stays_free_of_ssl(installed: Venv, tmp_path: Path) -> None:
    # The second kind of rebuild: an input changed under an existing state file (requests target only, as above).
    env = clean_env(tmp_path / "home", CERT_SESSION_TARGETS="requests")
    installed.run(env, "-c", "pass")
    (certs_dir,) = installed.site_packages.glob("cert_session/certs")
    (company,) = [p for p in certs_dir.iterdir() if p.suffix in (".pem", ".crt", ".cer")]
    # The session venv must not change: point at a copy via CERT_SESSION_CERTS
    # instead of touching the installed file. A new config means a new state.
    copy = tmp_path / "company" / company.name
    copy.parent.mkdir()
    copy.write_bytes(company.read_bytes())
    env["CERT_SESSION_CERTS"] = str(copy)
    installed.run(env, "-c", "pass")
    stat = os.stat(copy)
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    proc = installed.run(env, "-X", "importtime", "-c", "pass")

    modules, other = imported_modules(proc.stderr)
    assert other == [] and proc.stdout == ""
    assert "_cert_session._rebuild" in modules  # the mtime change was noticed
    assert {"ssl", "_ssl", "certifi"} & modules == set()


def test_rebuild_does_not_import_typing(installed: Venv, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    proc = installed.run(env, "-X", "importtime", "-c", "pass")

    modules, _ = imported_modules(proc.stderr)
    assert "_cert_session._rebuild" in modules  # a fresh cache: this start rebuilt
    assert "typing" not in modules
