"""Issue #6, part 1: no fault around the hook breaks a start, loses data or trusts a stale file.

Each case prepares one fault, then starts two fresh interpreters: ``python -c
pass`` (which meets the fault first, and may rebuild) and a probe that fetches
the company server (root in certifi, intermediate from the wheel, leaf-only
handshake) and the "private" server, whose root nobody trusts by default and
which stands for an attacker. For every case: exit codes as expected, no
traceback, at most one line from us, the expected trusted set, and no file
that is not ours changed (user files, certifi's bundle).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers.env import clean_env, run
from tests.helpers.faults import (
    PROBE,
    as_nobody,
    assert_only_ours_changed,
    assert_quiet,
    nobody_env,
    public_venv,
    requests_bundle,
    snapshot,
)
from tests.helpers.pki import der_of
from tests.helpers.platforms import POSIX, linux_only, posix_only
from tests.helpers.venvs import Venv

OTHER_VERSION_BUNDLE = "cert-session-" + "0123456789abcdef" * 2 + ".pem"

# Re-runs itself ``depth`` times; every level must see the bundle the top saw.
NESTED = r"""
import os, subprocess, sys
code, depth, want, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
seen = os.environ.get("REQUESTS_CA_BUNDLE", "")
if want and seen != want:
    print("depth %d sees %s, not %s" % (depth, seen, want))
    sys.exit(7)
if depth:
    sys.exit(subprocess.run([sys.executable, "-c", code, code, str(depth - 1), seen] + urls).returncode)
sys.argv = ["probe"] + urls
exec(PROBE_CODE)
"""


@dataclass
class Ctx:
    world: World
    tmp: Path
    venv: Venv
    env: dict[str, str]
    nobody: bool = False
    prefix: list[str] = field(default_factory=list)  # e.g. prlimit
    flags: list[str] = field(default_factory=list)  # interpreter options
    nested: int = 0
    cwd: str = ""  # HOME as the case started: it may unset or break HOME
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"]) if "HOME" in self.env else self.tmp / "home"

    def argv(self, *args: str) -> list[str]:
        argv = [*self.prefix, self.venv.python, *self.flags, *args]
        return as_nobody(argv) if self.nobody else argv

    def start(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self.argv(*args), self.env, check=False, cwd=self.cwd, timeout=120)

    def warm(self) -> tuple[Path, Path]:
        """Start once so the cache holds a state and a bundle; return both."""
        proc = self.start("-c", "pass")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        (state,) = Path(self.env["CERT_SESSION_CACHE_DIR"]).glob("*/state-*")
        return state, requests_bundle(state)

    def file(self, name: str, data: bytes) -> Path:
        path = self.tmp / "user" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


Setup = Callable[[Ctx], None]


@dataclass
class Case:
    id: str
    setup: Setup
    probe: str  # probe output for (company, private), or "import" for no requests
    says: str | None = None  # the first start prints exactly one line naming this
    again: int = 0  # lines the second start may print: 0 when the first one cached
    venv: str = "installed"  # or "public" (uid 65534 can run it) / "nocertifi"
    nobody: bool = False
    check: Callable[[Ctx], None] | None = None  # what else must hold afterwards
    marks: tuple[pytest.MarkDecorator, ...] = ()  # posix_only, linux_only


def corrupt(which: str, how: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        state, bundle = ctx.warm()
        path = state if which == "state" else bundle
        data = path.read_bytes()
        if how == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif how == "truncated-at-line":  # still well-formed line by line
            path.write_bytes(b"".join(data.splitlines(keepends=True)[:3]))
        elif how == "emptied":
            path.write_bytes(b"")
        elif how == "random":  # same size: a size check alone cannot see it
            path.write_bytes(os.urandom(len(data)))
        elif how == "deleted":
            path.unlink()
        elif how == "fifo":  # opening one for reading waits for a writer
            path.unlink()
            os.mkfifo(path, 0o600)

    return setup


def env_setup(**overrides: str | None) -> Setup:
    def setup(ctx: Ctx) -> None:
        ctx.env.update({k: v for k, v in overrides.items() if v is not None})
        for k, v in overrides.items():
            if v is None:
                ctx.env.pop(k, None)

    return setup


def cache_is_file(ctx: Ctx) -> None:
    ctx.env["CERT_SESSION_CACHE_DIR"] = str(ctx.file("cache-file", b"a user file\n"))


def cache_parent_missing(ctx: Ctx) -> None:
    ctx.env["CERT_SESSION_CACHE_DIR"] = str(ctx.tmp / "no" / "such" / "parent" / "cache")


def cache_read_only(ctx: Ctx) -> None:
    cache = Path(ctx.env["CERT_SESSION_CACHE_DIR"])
    cache.mkdir()
    os.chown(cache, 65534, 65534)
    cache.chmod(0o555)


def home_unset(ctx: Ctx) -> None:
    for var in ("HOME", "CERT_SESSION_CACHE_DIR"):
        ctx.env.pop(var)


def home_nonexistent(ctx: Ctx) -> None:
    ctx.env["HOME"] = "/nonexistent"  # uid 65534's home in /etc/passwd
    del ctx.env["CERT_SESSION_CACHE_DIR"]


def home_not_created(ctx: Ctx) -> None:
    assert not Path(ctx.env["HOME"]).exists()  # a cache never creates someone's home directory


def nowhere_to_cache(ctx: Ctx) -> None:
    """No HOME, and another user squats the fallback directory in TMPDIR."""
    home_nonexistent(ctx)
    squatted = Path(ctx.env["TMPDIR"], "cert-session-65534")
    squatted.mkdir()
    os.chown(squatted, 1, 1)  # uid 1: any other local user


def relative_paths(ctx: Ctx) -> None:
    ctx.env["CERT_SESSION_CACHE_DIR"] = "relative-cache"
    ctx.env["TMPDIR"] = "relative-tmp"


def nothing_in_working_directory(ctx: Ctx) -> None:
    assert not Path(ctx.cwd, "relative-cache").exists() and not Path(ctx.cwd, "relative-tmp").exists()
    bundles = list(Path(ctx.env["HOME"], ".cache").glob("cert-session/*/cert-session-*.pem"))
    assert len(bundles) == 2 and len({b.parent for b in bundles}) == 1  # the default place; requests and ssl


def xdg_is_file(ctx: Ctx) -> None:
    del ctx.env["CERT_SESSION_CACHE_DIR"]
    ctx.env["XDG_CACHE_HOME"] = str(ctx.file("xdg-file", b"not a directory\n"))


def disk_full(ctx: Ctx) -> None:
    mnt = ctx.tmp / "full"
    mnt.mkdir()
    # Smaller than any bundle: the write fails with ENOSPC part-way.
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode:
        pytest.skip("cannot mount a tmpfs here: %s" % proc.stderr.decode().strip())
    ctx.cleanups.append(lambda: umount(mnt))
    ctx.env["CERT_SESSION_CACHE_DIR"] = str(mnt / "cache")


def umount(mnt: Path) -> None:
    subprocess.run(["umount", str(mnt)], check=True)


def fsize_limited(ctx: Ctx) -> None:
    ctx.prefix = ["prlimit", "--fsize=65536", "--"]


def certifi_unreadable(ctx: Ctx) -> None:
    (pem,) = ctx.venv.site_packages.glob("certifi/cacert.pem")
    mode = pem.stat().st_mode
    pem.chmod(0o000)
    ctx.cleanups.append(lambda: pem.chmod(mode))


def preset(kind: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        if kind == "missing":
            path = ctx.tmp / "user" / "missing.pem"
        elif kind == "directory":
            path = ctx.tmp / "user" / "ca-dir"
            path.mkdir(parents=True)
        else:
            path = ctx.file("garbage.pem", os.urandom(4096).replace(b"-", b"_"))
        ctx.env["REQUESTS_CA_BUNDLE"] = str(path)

    return setup


def company_certs(kind: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        pem = ctx.world.private.root_pem.read_bytes()
        if kind == "missing":
            path = ctx.tmp / "user" / "missing.crt"
        elif kind == "10mb-garbage":
            path = ctx.file("huge.crt", os.urandom(10 << 20))
        elif kind == "der":
            path = der_of(ctx.world.private.root_pem, ctx.tmp / "private-root.der")
        elif kind == "empty":
            path = ctx.file("empty.crt", b"")
        elif kind == "crlf":
            path = ctx.file("crlf.crt", pem.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        else:
            path = ctx.file("bom.crt", b"\xef\xbb\xbf" + pem)
        ctx.env["CERT_SESSION_CERTS"] = str(path)

    return setup


def flags(*options: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        ctx.flags = list(options)

    return setup


def nested(ctx: Ctx) -> None:
    ctx.nested = 10


def other_version_parent(orig: str) -> Setup:
    """A parent ran another version: its bundle (holding the private root) is exported."""

    def setup(ctx: Ctx) -> None:
        world = ctx.world
        stale = ctx.tmp / "parent-cache" / OTHER_VERSION_BUNDLE
        stale.parent.mkdir()
        stale.write_bytes(world.private.root_pem.read_bytes() + world.company.root_pem.read_bytes())
        ctx.env["REQUESTS_CA_BUNDLE"] = str(stale)
        if orig == "unset":
            ctx.env.pop("CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE", None)
        elif orig == "empty":
            ctx.env["CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE"] = ""
        else:  # the user's own preset, which the parent saw first: honour it
            user = ctx.file("corporate.pem", world.private.root_pem.read_bytes() + world.company.root_pem.read_bytes())
            ctx.env["CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE"] = str(user)

    return setup


CASES = [
    Case("state-truncated", corrupt("state", "truncated"), "ok ssl"),
    Case("state-truncated-at-line-boundary", corrupt("state", "truncated-at-line"), "ok ssl"),
    Case("state-emptied", corrupt("state", "emptied"), "ok ssl"),
    Case("state-random-bytes", corrupt("state", "random"), "ok ssl"),
    Case("bundle-truncated", corrupt("bundle", "truncated"), "ok ssl"),
    Case("bundle-emptied", corrupt("bundle", "emptied"), "ok ssl"),
    Case("bundle-random-bytes-same-size", corrupt("bundle", "random"), "ok ssl"),
    Case("bundle-deleted-behind-state", corrupt("bundle", "deleted"), "ok ssl"),
    Case("state-replaced-by-fifo", corrupt("state", "fifo"), "ok ssl", marks=(posix_only,)),
    Case("bundle-replaced-by-fifo", corrupt("bundle", "fifo"), "ok ssl", marks=(posix_only,)),
    Case("cache-dir-is-a-file", cache_is_file, "ok ssl", says="cache-file"),
    Case("cache-dir-parent-missing", cache_parent_missing, "ok ssl"),
    Case("cache-dir-read-only", cache_read_only, "ok ssl", says="cache", venv="public", nobody=True, marks=(linux_only,)),
    Case("relative-cache-dir-and-tmpdir", relative_paths, "ok ssl", check=nothing_in_working_directory, marks=(linux_only,)),
    Case("home-unset", home_unset, "ok ssl", says="HOME is not set", marks=(posix_only,)),
    Case("home-nonexistent", home_nonexistent, "ok ssl", says="/nonexistent", venv="public", nobody=True, marks=(linux_only,)),
    Case("home-nonexistent-as-root", home_nonexistent, "ok ssl", says="/nonexistent", check=home_not_created, marks=(posix_only,)),
    # Nothing can be cached: said at every start, and nothing piles up in TMPDIR.
    Case("no-cache-location-usable", nowhere_to_cache, "ok ssl", says="for this process", again=1, venv="public", nobody=True, marks=(linux_only,)),
    Case("xdg-cache-home-is-a-file", xdg_is_file, "ok ssl", says="xdg-file", marks=(linux_only,)),
    Case("disk-full", disk_full, "ok ssl", says="full", marks=(linux_only,)),
    Case("file-size-limited", fsize_limited, "ssl ssl", says="CERT_SESSION_CACHE_DIR", again=1, marks=(linux_only,)),
    Case("certifi-uninstalled", env_setup(), "import", says="certifi", venv="nocertifi"),
    Case("certifi-bundle-unreadable", certifi_unreadable, "ssl ssl", says="cacert.pem", venv="public", nobody=True, marks=(linux_only,)),
    Case("preset-bundle-missing", preset("missing"), "error:OSError error:OSError", says="missing.pem"),
    Case("preset-bundle-is-directory", preset("directory"), "ssl ssl", says="ca-dir"),
    Case("preset-bundle-garbage", preset("garbage"), "ssl ssl", says="garbage.pem"),
    Case("company-certs-missing-path", company_certs("missing"), "ok ssl", says="missing.crt"),
    Case("company-certs-10mb-garbage", company_certs("10mb-garbage"), "ok ssl", says="huge.crt"),
    Case("company-certs-der", company_certs("der"), "ok ok", says="private-root.der"),
    Case("company-certs-empty-file", company_certs("empty"), "ok ssl", says="empty.crt"),
    Case("company-certs-crlf-pem", company_certs("crlf"), "ok ok"),
    Case("company-certs-bom-pem", company_certs("bom"), "ok ok"),
    Case("python-isolated", flags("-I"), "ok ssl"),
    Case("python-no-site", flags("-S"), "import"),
    Case("python-ignore-environment", flags("-E"), "ok ssl"),
    Case("ten-nested-subprocesses", nested, "ok ssl"),
    Case("parent-of-other-version-no-original", other_version_parent("unset"), "ok ssl"),
    Case("parent-of-other-version-empty-original", other_version_parent("empty"), "ok ssl"),
    Case("parent-of-other-version-with-user-preset", other_version_parent("preset"), "ok ok"),
]


@pytest.fixture(scope="module")
def nocertifi(world: World, wheelhouse: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The company wheel and requests, then certifi uninstalled with real pip."""
    base = tmp_path_factory.mktemp("nocertifi")
    venv = new_venv(base / "venv", wheelhouse, base / "home", "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    venv.pip(clean_env(base / "home"), "uninstall", "-y", "-q", "certifi")
    return venv


@pytest.fixture
def ctx_for(
    request: pytest.FixtureRequest, world: World, installed: Venv, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> Iterator[Callable[[Case], Ctx]]:
    made: list[Ctx] = []

    def make(case: Case) -> Ctx:
        if case.venv == "public":
            venv: Venv = public_venv(wheelhouse, project_wheel, CERTIFI_WITH_ROOT)
        elif case.venv == "nocertifi":
            venv = request.getfixturevalue("nocertifi")
        else:
            venv = installed
        env = nobody_env() if case.nobody else clean_env(tmp_path / "home")
        ctx = Ctx(world, tmp_path, venv, env, nobody=case.nobody, cwd=env["HOME"])
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        for cleanup in reversed(ctx.cleanups):
            cleanup()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_fault_never_breaks_start_or_trusts_stale_files(case: Case, ctx_for: Callable[[Case], Ctx]) -> None:
    ctx = ctx_for(case)
    certifi_dir = ctx.venv.site_packages / "certifi"
    watched = [ctx.tmp, ctx.home, certifi_dir, ctx.venv.site_packages / "cert_session"]
    case.setup(ctx)
    before = snapshot(*watched)

    first = ctx.start("-c", "pass")
    assert first.returncode == 0, first.stderr
    lines = assert_quiet(first, max_lines=1)
    if case.says is not None:
        assert len(lines) == 1 and case.says in lines[0], first.stderr
    else:
        assert lines == [], first.stderr

    urls = [ctx.world.urls["company"], ctx.world.urls["private"]]
    if ctx.nested:
        code = NESTED.replace("PROBE_CODE", repr(PROBE))
        second = ctx.start("-c", code, code, str(ctx.nested), "", *urls)
    else:
        second = ctx.start("-c", PROBE, *urls)
    if case.probe == "import":
        assert second.returncode == 5 and second.stdout.startswith("ImportError"), second.stdout + second.stderr
    else:
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stdout.strip() == case.probe, second.stdout + second.stderr
    assert_quiet(second, max_lines=case.again)

    assert_only_ours_changed(before, snapshot(*watched))
    if case.check is not None:
        case.check(ctx)
    # Only the fallback cache may appear in TMPDIR: no directory per start.
    tmpdir = Path(ctx.cwd, ctx.env["TMPDIR"])
    names = set(os.listdir(tmpdir) if tmpdir.is_dir() else [])
    if POSIX:
        leftovers = names - {"cert-session-%d" % (65534 if ctx.nobody else os.geteuid())}
    else:  # Windows: the per-user fallback is keyed by user name
        leftovers = {n for n in names if not n.startswith("cert-session-")}
    assert not leftovers, leftovers
