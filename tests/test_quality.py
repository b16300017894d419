"""The code stays typed (mypy --strict) and lint-clean (ruff), as a test so CI enforces it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.wheels import REPO


def test_mypy_strict_passes() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_mypy_strict_passes_for_windows_and_macos(platform: str) -> None:
    """Typeshed knows what each platform's os lacks (os.fchmod on Windows before 3.13, ...)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", platform], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_passes() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_imports_flow_one_way_through_the_floors() -> None:
    # pyproject.toml's import-linter contract: each module imports only floors below it.
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and "broken" not in proc.stdout.replace("0 broken", ""), proc.stdout + proc.stderr


def test_nothing_in_the_package_imports_the_start_up_module() -> None:
    # cert_session_hook runs when imported and hands over to the package
    # lazily: an import back would make a circle (issue #10).
    offenders = []
    for path in sorted((REPO / "cert_session").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += ["%s: %s" % (path.name, n) for n in names if n.split(".")[0] == "cert_session_hook"]
    assert offenders == []


IMPORT_WITHOUT_POSIX = r"""
import importlib, os, pathlib, sys
for name in ("geteuid", "getuid", "getegid", "mkfifo", "chown", "lchown", "fchmod", "fchown"):
    if hasattr(os, name):
        delattr(os, name)
for path in sorted(pathlib.Path("tests").rglob("*.py")):
    importlib.import_module(".".join(path.with_suffix("").parts))
print("imported")
"""


def test_every_test_module_imports_where_posix_only_functions_are_missing() -> None:
    """On Windows there is no os.geteuid, mkfifo or chown: importing a test module must not need them."""
    proc = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_POSIX], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stdout + proc.stderr


def test_every_module_has_a_floor_in_the_import_contract() -> None:
    # A module missing from the contract's layers would be checked by nothing.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    contract = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    listed = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    modules = {p.stem for p in (REPO / "cert_session").glob("*.py")} - {"__init__"}
    assert modules - listed == set()


def test_the_package_imports_itself_only_relatively() -> None:
    # The hook loads the package by location under a private name (issue #17):
    # `from cert_session import x` would look `cert_session` up through
    # sys.path, where a user's own cert_session.py may come first.
    absolute = []
    for path in sorted((REPO / "cert_session").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "cert_session":
                absolute.append("%s:%d" % (path.name, node.lineno))
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "cert_session" for a in node.names):
                absolute.append("%s:%d" % (path.name, node.lineno))
    assert absolute == []
