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
from pathlib import Path
from typing import Any

import pytest

from cert_session import _startup as cert_session_hook
from cert_session._cli import main
from tests.helpers.env import PRESET_VARIABLES


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Path:
    """Clean env for an in-process ``main()``; returns the cache directory."""
    names = set(PRESET_VARIABLES) | set(cert_session_hook.TARGETS.values())
    names |= {cert_session_hook.ORIG_PREFIX + v for v in cert_session_hook.TARGETS.values()}
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
    monkeypatch.setattr(cert_session_hook, "_done", None)
    monkeypatch.setattr(cert_session_hook, "last_reason", cert_session_hook.last_reason)
    return cache


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_main(capsys, "status", "--json")
    return code, json.loads(out)
