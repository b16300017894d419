"""The hook's fast path agrees with the general start-up logic.

cert_session_hook handles the plain requests steady state itself, for speed
(issue #5), and sends every other case to cert_session._startup. These tests
pin the two together: same configuration key, same exports, and the fast
path steps aside whenever the general path would do something else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cert_session_hook
from cert_session import _startup
from tests.conftest import World
from tests.helpers.inprocess import isolate

OURS = "/somewhere/cert-session-" + "ab" * 16 + ".pem"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"},
        {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
        {"REQUESTS_CA_BUNDLE": "relative/bundle.pem"},
        {"REQUESTS_CA_BUNDLE": OURS, "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE": "/preset.pem"},
        {"REQUESTS_CA_BUNDLE": OURS, "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE": OURS},
        {"REQUESTS_CA_BUNDLE": OURS},
        {"CERT_SESSION_CERTS": "/a/Issuer.crt" + os.pathsep + "/b/certs"},
        {"CERT_SESSION_TARGETS": "requests"},
    ],
    ids=["default", "preset", "curl", "relative", "inherited", "inherited-twice", "ours-no-orig", "certs", "targets"],
)
def test_fast_path_key_equals_the_general_key(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate(monkeypatch, tmp_path, **env)
    fast = cert_session_hook.fast_config(os.environ)
    assert fast is not None
    config, orig = fast
    assert config == _startup.current_config()[0]
    assert orig == _startup.original_value("REQUESTS_CA_BUNDLE")


@pytest.mark.parametrize(
    "env",
    [
        {"CERT_SESSION_TARGETS": "requests,ssl"},
        {"CERT_SESSION_TARGETS": "ssl"},
        {"CERT_SESSION_CERTS": "relative/certs"},
        {"SSL_CERT_FILE": OURS},
        {"CURL_CA_BUNDLE": OURS},
    ],
    ids=["two-targets", "other-target", "relative-certs", "inherited-ssl", "inherited-curl"],
)
def test_fast_path_steps_aside_for_everything_else(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate(monkeypatch, tmp_path, **env)
    assert cert_session_hook.fast_config(os.environ) is None


def test_fast_path_applies_the_same_exports_and_only_when_fresh(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    company = tmp_path / "Issuer.crt"
    company.write_bytes(world.company.intermediate_pem.read_bytes())
    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(company))
    full = _startup.activate()  # builds the cache, exports
    bundle = full["REQUESTS_CA_BUNDLE"]

    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(company))
    assert cert_session_hook._steady(os.environ) is True
    assert os.environ["REQUESTS_CA_BUNDLE"] == bundle
    assert os.environ["CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE"] == ""

    isolate(monkeypatch, tmp_path, CERT_SESSION_CERTS=str(company))
    company.write_bytes(world.company.intermediate_pem.read_bytes() + b"\n")  # an input changed
    assert cert_session_hook._steady(os.environ) is False
    assert "REQUESTS_CA_BUNDLE" not in os.environ  # left for the general path to rebuild
