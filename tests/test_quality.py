"""The code stays typed (mypy --strict) and lint-clean (ruff), as a test so CI enforces it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers.wheels import REPO


def test_mypy_strict_passes() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
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
