"""Issue #9: Windows and macOS, proven as far as a Linux machine can.

The real wheel runs in a real venv, with the real hook, certifi, requests
and TLS; only what CPython itself reports differently on Windows (``os.stat``
modes and owners, missing calls and flags, text-mode ``os.open``, a
replace onto a file someone holds) or where macOS puts things is emulated
(tests/helpers/emulation.py). The policies in cert_session/_platform.py are
also checked directly, and the fast path's copies against them.
"""

from __future__ import annotations

import ntpath
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import cert_session_hook
from cert_session import _log, _platform
from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers import emulation
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import Venv

# Prints the exported bundle, whether the general path ran, then fetches the URL.
PROBE = r"""
import os, sys
print(os.environ.get("REQUESTS_CA_BUNDLE", ""))
print("general" if "_cert_session._startup" in sys.modules else "fast")
import requests
try:
    requests.get(sys.argv[1], timeout=20)
    print("ok")
except requests.exceptions.SSLError:
    print("ssl")
"""


@pytest.fixture(scope="module")
def emulated(world: World, wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("emulated")
    venv = new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    emulation.install(venv.site_packages)
    return venv


def windows_env(home: Path, **extra: str | None) -> dict[str, str]:
    local = home / "AppData" / "Local"
    (local / "Temp").mkdir(parents=True, exist_ok=True)
    return clean_env(
        home,
        CERT_SESSION_EMULATE="win32",
        CERT_SESSION_CACHE_DIR=None,  # the platform's own location
        HOME=None,  # Windows has none; a POSIX rule that needs it would show
        LOCALAPPDATA=str(local),
        TEMP=str(local / "Temp"),
        USERNAME="alice",
        **extra,
    )


def start(venv: Venv, env: dict[str, str], url: str) -> tuple[list[str], str]:
    proc = run([venv.python, "-c", PROBE, url], env, check=False, cwd=env["TMPDIR"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines(), proc.stderr


def tree(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root: (inode, mtime, content), to prove nothing was written."""
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in root.rglob("*") if p.is_file()}


def test_windows_first_start_exports_silently_later_starts_write_nothing(
    emulated: Venv, world: World, tmp_path: Path
) -> None:
    env = windows_env(tmp_path / "home")
    cache = Path(env["LOCALAPPDATA"]) / "cert-session" / "Cache"

    (bundle, path, outcome), err = start(emulated, env, world.urls["company"])
    assert (path, outcome, err) == ("general", "ok", "")  # built, trusted, not a word on stderr
    assert Path(bundle).parent.parent == cache
    data = Path(bundle).read_bytes()
    assert b"\r\n" not in data and data.count(b"-----BEGIN CERTIFICATE-----") > 100  # LF, public roots too
    for state in cache.rglob("*-*"):
        if state.name.startswith(("state-", "fast-")):
            assert b"\r" not in state.read_bytes()  # written with O_BINARY
    before = tree(cache)

    for _ in range(3):
        lines, err = start(emulated, env, world.urls["company"])
        assert (lines, err) == ([bundle, "fast", "ok"], "")  # the fast path, same bundle, silent
    assert tree(cache) == before  # nothing rewritten
    assert start(emulated, env, world.urls["private"])[0][2] == "ssl"  # and nothing else trusted


def test_windows_configurations_sharing_a_bundle_do_not_rewrite_each_other(
    emulated: Venv, world: World, tmp_path: Path
) -> None:
    # Two targets' sets build the same requests bundle: modes (0o666 there)
    # must not make one configuration rewrite the other's file.
    one = windows_env(tmp_path / "home", CERT_SESSION_TARGETS="requests")
    two = windows_env(tmp_path / "home", CERT_SESSION_TARGETS="requests,node")
    first = [start(emulated, env, world.urls["company"]) for env in (one, two)]
    assert first[0][0][0] == first[1][0][0] and first[0][1] == first[1][1] == ""
    cache = Path(one["LOCALAPPDATA"]) / "cert-session" / "Cache"
    before = tree(cache)
    for env in (one, two, one, two):
        lines, err = start(emulated, env, world.urls["company"])
        assert (lines[1:], err) == (["fast", "ok"], "")
    assert tree(cache) == before


def _windows_company_start(emulated: Venv, world: World, tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """The company certificate as a file of its own, an emulated Windows environment naming it,
    and the bundle its first start exported."""
    company = tmp_path / "Issuer.crt"
    company.write_bytes(world.company.intermediate_pem.read_bytes())
    env = windows_env(tmp_path / "home", CERT_SESSION_CERTS=str(company))
    (bundle, _, _), _ = start(emulated, env, world.urls["company"])
    return company, env, bundle


def test_windows_rebuild_while_others_hold_the_files_retries_and_keeps_the_bundle(
    emulated: Venv, world: World, tmp_path: Path
) -> None:
    company, env, bundle = _windows_company_start(emulated, world, tmp_path)
    # Another interpreter holds the state files for a moment (three refusals)
    # and the bundle throughout; an input changes without changing the bundle.
    held = dict(env, CERT_SESSION_EMULATE_HELD="state-,fast-,cert-session-", CERT_SESSION_EMULATE_HELD_TRIES="3")
    st = company.stat()
    os.utime(company, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    lines, err = start(emulated, held, world.urls["company"])
    assert (lines, err) == ([bundle, "general", "ok"], "")  # rebuilt, same bundle, silent
    lines, err = start(emulated, env, world.urls["company"])
    assert (lines, err) == ([bundle, "fast", "ok"], "")  # and the new state was written


def test_windows_bundle_held_while_its_content_changes_is_brought_up_to_date_once_released(
    emulated: Venv, world: World, tmp_path: Path
) -> None:
    """Bundle names are stable (issue #23): a rebuild replaces the file, which a reader may hold on Windows."""
    company, env, bundle = _windows_company_start(emulated, world, tmp_path)
    # A new company certificate while another process holds the bundle for
    # longer than the replace policy waits: this start still gets a working
    # bundle (the fallback directory's), with one line at most.
    company.write_bytes(world.company.intermediate_pem.read_bytes() + world.private.root_pem.read_bytes())
    held = dict(env, CERT_SESSION_EMULATE_HELD="cert-session-")
    (other, path, outcome), err = start(emulated, held, world.urls["private"])
    assert (path, outcome) == ("general", "ok") and len(err.splitlines()) <= 1, err
    # Released: the next start replaces the stable file, and every path a
    # shell exported (the first one) holds the new certificate.
    lines, err = start(emulated, env, world.urls["private"])
    assert (lines, err) == ([bundle, "general", "ok"], "")
    assert world.private.root_pem.read_bytes().strip() in Path(bundle).read_bytes()
    assert start(emulated, env, world.urls["private"]) == ([bundle, "fast", "ok"], "")


def test_macos_uses_library_caches_and_never_creates_a_missing_home(
    emulated: Venv, world: World, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home, CERT_SESSION_EMULATE="darwin", CERT_SESSION_CACHE_DIR=None)
    (bundle, _, outcome), err = start(emulated, env, world.urls["company"])
    assert (outcome, err) == ("ok", "")
    assert Path(bundle).parent.parent == home / "Library" / "Caches" / "cert-session"
    assert start(emulated, env, world.urls["company"]) == ([bundle, "fast", "ok"], "")

    missing = tmp_path / "nobody-home"
    # XDG_CACHE_HOME means nothing on macOS: it must not make a missing HOME look usable.
    env = clean_env(
        home, CERT_SESSION_EMULATE="darwin", CERT_SESSION_CACHE_DIR=None, HOME=str(missing), XDG_CACHE_HOME=str(tmp_path / "xdg")
    )
    (bundle, _, outcome), err = start(emulated, env, world.urls["company"])
    assert outcome == "ok" and not missing.exists()  # a working bundle elsewhere, no home created
    assert "HOME=%s does not exist" % missing in err and len(err.splitlines()) == 1


# --- a start as root with someone else's HOME (sudo keeps HOME on macOS) ------


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to act as two users")
def test_root_with_another_users_home_creates_nothing_there(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    from tests.helpers.faults import NOBODY, as_nobody, nobody_env, public_venv

    venv = public_venv(wheelhouse, project_wheel, CERTIFI_WITH_ROOT)
    env = nobody_env(CERT_SESSION_CACHE_DIR=None)  # HOME owned by uid 65534, as sudo leaves it
    home = Path(env["HOME"])
    assert home.stat().st_uid == NOBODY
    before = sorted(str(p) for p in home.rglob("*"))

    as_root = run([venv.python, "-c", PROBE, world.urls["company"]], env, check=False)
    assert as_root.returncode == 0 and as_root.stdout.splitlines()[2] == "ok", as_root.stdout + as_root.stderr
    assert as_root.stderr == ""  # the per-user fallback is the right place: nothing to say
    assert sorted(str(p) for p in home.rglob("*")) == before  # nothing created in that home
    assert not as_root.stdout.splitlines()[0].startswith(str(home))

    for _ in range(2):  # the owner's own starts: silent, their own cache
        proc = run(as_nobody([venv.python, "-c", PROBE, world.urls["company"]]), env, check=False)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        bundle, _, outcome = proc.stdout.splitlines()
        assert outcome == "ok" and bundle.startswith(str(home / ".cache" / "cert-session"))
        assert os.stat(bundle).st_uid == NOBODY


# --- the policies themselves, and the fast path's copies ---------------------


def windows_stats(tmp_path: Path) -> dict[str, emulation.WindowsStat]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"x")
    (tmp_path / "readonly").write_bytes(b"x")
    (tmp_path / "readonly").chmod(0o444)
    (tmp_path / "link").symlink_to(tmp_path / "file")
    stats = {name: emulation.WindowsStat(os.lstat(tmp_path / name), False) for name in ("dir", "file", "readonly", "link")}
    junction = emulation.WindowsStat(os.lstat(tmp_path / "dir"), False)
    junction.st_file_attributes |= emulation.FILE_ATTRIBUTE_REPARSE_POINT  # a junction reports a directory
    stats["junction"] = junction
    return stats


def test_windows_policy_trusts_its_files_and_refuses_reparse_points(tmp_path: Path) -> None:
    stats = windows_stats(tmp_path)
    safe = _platform.WINDOWS.safe
    assert safe(stats["dir"], stat.S_IFDIR)  # type: ignore[arg-type]
    assert safe(stats["file"], stat.S_IFREG) and safe(stats["readonly"], stat.S_IFREG)  # type: ignore[arg-type]
    assert not safe(stats["link"], stat.S_IFREG) and not safe(stats["junction"], stat.S_IFDIR)  # type: ignore[arg-type]
    # What the POSIX rules made of the same answers: every file refused (finding 1).
    assert not _platform.POSIX.safe(stats["dir"], stat.S_IFDIR)  # type: ignore[arg-type]


def test_fast_path_safety_check_equals_each_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stats = windows_stats(tmp_path)
    monkeypatch.setattr(cert_session_hook, "_EUID", -1)
    monkeypatch.setattr(cert_session_hook, "_OTHERS_MAY_WRITE", 0)
    monkeypatch.setattr(cert_session_hook, "_REPARSE_POINT", 0x400)
    for st in stats.values():
        for kind in (stat.S_IFDIR, stat.S_IFREG):
            assert cert_session_hook._safe(st, kind) == _platform.WINDOWS.safe(st, kind)  # type: ignore[arg-type]
    monkeypatch.undo()
    (tmp_path / "open").write_bytes(b"x")
    (tmp_path / "open").chmod(0o666)
    for path in tmp_path.iterdir():
        st = os.lstat(path)
        for kind in (stat.S_IFDIR, stat.S_IFREG):
            assert cert_session_hook._safe(st, kind) == _platform.POSIX.safe(st, kind), path


def test_fast_path_cache_location_equals_each_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    envs = [
        {"HOME": "/h"},
        {"HOME": "/h", "XDG_CACHE_HOME": "/x"},
        {"HOME": "/h", "XDG_CACHE_HOME": "rel"},
        {"HOME": "rel"},
        {"CERT_SESSION_CACHE_DIR": "/c", "HOME": "/h"},
        {"CERT_SESSION_CACHE_DIR": "rel", "HOME": "/h", "LOCALAPPDATA": "/l"},
        {"LOCALAPPDATA": "/l"},
        {},
    ]
    for platform, policy in (("linux", _platform.POSIX), ("darwin", _platform.MACOS), ("win32", _platform.WINDOWS)):
        monkeypatch.setattr(cert_session_hook, "_WIN", platform == "win32")
        monkeypatch.setattr(cert_session_hook.sys, "platform", platform)
        for env in envs:
            names = ("CERT_SESSION_CACHE_DIR", "HOME", "XDG_CACHE_HOME", "LOCALAPPDATA")
            fast = cert_session_hook._cache_dir(*[env.get(n, "") for n in names])
            assert fast == policy.user_cache_dir(env), (platform, env)
        monkeypatch.undo()


@pytest.mark.parametrize(
    "path, absolute",
    [("C:\\certs\\Issuer.crt", True), ("\\\\server\\share\\Issuer.crt", True), ("//server/share/x", True),
     ("\\certs\\Issuer.crt", False), ("C:certs", False), ("certs", False)],
)
def test_windows_paths_need_a_drive_or_unc_prefix_on_every_version(
    path: str, absolute: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _platform._Windows(pathmod=ntpath).is_absolute(path) is absolute
    # The fast path's copy (string tests only, no os.path), with Windows' separator.
    monkeypatch.setattr(cert_session_hook, "_SEP", "\\")
    assert cert_session_hook._absolute(path) is absolute


def test_windows_fallback_is_per_user_temp_never_a_shared_tmp() -> None:
    env = {"TEMP": "/u/alice/AppData/Local/Temp", "USERNAME": "alice", "LOCALAPPDATA": "/u/alice/AppData/Local"}
    assert _platform.WINDOWS.fallback_dir(env) == "/u/alice/AppData/Local/Temp/cert-session-alice"
    no_temp = {"USERNAME": "bob", "LOCALAPPDATA": "/u/bob/AppData/Local"}
    assert _platform.WINDOWS.fallback_dir(no_temp) == "/u/bob/AppData/Local/Temp/cert-session-bob"


def test_missing_cache_base_is_named_per_platform(tmp_path: Path) -> None:
    problem = _platform.WINDOWS.cache_problem({"HOME": str(tmp_path)})
    assert problem is not None and "LOCALAPPDATA is not set" in problem[0]
    problem = _platform.MACOS.cache_problem({"HOME": str(tmp_path / "missing")})
    assert problem is not None and "does not exist" in problem[0]
    assert _platform.POSIX.cache_problem({"HOME": str(tmp_path)}) is None


def test_windows_policy_opens_binary_and_sets_no_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "O_BINARY", emulation.O_BINARY, raising=False)
    monkeypatch.setattr(os, "O_NOINHERIT", emulation.O_NOINHERIT, raising=False)
    assert _platform.WINDOWS.read_flags() & emulation.O_BINARY
    assert _platform.WINDOWS.write_flags() & emulation.O_BINARY
    assert _platform.WINDOWS.set_mode(-1, 0o644) is None  # no fchmod before 3.13, and no need
    assert _platform.WINDOWS.same_mode(os.stat_result((0o100666,) + (0,) * 9), 0o644)


def test_macos_falls_back_to_the_system_cert_pem() -> None:
    assert _platform.MACOS.openssl_cafile_fallbacks() == ("/etc/ssl/cert.pem",)
    assert _platform.POSIX.openssl_cafile_fallbacks() == ()


def test_warnings_survive_pythonw_without_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    _log.warn("nowhere to write")  # must not raise


def test_hook_start_survives_pythonw_without_stderr(tmp_path: Path) -> None:
    # A real interpreter whose stderr is None, as under pythonw.exe, with a
    # hand-over that fails: still no exception, exit 0.
    code = (
        "import sys; sys.stderr = None; import cert_session_hook as h; h._started = False; "
        "import cert_session._startup as s; s.activate = None; h.start(); print('alive')"
    )
    env = clean_env(tmp_path / "home", CERT_SESSION_DEBUG="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "alive\n"), proc.stderr


# --- no OpenSSL CA file (Windows; python.org macOS before "Install Certificates")


class _NoOpenSSLFile(_platform.Policy):
    """What OpenSSL reports there: a compiled-in CA file that does not exist."""

    def __init__(self, missing: Path, fallbacks: tuple[str, ...] = ()) -> None:
        self.missing, self.fallbacks = str(missing), fallbacks

    def openssl_cafile_fallbacks(self) -> tuple[str, ...]:
        return self.fallbacks

    def openssl_cafiles(self) -> tuple[str, ...]:
        return (self.missing,) + self.fallbacks


def test_status_says_why_the_git_target_exports_nothing_without_an_openssl_ca_file(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cert_session import _rebuild
    from tests.helpers.inprocess import isolate, status_json

    missing = tmp_path / "openssl" / "cert.pem"
    monkeypatch.setattr(_rebuild, "CURRENT", _NoOpenSSLFile(missing))
    # The root too: the test venv's real certifi lacks it, and an intermediate is added only with its root.
    certs = os.pathsep.join([str(world.company.intermediate_pem), str(world.company.root_pem)])
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=certs, CERT_SESSION_TARGETS="requests,ssl,git")
    code, data = status_json(capsys)
    rows = {row["target"]: row for row in data["targets"]}
    # git reads only that file; ssl's base is OpenSSL's file + certifi, so certifi carries it.
    assert rows["requests"]["exported"] and rows["ssl"]["exported"] and not rows["git"]["exported"]
    (problem,) = [p for p in data["problems"] if p["code"] == "base-unusable"]
    assert problem["severity"] == "warning" and str(missing) in problem["message"]
    assert problem["message"].startswith("GIT_SSL_CAINFO is not exported: OpenSSL's default CA file")
    assert "set the variable to your system CA bundle" in problem["message"]


def test_macos_uses_etc_ssl_cert_pem_when_openssl_has_no_ca_file(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cert_session import _rebuild
    from tests.helpers.inprocess import isolate, status_json

    system = tmp_path / "etc-ssl-cert.pem"  # stands in for macOS's /etc/ssl/cert.pem
    system.write_bytes(world.company.root_pem.read_bytes())
    monkeypatch.setattr(_rebuild, "CURRENT", _NoOpenSSLFile(tmp_path / "missing.pem", (str(system),)))
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(world.company.intermediate_pem), CERT_SESSION_TARGETS="ssl")
    code, data = status_json(capsys)
    (row,) = data["targets"]
    assert row["exported"] and row["base"]["path"] == str(system)
    assert [p for p in data["problems"] if p["code"] == "base-unusable"] == []
    bundle = Path(row["bundle"]).read_bytes()
    assert bundle.startswith(system.read_bytes().strip()[:64])  # the system file first, then the company chain
