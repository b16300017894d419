"""The start-up fast path repeats exactly what the general path decided.

``cert_session_hook`` may import nothing, so it keeps its own copies of a
few lines of the layers below it and replays the fast state the general path
wrote. These tests pin the copies to their originals and the two paths to
the same decisions: same variables set and removed, same verify-guard
bundle, and the fast path steps aside whenever anything it recorded changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import cert_session_hook
from cert_session import _config, _layout, _startup, _state
from tests.conftest import World
from tests.helpers.inprocess import isolate

OURS = "/somewhere/cert-session-" + "ab" * 16 + ".pem"
RELEVANT = sorted(set(_state.FAST_KEY_VARS) | {_config.ORIG_PREFIX + v for v in _config.TARGETS.values()})
# The variables the fast path reads, in its order: the switches, the cache location, then the key.
HOOK_NAMES = tuple(name.decode("ascii") for name in cert_session_hook._BYTE_NAMES)


def test_fast_path_keys_on_the_same_variables_as_the_general_path() -> None:
    assert HOOK_NAMES[6:] == _state.FAST_KEY_VARS
    # Every variable that changes what the general path decides is in the
    # key; the rest of WATCHED_ENV only says where the cache is.
    location = {"CERT_SESSION_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "LOCALAPPDATA"}
    assert set(_config.WATCHED_ENV) - location == set(_state.FAST_KEY_VARS)


def test_fast_path_guards_the_same_modules_as_the_general_path() -> None:
    from cert_session import _verify_guard

    assert cert_session_hook._GUARDED == _startup.GUARDED_MODULES == _verify_guard.GUARDED_MODULES
    assert "niquests.sessions" in cert_session_hook._GUARDED  # niquests kept requests' precedence (issue #23)


def test_fast_path_copies_of_layout_functions_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    environ = os.environ
    key = _state.fast_key(environ)
    assert key == "\x1f".join([cert_session_hook._HERE] + [environ.get(n, "") for n in HOOK_NAMES[6:]])
    assert cert_session_hook._HERE == _layout.HERE
    for text in ("", key, "caf\xe9", "\udcff"):
        assert cert_session_hook._digest64(text) == _layout.digest64(text)
    assert HOOK_NAMES[:6] == (
        "CERT_SESSION_DISABLE", "CERT_SESSION_DEBUG", "CERT_SESSION_CACHE_DIR", "HOME", "XDG_CACHE_HOME", "LOCALAPPDATA"
    )
    values = cert_session_hook._values(environ)
    assert values == [environ.get(n, "") for n in HOOK_NAMES]
    # A mapping that is not os.environ (the fallback) gives the same.
    assert cert_session_hook._values(dict(environ)) == values  # type: ignore[arg-type]
    assert cert_session_hook._cache_dir(*values[2:6]) == _layout.user_cache_dir()


def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the fast path run inside the test process: requests is imported here."""
    monkeypatch.delitem(sys.modules, "requests.sessions", raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(cert_session_hook, "guarding", False)
    monkeypatch.setattr(cert_session_hook, "pending", set())


def snapshot() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in RELEVANT}


CASES = {
    "default": {},
    "preset": {"REQUESTS_CA_BUNDLE": "PRESET"},
    "curl": {"CURL_CA_BUNDLE": "PRESET"},
    "inherited": {"REQUESTS_CA_BUNDLE": OURS, "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE": "PRESET"},
    "inherited-twice": {"REQUESTS_CA_BUNDLE": OURS, "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE": OURS},
    "ours-no-orig": {"REQUESTS_CA_BUNDLE": OURS},
    "two-targets": {"CERT_SESSION_TARGETS": "requests,ssl,node"},
    "other-target-only": {"CERT_SESSION_TARGETS": "node"},
    "inherited-ssl-not-exported-now": {"SSL_CERT_FILE": OURS, "CERT_SESSION_ORIG_SSL_CERT_FILE": ""},
    "inherited-node-with-orig": {"NODE_EXTRA_CA_CERTS": OURS, "CERT_SESSION_ORIG_NODE_EXTRA_CA_CERTS": "PRESET"},
    # git through GIT_CONFIG_SYSTEM (issue #23), with and without the user's own system config.
    "git-config": {"CERT_SESSION_TARGETS": "requests,git"},
    "git-config-preset": {"CERT_SESSION_TARGETS": "git", "GIT_CONFIG_SYSTEM": "PRESET"},
    "git-cainfo-preset": {"CERT_SESSION_TARGETS": "git", "GIT_SSL_CAINFO": "PRESET"},
    "git-nosystem": {"CERT_SESSION_TARGETS": "git", "GIT_CONFIG_NOSYSTEM": "1"},
    "inherited-git-config-not-exported-now": {
        "GIT_CONFIG_SYSTEM": OURS[:-4] + ".gitconfig",
        "CERT_SESSION_ORIG_GIT_CONFIG_SYSTEM": "PRESET",
    },
    # CERT_SESSION_EXPORT=0: no S lines, still the guard's G line; an inherited export is undone.
    "export-off": {"CERT_SESSION_EXPORT": "0"},
    "export-off-two-targets": {"CERT_SESSION_EXPORT": "0", "CERT_SESSION_TARGETS": "requests,ssl"},
    "export-off-preset": {"CERT_SESSION_EXPORT": "0", "REQUESTS_CA_BUNDLE": "PRESET"},
    "export-off-inherited": {
        "CERT_SESSION_EXPORT": "0",
        "REQUESTS_CA_BUNDLE": OURS,
        "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE": "PRESET",
    },
    "export-on": {"CERT_SESSION_EXPORT": "1"},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_repeats_the_general_path_exactly(
    case: str, world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    company = tmp_path / "Issuer.crt"
    company.write_bytes(world.company.intermediate_pem.read_bytes())
    preset = tmp_path / "preset.pem"
    preset.write_bytes(world.company.root_pem.read_bytes())
    env = {k: v.replace("PRESET", str(preset)) for k, v in CASES[case].items()}
    env["CERT_SESSION_CERTS"] = str(company)

    isolate(monkeypatch, tmp_path, **env)
    fast_env(monkeypatch)
    before = snapshot()
    exports = _startup.activate()  # the general path: builds, exports, writes the fast state
    general = snapshot()
    if env.get("CERT_SESSION_EXPORT") == "0":
        # Nothing of ours in the environment, whatever was inherited.
        assert not any(_layout.is_ours(v or "") for v in general.values())
        assert general == before or "inherited" in case
    else:
        assert general != before or not exports

    isolate(monkeypatch, tmp_path, **env)
    assert snapshot() == before
    assert cert_session_hook._steady(os.environ) is True
    assert snapshot() == general
    requests_bundle = exports.get("REQUESTS_CA_BUNDLE")
    assert cert_session_hook.guarding is bool(requests_bundle)
    if requests_bundle:
        assert cert_session_hook.bundle == requests_bundle
        assert cert_session_hook in sys.meta_path


def test_fast_path_steps_aside_when_an_input_changes_and_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    company = tmp_path / "Issuer.crt"
    company.write_bytes(world.company.intermediate_pem.read_bytes())
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(company))
    fast_env(monkeypatch)
    _startup.activate()

    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(company))
    company.write_bytes(world.company.intermediate_pem.read_bytes() + b"\n")  # an input changed
    assert cert_session_hook._steady(os.environ) is False
    assert "REQUESTS_CA_BUNDLE" not in os.environ  # left for the general path to rebuild
    assert not cert_session_hook.guarding


@pytest.mark.parametrize(
    "env",
    [{"CERT_SESSION_CERTS": "relative/Issuer.crt"}, {"REQUESTS_CA_BUNDLE": "relative/bundle.pem"}],
    ids=["relative-certs", "relative-preset"],
)
def test_no_fast_state_for_a_configuration_that_depends_on_the_working_directory(
    env: dict[str, str], world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "relative").mkdir()
    (tmp_path / "relative" / "Issuer.crt").write_bytes(world.company.intermediate_pem.read_bytes())
    (tmp_path / "relative" / "bundle.pem").write_bytes(world.company.root_pem.read_bytes())
    monkeypatch.chdir(tmp_path)
    cache = isolate(monkeypatch, tmp_path, **env)
    fast_env(monkeypatch)
    _startup.activate()
    assert list(cache.rglob("fast-*")) == []
    isolate(monkeypatch, tmp_path, **env)
    assert cert_session_hook._steady(os.environ) is False


def test_debugging_always_takes_the_general_path(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(world.company.intermediate_pem))
    fast_env(monkeypatch)
    _startup.activate()
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(world.company.intermediate_pem), CERT_SESSION_DEBUG="1")
    assert cert_session_hook._steady(os.environ) is False
