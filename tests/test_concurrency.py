"""Issue #6, part 2: fifty interpreters rebuilding at once after a certifi upgrade.

No lock is taken: each one writes temp files and renames them into place.
Whatever order the renames land in, every process must trust the company
chain and the new certifi, every file left in the cache must be whole, and
no temp file may be left behind.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

from cert_session import _layout, _pem, _state
from tests.conftest import CERTIFI_WITH_NEW_ROOT, CERTIFI_WITH_ROOT, World, new_venv
from tests.helpers.env import clean_env, run
from tests.helpers.faults import PROBE, assert_quiet

INTERPRETERS = 50


def start_all(python: str, env: dict[str, str], urls: list[str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [python, "-c", PROBE, *urls], env=env, cwd=env["HOME"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(INTERPRETERS)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def assert_cache_whole(cache: Path) -> None:
    """Every bundle loads completely into OpenSSL; every state parses and names a bundle that exists."""
    names = os.listdir(cache)
    assert [n for n in names if n.startswith(".tmp-")] == []
    bundles = [cache / n for n in names if _layout.is_ours(n)]
    assert bundles
    for bundle in bundles:
        data = bundle.read_bytes()
        blocks = list(_pem.iter_blocks(data))
        assert data.count(b"-----BEGIN CERTIFICATE-----") == len(blocks) > 100
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(bundle))
        assert ctx.cert_store_stats()["x509"] == len(blocks), bundle
    states = [cache / n for n in names if n.startswith("state-")]
    assert states
    for state in states:
        parsed = _state.parse_state(state.read_bytes())
        assert parsed is not None, state
        for _, path, size in parsed[1]:
            assert os.path.getsize(path) == size


def test_fifty_interpreters_after_certifi_upgrade_all_trust_company_chain(
    world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = clean_env(home)
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "requests", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel))
    run([venv.python, "-c", "pass"], env)  # a state exists that each upgrade makes stale
    # Twice in a row: an upgrade that adds a root, then a downgrade that drops it.
    for version in (CERTIFI_WITH_NEW_ROOT, CERTIFI_WITH_ROOT):
        venv.pip(env, "install", "-q", "--no-index", "-f", str(wheelhouse), "certifi==" + version)
        results = start_all(venv.python, env, [world.urls["company"]])
        for proc in results:
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == "ok", proc.stdout + proc.stderr
            assert_quiet(proc, max_lines=0)
        (cache,) = Path(env["CERT_SESSION_CACHE_DIR"]).glob("venv-*")  # pip runs from the test runner's venv
        assert_cache_whole(cache)

        # The races settle: at worst one more rebuild, then steady state.
        debug = dict(env, CERT_SESSION_DEBUG="1")
        for _ in range(2):
            last = run([venv.python, "-c", "pass"], debug)
        assert "steady state" in last.stderr, last.stderr
        # ... and the state they settled on is the new certifi's.
        newroot = run([venv.python, "-c", PROBE, world.urls["newroot"]], env)
        assert newroot.stdout.strip() == ("ok" if version == CERTIFI_WITH_NEW_ROOT else "ssl"), newroot.stdout + newroot.stderr
