"""Issue #19 part 3: a cache that cleans up after itself, and `cert-session cache`.

Each environment's cache directory carries a marker (``environment``,
``0600``) naming the environment's prefix. A rebuild in any environment of
the same user removes the directories whose environment no longer exists;
a directory without our marker, or one the ownership checks refuse, is
never touched. Real venvs, real starts, one shared cache directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cert_session import _layout, _state
from tests.conftest import CERTIFI_WITH_NEW_ROOT, CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers.env import clean_env, run
from tests.helpers.platforms import posix_only
from tests.helpers.venvs import GET, Venv
from tests.test_targets import ders

SHOW = "import os; print(os.environ.get('REQUESTS_CA_BUNDLE', ''))"


def env_dirs(cache: Path) -> dict[str, Path]:
    """{prefix recorded in the marker: directory} of the cache's environment directories."""
    found = {}
    for d in sorted(cache.iterdir()):
        marker = d / "environment"
        if d.is_dir() and not d.is_symlink() and marker.is_file():
            lines = marker.read_text().splitlines()
            found[lines[1].split("\t", 1)[1]] = d
    return found


@pytest.fixture
def doomed(wheelhouse: Path, project_wheel: Path, tmp_path: Path) -> Venv:
    """An environment with the package that the test will delete (`rm -rf venv`)."""
    # Installed from another HOME: pip runs the test runner's own hook, which would add its environment here.
    return new_venv(tmp_path / "doomed", wheelhouse, tmp_path / "install-home", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))


def test_a_deleted_venvs_cache_directory_is_removed_by_the_next_rebuild_elsewhere(
    installed: Venv, doomed: Venv, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    cache = home / "cache"
    assert Path(doomed.run(env, "-c", SHOW).stdout.strip()).is_file()
    assert Path(installed.run(env, "-c", SHOW).stdout.strip()).is_file()  # a rebuild elsewhere ...
    dirs = env_dirs(cache)
    assert set(dirs) == {doomed.run(env, "-c", "import sys; print(sys.prefix)").stdout.strip(),
                         installed.run(env, "-c", "import sys; print(sys.prefix)").stdout.strip()}
    doomed_dir = dirs[str(doomed.path)]
    assert oct((doomed_dir / "environment").stat().st_mode & 0o777) == oct(0o600) or os.name == "nt"
    assert doomed_dir.is_dir()  # ... leaves a live environment's directory alone

    shutil.rmtree(doomed.path)
    # The next rebuild in another environment: several concurrent starts, each with a new
    # configuration (so each rebuilds), all race to remove the dead directory.
    procs = [
        subprocess.Popen([installed.python, "-c", SHOW], env=dict(env, CERT_SESSION_TARGETS=t), cwd=str(home),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for t in ("requests", "requests,ssl,curl", "requests,aws", "requests,node", "ssl,requests,node")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == "" and Path(out.strip()).is_file(), out + err
    assert not doomed_dir.exists()
    assert list(env_dirs(cache)) == [str(installed.path)]
    assert not [p for p in cache.iterdir() if p.name.startswith(".dead-")]  # no half-removed leftovers


def test_cache_command_lists_each_environment_and_prune_removes_the_dead_ones(
    installed: Venv, doomed: Venv, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    cli = installed.script("cert-session")
    installed.run(env, "-c", SHOW)  # installed's rebuild first: the doomed one is alive then
    doomed.run(env, "-c", SHOW)
    shutil.rmtree(doomed.path)

    listing = json.loads(run([cli, "cache", "--json"], env).stdout)  # a steady start: nothing pruned yet
    by_prefix = {row["prefix"]: row for row in listing}
    assert set(by_prefix) == {str(installed.path), str(doomed.path)}
    dead, live = by_prefix[str(doomed.path)], by_prefix[str(installed.path)]
    assert (dead["exists"], dead["current"], dead["removed"]) == (False, False, False)
    assert (live["exists"], live["current"]) == (True, True)
    assert dead["size"] == sum(p.stat().st_size for p in Path(dead["directory"]).iterdir()) > 1000  # a bundle
    text = run([cli, "cache"], env).stdout
    assert "%s NO LONGER EXISTS" % doomed.path in text and "%s (this environment)" % installed.path in text

    out = run([cli, "cache", "--prune"], env).stdout
    assert out.startswith("removed %s " % dead["directory"]), out
    assert not Path(dead["directory"]).exists() and Path(live["directory"]).is_dir()
    listing = json.loads(run([cli, "cache", "--prune", "--json"], env).stdout)
    assert [row["prefix"] for row in listing] == [str(installed.path)]  # nothing more to remove


def _planted(cache: Path, prefix: Path, name: str | None = None) -> Path:
    """A directory with a valid marker naming ``prefix`` (which does not exist)."""
    d = cache / (name or _layout.env_key(str(prefix)))
    d.mkdir(mode=0o700)
    (d / "environment").write_bytes(_state.env_marker_text(str(prefix)))
    (d / "environment").chmod(0o600)
    (d / "keep-me").write_text("not ours to delete\n")
    return d


@posix_only
def test_directories_we_did_not_create_or_may_not_trust_are_left_alone(
    installed: Venv, doomed: Venv, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    cache = home / "cache"
    doomed.run(env, "-c", SHOW)
    control = env_dirs(cache)[str(doomed.path)]
    shutil.rmtree(doomed.path)

    foreign = cache / "someone-elses"  # no marker at all
    foreign.mkdir()
    (foreign / "data").write_text("x\n")
    lookalike = cache / _layout.env_key(str(tmp_path / "gone-1"))  # our name, no marker (an older version)
    lookalike.mkdir(mode=0o700)
    copied = _planted(cache, tmp_path / "gone-2", name="elsewhere-0123456789ab")  # marker names another directory
    shared = _planted(cache, tmp_path / "gone-3")
    shared.chmod(0o777)  # writable by others: never ours to trust
    target = _planted(tmp_path, tmp_path / "gone-4")
    link = cache / _layout.env_key(str(tmp_path / "gone-4"))
    link.symlink_to(target)  # a symlink to a dead environment's directory
    others = [foreign, lookalike, copied, shared, link, target]
    if os.geteuid() == 0:
        stranger = _planted(cache, tmp_path / "gone-5")
        os.chown(stranger, 65534, 65534)  # nobody's
        others.append(stranger)

    proc = installed.run(env, "-c", SHOW)  # a rebuild
    assert proc.stderr == ""
    assert not control.exists()  # the control: our own dead directory went
    for path in others:
        assert os.path.lexists(path), path
    assert (target / "keep-me").is_file() and (copied / "keep-me").is_file() and (shared / "keep-me").is_file()
    listing = json.loads(run([installed.script("cert-session"), "cache", "--prune", "--json"], env).stdout)
    unknown = {row["directory"] for row in listing if row["prefix"] is None}
    assert {str(foreign), str(lookalike), str(copied)} <= unknown  # listed, never removed
    for path in others:
        assert os.path.lexists(path), path


# Issue #23 item 4: a path that `cert-session env` printed stays valid.
OLD_SHELL = r"""
import os, ssl, subprocess, sys, urllib.request
import requests

url = sys.argv[1]
try:
    print("requests", requests.get(url, timeout=20).status_code)
except Exception as e:
    print("requests", type(e).__name__, e)
try:
    print("urllib", urllib.request.urlopen(url, timeout=20).status)
except Exception as e:
    print("urllib", type(e).__name__, getattr(e, "reason", e))
curl = subprocess.run(["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", url], capture_output=True, text=True)
print("curl", curl.stdout if curl.stdout == "200" else " ".join(curl.stderr.split()))
"""


def _exported(lines: str) -> dict[str, str]:
    """What ``eval`` of `cert-session env --shell bash` lines sets: {VAR: value}."""
    found = {}
    for line in lines.splitlines():
        assert line.startswith("export "), line
        var, _, value = line[len("export "):].partition("=")
        assert value.startswith("'") and value.endswith("'") and "'" not in value[1:-1], line
        found[var] = value[1:-1]
    return found


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_paths_a_shell_exported_a_month_ago_still_reach_the_company_server_after_a_certifi_upgrade(
    wheelhouse: Path, project_wheel: Path, plain_venv: Venv, world: World, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, tmp_path / "install-home", "requests",
                    "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    # The shell: eval "$(cert-session env --targets requests,ssl,curl)" a month ago.
    printed = run([venv.script("cert-session"), "env", "--shell", "bash", "--targets", "requests,ssl,curl"], env)
    shell = _exported(printed.stdout)
    old_paths = {var: shell[var] for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")}
    month_ago = time.time() - 30 * 86400
    for path in (home / "cache").rglob("*"):
        os.utime(path, (month_ago, month_ago), follow_symlinks=False)

    # certifi is upgraded; new processes (each a rebuild, and so a prune) use the new roots.
    venv.pip(clean_env(tmp_path / "install-home"), "install", "-q", "--no-index", "-f", str(wheelhouse),
             "certifi==" + CERTIFI_WITH_NEW_ROOT)
    for targets in ("requests,ssl", "requests,ssl,curl", "requests"):
        new = venv.run(dict(env, CERT_SESSION_TARGETS=targets), "-c", GET, world.urls["newroot"], check=False)
        assert new.returncode == 0 and new.stdout.startswith("OK 200"), new.stdout + new.stderr

    # The old shell's clients, none of which runs our hook (plain_venv has no
    # cert-session), find a current bundle at every path it exported.
    old_shell = dict(env, **shell)
    for url, name in ((world.urls["company"], "company"), (world.urls["newroot"], "a root new in the upgrade")):
        proc = run([plain_venv.python, "-c", OLD_SHELL, url], old_shell, check=False)
        assert proc.stdout.splitlines() == ["requests 200", "urllib 200", "curl 200"], (name, proc.stdout + proc.stderr)
    for path in old_paths.values():
        assert Path(path).is_file() and ders(world.newroot.root_pem) <= ders(path)
    # A new shell is told the same paths.
    printed_now = _exported(run([venv.script("cert-session"), "env", "--shell", "bash", "--targets", "requests,ssl,curl"], env).stdout)
    assert {var: printed_now[var] for var in old_paths} == old_paths
