"""Run ``cert_session._cli.main`` inside the test process, isolated.

The test runner's own environment has the hook installed (editable) and
this machine's preset bundle variables. ``isolate`` removes those and every
``CERT_SESSION_*`` for one test, points the cache at a temp directory and
forgets what the hook applied at start-up, so ``main([...])`` sees only
what the test set. monkeypatch puts everything back afterwards, including
variables the hook itself exports during the test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import cert_session_hook
from cert_session import _config, _startup
from cert_session._cli import main
from tests.helpers.env import PRESET_VARIABLES


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Path:
    """Clean env for an in-process ``main()``; returns the cache directory."""
    names = set(PRESET_VARIABLES) | set(_config.TARGETS.values())
    names |= {_config.ORIG_PREFIX + v for v in _config.TARGETS.values()}
    names |= {_config.GIT_CONFIG, _config.ORIG_PREFIX + _config.GIT_CONFIG, "GIT_CONFIG_NOSYSTEM"}
    names |= {k for k in os.environ if k.startswith("CERT_SESSION_")}
    for name in sorted(names):
        # setenv first so that monkeypatch records (and later restores) the
        # variable even when it does not exist yet: the hook may create it.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CERT_SESSION_CACHE_DIR", str(cache))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(_startup, "_done", None)
    monkeypatch.setattr(_startup, "last_reason", _startup.last_reason)
    # The verify guard of this process (the test runner's own hook) is put back too.
    monkeypatch.setattr(_startup, "_finder", _startup._finder)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # and any guard finder a test adds
    monkeypatch.setattr(cert_session_hook, "bundle", cert_session_hook.bundle)
    return cache


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_main(capsys, "status", "--json")
    return code, json.loads(out)
