"""Issue #11 part 3: ``cert-session env`` prints the exports for a shell.

A tool started from a shell (curl, git, uv, a Python without the package)
never runs the hook; ``eval "$(cert-session env)"`` gives that shell the
variables a hooked Python would export, naming the bundles ``status`` shows.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cert_session import _shell
from cert_session._platform import POSIX, WINDOWS
from tests.conftest import World
from tests.helpers.env import clean_env
from tests.helpers.inprocess import isolate, run_main
from tests.helpers.venvs import Venv

# A path a user could really have: a quote, a dollar, a percent, a backslash, spaces.
AWKWARD = "/home/me/it's $HOME %PATH% \\ `x` dir/cert-session-" + "ab" * 16 + ".pem"

# What each shell must print back for AWKWARD, run by the real shell where installed.
SHELL_ARGV = {
    "bash": ["bash", "-c"],
    "zsh": ["zsh", "-c"],
    "fish": ["fish", "-c"],
    "powershell": ["pwsh", "-NoProfile", "-Command"],
}
ECHO = {
    "bash": "%s\nprintf '%%s\\n' \"$CERT_SESSION_TEST\"",
    "zsh": "%s\nprintf '%%s\\n' \"$CERT_SESSION_TEST\"",
    "fish": "%s\nprintf '%%s\\n' \"$CERT_SESSION_TEST\"",
    "powershell": "%s\n[Console]::Out.WriteLine($env:CERT_SESSION_TEST)",
}


@pytest.mark.parametrize("shell", sorted(SHELL_ARGV))
def test_each_shell_reads_back_exactly_the_value_it_was_given(shell: str, tmp_path: Path) -> None:
    argv = SHELL_ARGV[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip("%s is not installed here; its syntax is checked by the next test" % argv[0])
    line = _shell.set_line(shell, "CERT_SESSION_TEST", AWKWARD)
    proc = subprocess.run(
        argv + [ECHO[shell] % line], env=clean_env(tmp_path / "home"), capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.rstrip("\r\n") == AWKWARD, proc.stdout + proc.stderr


def test_each_shell_gets_its_own_syntax() -> None:
    value = "C:\\Users\\o'brien\\100%\\cert-session-x.pem"
    assert _shell.set_line("bash", "V", value) == "export V='C:\\Users\\o'\\''brien\\100%\\cert-session-x.pem'"
    assert _shell.set_line("zsh", "V", value) == _shell.set_line("bash", "V", value)
    assert _shell.set_line("fish", "V", value) == "set -gx V 'C:\\\\Users\\\\o\\'brien\\\\100%\\\\cert-session-x.pem'"
    assert _shell.set_line("powershell", "V", value) == "$env:V = 'C:\\Users\\o''brien\\100%\\cert-session-x.pem'"
    assert _shell.set_line("cmd", "V", value) == 'set "V=C:\\Users\\o\'brien\\100%%\\cert-session-x.pem"'
    assert [_shell.unset_line(s, "V") for s in _shell.SHELLS] == [
        "unset V", "unset V", "set -e V", "Remove-Item Env:V -ErrorAction SilentlyContinue", 'set "V="',
    ]
    with pytest.raises(_shell.ShellError, match="double quote"):
        _shell.set_line("cmd", "V", 'a"b')
    with pytest.raises(_shell.ShellError, match="line break"):
        _shell.set_line("bash", "V", "a\nb")


def test_default_shell_is_detected_from_shell_on_posix_and_powershell_or_cmd_on_windows() -> None:
    assert POSIX.default_shell({"SHELL": "/usr/bin/zsh"}) == "zsh"
    assert POSIX.default_shell({"SHELL": "/usr/local/bin/fish"}) == "fish"
    assert POSIX.default_shell({"SHELL": "/bin/bash"}) == "bash"
    assert POSIX.default_shell({"SHELL": "/bin/dash"}) == "bash"  # export lines are POSIX sh
    assert POSIX.default_shell({}) == "bash"
    system = "C:\\Program Files\\WindowsPowerShell\\Modules;C:\\WINDOWS\\system32\\WindowsPowerShell\\v1.0\\Modules"
    profile = "C:\\Users\\me"
    # PowerShell puts the user's module directory first for its children.
    ps = "C:\\Users\\me\\Documents\\PowerShell\\Modules;" + system
    assert WINDOWS.default_shell({"PSModulePath": ps, "USERPROFILE": profile}) == "powershell"
    assert WINDOWS.default_shell({"PSModulePath": system, "USERPROFILE": profile}) == "cmd"
    assert WINDOWS.default_shell({"USERPROFILE": profile}) == "cmd"


def test_unknown_target_is_refused_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    code, out, err = run_main(capsys, "env", "--shell", "bash", "--targets", "requests,openssl")
    assert code == 2 and out == ""
    assert err == "cert-session: error: --targets 'requests,openssl': unknown target(s) openssl; choose from requests, ssl, curl, aws, git, node\n"


# In a shell that ran `eval "$(cert-session env ...)"`: curl, a Python without
# the package (requests and urllib), then status.
SESSION = r"""
set -e
eval "$("$CLI" env --shell bash --targets requests,ssl,curl)"
curl -sS -o /dev/null -w 'curl %{http_code}\n' "$URL" || true
"$PLAIN" -c '
import sys, urllib.request, requests
print("requests", requests.get(sys.argv[1], timeout=20).status_code)
print("urllib", urllib.request.urlopen(sys.argv[1], timeout=20).status)
' "$URL" 2>&1 | tail -2
printf 'env %s %s %s\n' "$REQUESTS_CA_BUNDLE" "$SSL_CERT_FILE" "$CURL_CA_BUNDLE"
"$CLI" status
"""


def test_eval_env_lets_curl_and_a_python_without_the_package_reach_the_company_server(
    installed: Venv, plain_venv: Venv, world: World, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    env = clean_env(
        tmp_path / "home", CLI=installed.script("cert-session"), PLAIN=plain_venv.python, URL=world.urls["company"]
    )
    proc = subprocess.run(["bash", "-c", SESSION], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300)
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["curl 200", "requests 200", "urllib 200"], proc.stdout + proc.stderr
    _, requests_bundle, ssl_bundle, curl_bundle = lines[3].split(" ")
    for bundle in (requests_bundle, ssl_bundle, curl_bundle):
        assert Path(bundle).name.startswith("cert-session-") and Path(bundle).is_file()
    # status, run in that shell, names the same files.
    status = "\n".join(lines[4:])
    assert "target requests: REQUESTS_CA_BUNDLE=%s" % requests_bundle in status, status
    assert "target ssl: SSL_CERT_FILE=%s" % ssl_bundle in status
    assert "target curl: CURL_CA_BUNDLE=%s" % curl_bundle in status
    assert "merged bundle: %s" % ssl_bundle in status

    # Without the eval, the same shell's curl and plain Python fail.
    bare = SESSION.replace('eval "$("$CLI" env --shell bash --targets requests,ssl,curl)"', "")
    proc = subprocess.run(["bash", "-c", bare], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300)
    assert "curl 000" in proc.stdout and "CERTIFICATE_VERIFY_FAILED" in proc.stdout, proc.stdout + proc.stderr


def test_env_keeps_a_preset_file_as_the_base_and_prints_the_same_lines_again_after_eval(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    system = tmp_path / "system-ca.pem"
    system.write_bytes(world.company.root_pem.read_bytes())
    before = system.read_bytes()
    env = clean_env(tmp_path / "home", SSL_CERT_FILE=str(system))
    cli = installed.script("cert-session")
    argv = [cli, "env", "--shell", "bash", "--targets", "requests,ssl"]
    first = subprocess.run(argv, env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stderr == "", first.stdout + first.stderr
    values = {}
    for line in first.stdout.splitlines():
        assert line.startswith("export ") and line.endswith("'"), line
        var, _, quoted = line[len("export ") :].partition("=")
        values[var] = quoted[1:-1]
    assert values["CERT_SESSION_TARGETS"] == "requests,ssl"
    assert values["CERT_SESSION_ORIG_SSL_CERT_FILE"] == str(system)  # a hooked child re-derives from it
    assert "CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE" not in values  # unset before: recorded by its absence
    assert Path(values["SSL_CERT_FILE"]).name.startswith("cert-session-")
    # In the shell that evaluated it, the same lines again: nothing merged twice.
    again = subprocess.run(argv, env={**env, **values}, cwd=env["HOME"], capture_output=True, text=True, timeout=120)
    assert again.stdout == first.stdout, again.stdout + again.stderr
    assert system.read_bytes() == before


def test_env_says_when_there_is_nothing_to_export(bare_venv_env: tuple[Venv, dict[str, str]]) -> None:
    venv, env = bare_venv_env
    proc = subprocess.run([venv.script("cert-session"), "env", "--shell", "bash"], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == "export CERT_SESSION_TARGETS='requests,ssl'\n"  # the default targets
    assert proc.stderr == "cert-session: nothing to export: no usable company certificate here; `cert-session status` says why\n"


@pytest.fixture
def bare_venv_env(wheelhouse: Path, bare_wheel: Path, tmp_path: Path) -> tuple[Venv, dict[str, str]]:
    from tests.conftest import CERTIFI_WITH_ROOT, new_venv

    home = tmp_path / "home"
    venv = new_venv(tmp_path / "venv", wheelhouse, home, "certifi==" + CERTIFI_WITH_ROOT, str(bare_wheel))
    return venv, clean_env(home)


# git and curl from a shell that ran `eval "$(cert-session env --targets git,curl)"`:
# their TLS libraries take the company intermediate itself as the anchor.
GIT_CURL = r"""
eval "$("$CLI" env --shell bash --targets git,curl)"
curl -sS -o /dev/null -w 'curl %{http_code}\n' "$URL" 2>&1
git ls-remote "$URL" 2>&1 | head -1
"""


def test_env_for_git_and_curl_warns_exactly_when_git_and_curl_then_fail(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    """Issues #22 and #23: git's base (the system CA file) lacks the company root.

    git (like curl) would take the company intermediate as an anchor on its
    own; the trust rule leaves it out of its bundle, and the warning says so,
    true when printed. With the company root configured too, nothing is said
    and both succeed.
    """
    if shutil.which("curl") is None or shutil.which("git") is None:
        pytest.skip("curl or git is not installed")
    env = clean_env(tmp_path / "home", CLI=installed.script("cert-session"), URL=world.urls["company"])
    cli = installed.script("cert-session")

    def env_then_git_and_curl(env: dict[str, str]) -> tuple[str, str, str]:
        env_only = subprocess.run([cli, "env", "--shell", "bash", "--targets", "git,curl"], env=env, cwd=env["HOME"],
                                  capture_output=True, text=True, timeout=120)
        assert env_only.returncode == 0, env_only.stderr
        proc = subprocess.run(["bash", "-c", GIT_CURL], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=300)
        curl, git = proc.stdout.splitlines()[:2]
        return env_only.stderr, curl, git

    warned, curl, git = env_then_git_and_curl(env)
    assert warned.count("\n") == 1 and "Issuer.crt" in warned, warned
    assert "left out of" in warned, warned
    # curl's base (certifi's, here with the company root) completes the chain; git's does not.
    assert curl == "curl 200" and "certificate" in git.lower(), (curl, git)

    with_root = dict(env, CERT_SESSION_CERTS=str(world.company.root_pem))
    warned, curl, git = env_then_git_and_curl(with_root)
    assert warned == "", warned
    assert curl == "curl 200", curl
    # TLS verified: git reached the server, which is no git repository (a certificate problem reads otherwise).
    assert "not valid: is this a git repository?" in git or "not found" in git, git
    assert "certificate" not in git.lower()
