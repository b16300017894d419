"""Issue #6, part 3: a cache another local user can write never changes what we trust.

The attack: plant, in the cache, a bundle holding the attacker's root (the
"private" test root, trusted by nothing else) and a state that names it and
is fresh in every other respect (right size, right stat fingerprints). Each
plant is first shown to work when its files are trustworthy (the control),
so the refusals below are refusals of ownership, permissions or symlinks, not
of a stale state.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from cert_session import _cache, _layout
from tests.conftest import CERTIFI_WITH_ROOT, World
from tests.helpers.env import clean_env, run
from tests.helpers.faults import (
    NOBODY,
    PROBE,
    as_nobody,
    assert_quiet,
    nobody_env,
    public_venv,
    requests_bundle,
    snapshot,
)
from tests.helpers.platforms import linux_only, posix_only, root_only
from tests.helpers.venvs import Venv

# Owners, mode bits and symlinks: the POSIX half of the cache's rules.
pytestmark = posix_only

ROOT = 0


def start(venv: Venv, env: dict[str, str], *args: str, nobody: bool = False) -> subprocess.CompletedProcess[str]:
    argv = [venv.python, *args]
    return run(as_nobody(argv) if nobody else argv, env, check=False, timeout=120)


def probe(venv: Venv, env: dict[str, str], world: World, nobody: bool = False, says: str | None = None) -> str:
    """Start once (may rebuild), then fetch company and attacker servers; return the outcomes.

    ``says``: the first start must print exactly one line naming it.
    """
    first = start(venv, env, "-c", "pass", nobody=nobody)
    assert first.returncode == 0, first.stderr
    lines = assert_quiet(first, max_lines=1)
    if says is not None:
        assert len(lines) == 1 and says in lines[0] and "instead" in lines[0], first.stderr
    second = start(venv, env, "-c", PROBE, world.urls["company"], world.urls["private"], nobody=nobody)
    assert second.returncode == 0, second.stdout + second.stderr
    assert_quiet(second, max_lines=0)  # a fallback is announced once, not at every start
    return second.stdout.strip()


def warm(venv: Venv, env: dict[str, str]) -> tuple[Path, Path]:
    proc = start(venv, env, "-c", "pass")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (state,) = Path(env["CERT_SESSION_CACHE_DIR"]).glob("*/state-*")
    return state, requests_bundle(state)


def plant(
    state: Path, bundle: Path, attacker_root: Path, owner: int, mode: int, bundle_at: Path | None = None
) -> None:
    """Make ``state`` name a bundle that also trusts ``attacker_root``, fresh in every stat.

    ``bundle_at``: write the planted bundle there and leave a symlink at the
    bundle's own path. Ownership and modes are set before fingerprints are
    taken, since chown and chmod change ctime.
    """
    data = bundle.read_bytes() + attacker_root.read_bytes()
    target = bundle_at or bundle
    target.write_bytes(data)
    os.chown(target, owner, owner)
    target.chmod(mode)
    if bundle_at is not None:
        bundle.unlink()
        bundle.symlink_to(bundle_at)
    lines = []
    for line in state.read_text().splitlines():
        fields = line.split("\t")
        if fields[0] == "E" and fields[2] == str(bundle):
            line = "\t".join(fields[:3] + [str(len(data))])
        elif fields[0] == "I" and Path(fields[1]).parent == bundle.parent and _layout.is_ours(fields[1]):
            # This bundle, and the other targets' bundles beside it (a chown changed their ctime).
            line = "\t".join([*fields[:2], _layout.fingerprint(fields[1])])
        lines.append(line)
    assert any(line.startswith("E\t") for line in lines), lines
    state.write_text("\n".join(lines) + "\n")
    os.chown(state, owner, owner)
    state.chmod(mode)
    # The start-up fast path reads the fast states: make each one as fresh.
    fresh = os.lstat(bundle)
    for fast in state.parent.glob("fast-*"):
        lines = []
        for line in fast.read_text().splitlines():
            fields = line.split("\t")
            if fields[0] == "B" and fields[1] == str(bundle):
                line = "\t".join([*fields[:2], _layout.stat_fingerprint(fresh)])
            elif fields[0] == "B" and Path(fields[1]).parent == bundle.parent:
                line = "\t".join([*fields[:2], _layout.stat_fingerprint(os.lstat(fields[1]))])
            lines.append(line)
        fast.write_text("\n".join(lines) + "\n")
        os.chown(fast, owner, owner)
        fast.chmod(mode)


def set_owner(path: Path, owner: int, mode: int) -> None:
    os.chown(path, owner, owner)
    path.chmod(mode)


# (cache directory owner and mode, planted files' owner and mode)
ROOT_REFUSES = {
    "dir-of-another-user-world-writable": ((NOBODY, 0o777), (NOBODY, 0o644)),
    "own-dir-but-world-writable": ((ROOT, 0o777), (NOBODY, 0o644)),
    "own-dir-group-writable": ((ROOT, 0o770), (ROOT, 0o644)),
    "files-of-another-user": ((ROOT, 0o700), (NOBODY, 0o644)),
    "own-files-world-writable": ((ROOT, 0o700), (ROOT, 0o666)),
}


@root_only
@pytest.mark.parametrize("kind", ["control-own-files"] + sorted(ROOT_REFUSES))
def test_root_never_trusts_a_bundle_planted_by_another_user(
    kind: str, installed: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    state, bundle = warm(installed, env)
    (dir_owner, dir_mode), (file_owner, file_mode) = ROOT_REFUSES.get(kind, ((ROOT, 0o700), (ROOT, 0o600)))
    plant(state, bundle, world.private.root_pem, file_owner, file_mode)
    set_owner(state.parent, dir_owner, dir_mode)

    # A directory others can write to is abandoned, and the user told once.
    says = str(state.parent) if dir_owner != ROOT or dir_mode & 0o022 else None
    outcome = probe(installed, env, world, says=says)
    if kind.startswith("control"):
        assert outcome == "ok ok"  # the plant works when the files are ours: it is a real attack
    else:
        assert outcome == "ok ssl"  # company chain trusted, attacker refused


@root_only
@pytest.mark.parametrize("where", ["state", "bundle"])
def test_symlink_planted_at_state_or_bundle_path_is_replaced_not_followed(
    where: str, installed: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home")
    state, bundle = warm(installed, env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if where == "bundle":
        plant(state, bundle, world.private.root_pem, ROOT, 0o644, bundle_at=elsewhere / "planted.pem")
        link = bundle
    else:
        plant(state, bundle, world.private.root_pem, ROOT, 0o600)
        for path in [state, *state.parent.glob("fast-*")]:  # both state files the hook reads
            path.rename(elsewhere / ("planted-" + path.name))
            path.symlink_to(elsewhere / ("planted-" + path.name))
        link = state
    victims = snapshot(elsewhere)

    assert probe(installed, env, world) == "ok ssl"
    assert snapshot(elsewhere) == victims  # writes went to a new file, not through the link
    assert stat.S_ISREG(os.lstat(link).st_mode)


def test_symlink_planted_at_temp_file_path_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Temp names are unpredictable; make this one predictable to plant a link there.
    monkeypatch.setattr(os, "urandom", lambda n: b"\x00" * n)
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"user data\n")
    temp = directory / (".tmp-%d-%s" % (os.getpid(), "00" * 6))
    for target in (victim, tmp_path / "would-be-created"):
        temp.unlink(missing_ok=True)
        temp.symlink_to(target)
        with pytest.raises(FileExistsError):
            _cache.write_atomic(str(directory), "cert-session-x.pem", b"bundle\n")
        assert victim.read_bytes() == b"user data\n"
        assert not (tmp_path / "would-be-created").exists()
        assert not (directory / "cert-session-x.pem").exists()


@pytest.fixture(scope="module")
def public(wheelhouse: Path, project_wheel: Path) -> Venv:
    return public_venv(wheelhouse, project_wheel, CERTIFI_WITH_ROOT)


NOBODY_CASES = {
    # name: (cache dir owner and mode, planted files' owner and mode, expected outcome)
    "control-own-files": ((NOBODY, 0o700), (NOBODY, 0o600), "ok ok"),
    "root-owned-world-writable-dir": ((ROOT, 0o777), (ROOT, 0o644), "ok ssl"),
    "own-dir-files-of-another-user": ((NOBODY, 0o700), (1, 0o644), "ok ssl"),
}


@linux_only
@pytest.mark.parametrize("kind", sorted(NOBODY_CASES))
def test_unprivileged_user_never_trusts_a_bundle_planted_in_a_dir_it_does_not_control(
    kind: str, public: Venv, world: World
) -> None:
    env = nobody_env()
    state, bundle = warm(public, env)  # as root, same environment and configuration
    (dir_owner, dir_mode), (file_owner, file_mode), expected = NOBODY_CASES[kind]
    for path in (Path(env["CERT_SESSION_CACHE_DIR"]), *Path(env["CERT_SESSION_CACHE_DIR"]).rglob("*")):
        os.chown(path, NOBODY, NOBODY)
    plant(state, bundle, world.private.root_pem, file_owner, file_mode)
    set_owner(state.parent, dir_owner, dir_mode)

    says = str(state.parent) if dir_owner != NOBODY or dir_mode & 0o022 else None
    assert probe(public, env, world, nobody=True, says=says) == expected


@linux_only
def test_unprivileged_user_falls_back_when_cache_is_root_owned_and_read_only(public: Venv, world: World) -> None:
    env = nobody_env()
    cache = Path(env["CERT_SESSION_CACHE_DIR"])
    cache.mkdir(mode=0o755)  # owned by root: uid 65534 can read it, not write it
    first = start(public, env, "-c", "pass", nobody=True)
    (line,) = assert_quiet(first, max_lines=1)
    assert str(cache) in line and "instead" in line
    assert probe(public, env, world, nobody=True) == "ok ssl"
    assert os.listdir(cache) == []


@pytest.mark.parametrize("location", ["CERT_SESSION_CACHE_DIR", "XDG_CACHE_HOME", "HOME"])
def test_cache_directories_are_created_private_whatever_the_umask(
    location: str, installed: Venv, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    top = tmp_path / "new" / "parents"
    overrides: dict[str, str | None] = {"CERT_SESSION_CACHE_DIR": None}
    if location == "CERT_SESSION_CACHE_DIR":
        overrides[location] = str(top / "cache")
    elif location == "XDG_CACHE_HOME":
        overrides[location] = str(top / "xdg")
    else:
        top = home
    env = clean_env(home, **overrides)
    proc = run([installed.python, "-c", "pass"], env, umask=0)
    assert proc.stderr == ""
    (state,) = top.rglob("state-*")
    created = [state.parent]
    while created[-1] != top:
        created.append(created[-1].parent)
    if location == "HOME":
        created.pop()  # HOME itself existed
    for directory in created:
        assert stat.S_IMODE(os.lstat(directory).st_mode) == 0o700, directory
    assert stat.S_IMODE(os.lstat(state).st_mode) == 0o600
