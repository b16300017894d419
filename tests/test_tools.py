"""Issue #11 part 3: uv, pipx and huggingface_hub, the real tools from the registry.

None of them reads ``REQUESTS_CA_BUNDLE``: uv (and pipx's uv backend) and
huggingface_hub (httpx2) read ``SSL_CERT_FILE``, so they are covered by the
``ssl`` target, in a child of a hooked Python or in a shell that ran
``eval "$(cert-session env)"``. A pipx tool started from a plain shell runs
no hook of ours until the package is injected into its venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CERTIFI_WITH_ROOT, Index, World
from tests.helpers.env import clean_env
from tests.helpers.venvs import BIN, Venv, make_venv
from tests.helpers.wheels import download

# A hooked Python runs a tool as a child: the tool sees what the hook exported.
RUN = r"""
import subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=240)
print("exit", proc.returncode)
print(proc.stdout + proc.stderr)
"""


@pytest.fixture(scope="session")
def tools_house(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return download(tmp_path_factory.mktemp("wheelhouse-tools"), "uv", "pipx", "huggingface_hub", certifi_from=wheelhouse)


@pytest.fixture(scope="session")
def tools(tools_house: Path, project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """uv, pipx (which finds uv beside it) and huggingface_hub, stand-in certifi, the company wheel."""
    base = tmp_path_factory.mktemp("venv-tools")
    venv = make_venv(base / "venv")
    venv.pip(
        clean_env(base / "home"),
        "install", "-q", "--no-index", "-f", str(tools_house),
        "uv", "pipx", "huggingface_hub", "certifi==" + CERTIFI_WITH_ROOT, str(project_wheel),
    )
    return venv


def tool_env(home: Path, venv: Venv, **extra: str | None) -> dict[str, str]:
    env = clean_env(home, UV_CACHE_DIR=str(home / "uv-cache"), UV_NO_CONFIG="1", **extra)
    env["PATH"] = str(venv.path / BIN) + os.pathsep + env.get("PATH", "")
    return env


# ---------------------------------------------------------------------- uv


def test_uv_pip_install_from_index_behind_company_chain_with_ssl_target(
    tools: Venv, index: Index, tmp_path: Path
) -> None:
    target = make_venv(tmp_path / "target")
    argv = [
        tools.script("uv"), "pip", "install", "--no-cache", "--python", target.python,
        "--index-url", index.company + "simple/", "demo-pkg",
    ]
    env = tool_env(tmp_path / "home", tools, CERT_SESSION_TARGETS="requests,ssl")
    proc = tools.run(env, "-c", RUN, *argv)
    assert proc.stdout.startswith("exit 0"), proc.stdout + proc.stderr
    assert list(target.site_packages.glob("demo_pkg/__init__.py"))

    off = tool_env(tmp_path / "home", tools, CERT_SESSION_TARGETS="requests")  # without the ssl target
    other = make_venv(tmp_path / "other")
    proc = tools.run(off, "-c", RUN, *[other.python if a == target.python else a for a in argv])
    assert proc.stdout.startswith("exit 1") or proc.stdout.startswith("exit 2"), proc.stdout + proc.stderr
    assert "certificate" in proc.stdout.lower(), proc.stdout
    assert not list(other.site_packages.glob("demo_pkg"))


# -------------------------------------------------------------------- pipx


def test_pipx_installs_a_tool_behind_company_chain_and_injected_package_covers_it_from_a_plain_shell(
    tools: Venv, index: Index, world: World, wheelhouse: Path, project_wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    pipx_dirs = {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"), "PIPX_MAN_DIR": str(tmp_path / "man")}
    hooked = tool_env(home, tools, CERT_SESSION_TARGETS="requests,ssl", **pipx_dirs)
    install = [tools.script("pipx"), "install", "--backend", "uv", "--index-url", index.company + "simple/", "demo-tool"]
    proc = tools.run(hooked, "-c", RUN, *install)
    assert proc.stdout.startswith("exit 0"), proc.stdout + proc.stderr
    demo_tool = str(tmp_path / "bin" / "demo-tool")

    # Started from a plain shell, the tool runs no hook of ours.
    shell = tool_env(home, tools, CERT_SESSION_TARGETS="requests,ssl", **pipx_dirs)
    url = world.urls["company"]
    proc = subprocess.run([demo_tool, url], env=shell, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in proc.stdout, proc.stdout + proc.stderr

    # `pipx inject demo-tool cert-session-company` (here: the test wheel, offline,
    # with the stand-in certifi that holds the company root).
    links = tmp_path / "links"
    links.mkdir()
    (certifi,) = wheelhouse.glob("certifi-%s-*.whl" % CERTIFI_WITH_ROOT)
    shutil.copy(certifi, links)
    inject = [
        tools.script("pipx"), "inject", "demo-tool", str(project_wheel),
        "--index-url", index.company + "simple/", "--pip-args=--find-links=%s" % links,
    ]
    proc = tools.run(hooked, "-c", RUN, *inject)
    assert proc.stdout.startswith("exit 0"), proc.stdout + proc.stderr
    proc = subprocess.run([demo_tool, url], env=shell, capture_output=True, text=True, timeout=120)
    assert proc.stdout == "OK\n", proc.stdout + proc.stderr


# --------------------------------------------------------- huggingface_hub

HF_GET = r"""
import sys
from huggingface_hub import get_session
try:
    print("OK", get_session().get(sys.argv[1]).status_code)
except Exception as e:
    print("FAILED", "CERTIFICATE_VERIFY_FAILED" if "CERTIFICATE_VERIFY_FAILED" in str(e) else repr(e))
"""


def test_huggingface_hub_session_trusts_company_chain_with_ssl_target(tools: Venv, world: World, tmp_path: Path) -> None:
    url = world.urls["company"]
    env = tool_env(tmp_path / "home", tools, CERT_SESSION_TARGETS="requests,ssl", HF_HUB_OFFLINE=None)
    proc = tools.run(env, "-c", HF_GET, url)
    assert proc.stdout == "OK 200\n", proc.stdout + proc.stderr
    off = tool_env(tmp_path / "home", tools, CERT_SESSION_TARGETS="requests")  # without the ssl target
    proc = tools.run(off, "-c", HF_GET, url)
    assert proc.stdout == "FAILED CERTIFICATE_VERIFY_FAILED\n", proc.stdout + proc.stderr
