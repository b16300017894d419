"""Child-process environments built explicitly.

This machine presets REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE,
PIP_CERT and a pip.conf; a test that inherited them could pass for the
wrong reason. Every child gets os.environ minus those, with HOME and the
cache directory pointing at temp paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PRESET_VARIABLES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "GIT_CONFIG_SYSTEM",
    "NODE_EXTRA_CA_CERTS",
    "HTTPLIB2_CA_CERTS",
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PYTHONPATH",
    "PYTHONHOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
    "VIRTUAL_ENV",
)


def clean_env(home: Path, **extra: str | None) -> dict[str, str]:
    """os.environ without presets and CERT_SESSION_*, with a private HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in PRESET_VARIABLES and not k.startswith("CERT_SESSION_")
    }
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["CERT_SESSION_CACHE_DIR"] = str(home / "cache")
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["TMPDIR"] = str(home / "tmp")
    (home / "tmp").mkdir(exist_ok=True)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(
    argv: list[str], env: dict[str, str], check: bool = True, timeout: float = 300, **kw: object
) -> subprocess.CompletedProcess[str]:
    # Never run from the repository: `python -c` puts the cwd on sys.path,
    # and the checkout's cert_session would shadow the installed one.
    kw.setdefault("cwd", env.get("HOME"))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise AssertionError(
            "command failed (%d): %s\n--- stdout\n%s\n--- stderr\n%s"
            % (proc.returncode, " ".join(map(str, argv)), proc.stdout, proc.stderr)
        )
    return proc  # type: ignore[no-any-return]


def runner_python() -> str:
    return sys.executable
