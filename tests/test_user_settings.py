"""Issue #23 item 3: the user's own CA setting wins for every opt-in target, as it does for requests.

After ``eval "$(cert-session env --targets ...)"`` each tool reaches the
company server through our export, and a server under a private root
through the user's own setting for that tool:

- git: ``git -c http.sslCAInfo=own.pem`` and the same line in ~/.gitconfig.
  GIT_SSL_CAINFO beats both, so the git target exports GIT_CONFIG_SYSTEM
  (the config git reads first, including the system one it replaces);
- curl: ``--cacert`` and ``cacert`` in ~/.curlrc beat CURL_CA_BUNDLE (curl
  reads the variable only when neither is given);
- node: a ``ca`` option replaces Node's roots, NODE_EXTRA_CA_CERTS included.

Real git, curl and node against loopback servers that send only their leaf.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import World
from tests.helpers.env import clean_env, run
from tests.helpers.venvs import Venv

TARGETS = "requests,ssl,git,curl,node"

NODE_GET = (
    "const o = process.argv[2] ? {ca: require('fs').readFileSync(process.argv[2])} : {};"
    "require('https').get(process.argv[1], o, r => { console.log('OK', r.statusCode); process.exit(0) })"
    ".on('error', e => { console.log('ERR', e.code); process.exit(3) })"
)


def _exported(lines: str) -> dict[str, str]:
    """What ``eval`` of `cert-session env --shell bash` lines does: {VAR: value}, None for an unset."""
    found: dict[str, str] = {}
    for line in lines.splitlines():
        if line.startswith("unset "):
            continue
        assert line.startswith("export "), line
        var, _, value = line[len("export "):].partition("=")
        assert value.startswith("'") and value.endswith("'") and "'" not in value[1:-1], line
        found[var] = value[1:-1]
    return found


@pytest.fixture
def shell(installed: Venv, world: World, tmp_path: Path) -> dict[str, str]:
    """A shell after eval "$(cert-session env --targets requests,ssl,git,curl,node)".

    The company root is a company certificate here (as for a company with a
    private root): OpenSSL's system file, git's and curl's base, lacks it.
    """
    for tool in ("git", "curl", "node"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed" % tool)
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(world.company.root_pem), GIT_TERMINAL_PROMPT="0")
    printed = run([installed.script("cert-session"), "env", "--shell", "bash", "--targets", TARGETS], env)
    return dict(env, **_exported(printed.stdout))


def git(env: dict[str, str], url: str, *options: str) -> str:
    """"TLS OK" once the handshake is trusted (the test server is no repository), else git's complaint."""
    proc = subprocess.run(
        ["git", *options, "ls-remote", url + "repo.git"], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=60
    )
    return "TLS OK" if "is this a git repository" in proc.stderr else " ".join(proc.stderr.split())


def curl(env: dict[str, str], url: str, *options: str) -> str:
    proc = subprocess.run(
        ["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", *options, url],
        env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=60,
    )
    return proc.stdout if proc.stdout == "200" else " ".join(proc.stderr.split())


def node(env: dict[str, str], url: str, ca: Path | None = None) -> str:
    argv = ["node", "-e", NODE_GET, url] + ([str(ca)] if ca is not None else [])
    return subprocess.run(argv, env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=60).stdout.strip()


def test_git_trusts_the_company_chain_through_our_export_and_the_users_own_cainfo_wins(
    shell: dict[str, str], installed: Venv, world: World
) -> None:
    company, private = world.urls["company"], world.urls["private"]
    own = str(world.private.root_pem)
    assert git(shell, company) == "TLS OK"
    status = run([installed.script("cert-session"), "status"], dict(shell, CERT_SESSION_TARGETS=TARGETS)).stdout
    config = Path(shell["GIT_CONFIG_SYSTEM"])
    assert "target git: GIT_CONFIG_SYSTEM=%s" % config in status, status
    bundle = config.read_text().split("sslCAInfo = ", 1)[1].split("\n", 1)[0].strip('"')
    assert "merged bundle: %s" % bundle in status.split("target git:", 1)[1]
    assert "certificate" in git(shell, private)  # no setting of the user's: our bundle, which lacks the private root
    assert git(shell, private, "-c", "http.sslCAInfo=" + own) == "TLS OK"
    Path(shell["HOME"], ".gitconfig").write_text("[http]\n\tsslCAInfo = %s\n" % own)
    assert git(shell, private) == "TLS OK"
    # The user's setting replaces ours, as GIT_SSL_CAINFO's would: no company chain there.
    assert "certificate" in git(shell, company)
    # How: git reads GIT_CONFIG_SYSTEM's file before every other config.
    assert "GIT_SSL_CAINFO" not in shell and Path(shell["GIT_CONFIG_SYSTEM"]).name.endswith(".gitconfig")


def test_git_target_keeps_the_system_git_config(shell: dict[str, str], installed: Venv, tmp_path: Path) -> None:
    """Our GIT_CONFIG_SYSTEM file includes the system config it replaces: the system's settings still apply."""
    system = tmp_path / "system-gitconfig"
    system.write_text("[alias]\n\tfrom-system = version\n")
    env = clean_env(Path(shell["HOME"]), GIT_CONFIG_SYSTEM=str(system), CERT_SESSION_CERTS=shell["CERT_SESSION_CERTS"])
    exported = _exported(run([installed.script("cert-session"), "env", "--shell", "bash", "--targets", "git"], env).stdout)
    assert exported["CERT_SESSION_ORIG_GIT_CONFIG_SYSTEM"] == str(system)
    ours = dict(env, **exported)
    proc = subprocess.run(["git", "from-system"], env=ours, capture_output=True, text=True, cwd=ours["HOME"])
    assert proc.returncode == 0 and proc.stdout.startswith("git version"), proc.stderr
    assert system.read_text() == "[alias]\n\tfrom-system = version\n"  # never modified


def test_a_preset_git_ssl_cainfo_stays_the_variable_and_is_appended_to(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    """GIT_SSL_CAINFO set by the user beats any git config: it stays, plus the company certificates."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    preset = tmp_path / "own.pem"
    preset.write_bytes(world.company.root_pem.read_bytes() + world.private.root_pem.read_bytes())
    env = clean_env(tmp_path / "home", GIT_SSL_CAINFO=str(preset), GIT_TERMINAL_PROMPT="0")
    exported = _exported(run([installed.script("cert-session"), "env", "--shell", "bash", "--targets", "git"], env).stdout)
    assert "GIT_CONFIG_SYSTEM" not in exported and exported["CERT_SESSION_ORIG_GIT_SSL_CAINFO"] == str(preset)
    ours = dict(env, **exported)
    assert git(ours, world.urls["company"]) == "TLS OK"
    assert git(ours, world.urls["private"]) == "TLS OK"


def test_curl_cacert_option_and_curlrc_win_over_our_export(shell: dict[str, str], world: World) -> None:
    company, private = world.urls["company"], world.urls["private"]
    own = str(world.private.root_pem)
    assert curl(shell, company) == "200"
    assert "curl: (60) SSL certificate" in curl(shell, private)  # 60: not verified; the wording after it varies by curl version
    assert curl(shell, private, "--cacert", own) == "200"
    Path(shell["HOME"], ".curlrc").write_text('cacert = "%s"\n' % own)
    assert curl(shell, private) == "200"
    assert "curl: (60) SSL certificate" in curl(shell, company)  # .curlrc replaces CURL_CA_BUNDLE, as documented


def test_node_ca_option_wins_over_our_extra_certificates(shell: dict[str, str], world: World) -> None:
    company, private = world.urls["company"], world.urls["private"]
    assert node(shell, company) == "OK 200"
    assert node(shell, private).startswith("ERR ")
    assert node(shell, private, world.private.root_pem) == "OK 200"
    # ca replaces Node's roots, NODE_EXTRA_CA_CERTS included: the user's choice, whole.
    assert node(shell, company, world.private.root_pem).startswith("ERR ")


def test_with_git_config_nosystem_the_git_target_exports_git_ssl_cainfo(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    """GIT_CONFIG_NOSYSTEM makes git skip the system config, ours included: GIT_SSL_CAINFO it is, as before."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = clean_env(
        tmp_path / "home", GIT_CONFIG_NOSYSTEM="1", CERT_SESSION_CERTS=str(world.company.root_pem), GIT_TERMINAL_PROMPT="0"
    )
    exported = _exported(run([installed.script("cert-session"), "env", "--shell", "bash", "--targets", "git"], env).stdout)
    assert "GIT_CONFIG_SYSTEM" not in exported and Path(exported["GIT_SSL_CAINFO"]).is_file()
    assert git(dict(env, **exported), world.urls["company"]) == "TLS OK"
