"""Real wheels: this project's (with test company certificates) and stand-in certifi releases."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import certifi

from cert_session import _startup_files

REPO = Path(__file__).resolve().parents[2]
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".mypy_cache", ".ruff_cache", ".hypothesis", ".venvs", "_prebuilt",
)


def download(
    dest: Path, *specs: str, certifi_from: Path | None = None, deps: bool = True, python_version: str | None = None
) -> Path:
    """Wheels of ``specs`` from the registry into ``dest``.

    Uses this machine's pip configuration on purpose: it is how the machine
    reaches the registry, and nothing under test runs here. With
    ``certifi_from``, the registry's certifi is replaced by the stand-in
    releases found there. The wheels are for the running Python unless
    ``python_version`` ("3.8") names another: some (charset_normalizer) are
    compiled for one minor version.
    """
    dest.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pip", "download", "-q", "-d", str(dest), *specs]
    if not deps:
        argv.insert(4, "--no-deps")
    if python_version is not None:
        argv[4:4] = ["--python-version", python_version, "--only-binary=:all:"]
    subprocess.run(argv, check=True, capture_output=True)
    if certifi_from is not None:
        for stray in dest.glob("certifi-*.whl"):
            stray.unlink()
        for stand_in in certifi_from.glob("certifi-*.whl"):
            shutil.copy(stand_in, dest)
    return dest


def for_python(directory: Path, pattern: str = "*.whl", version_info: tuple[int, ...] = sys.version_info[:2]) -> Path:
    """The one wheel in ``directory`` for Python ``version_info``: `cert-session package` writes two."""
    tag = _startup_files.for_version(version_info)[0]
    (wheel,) = [w for w in directory.glob(pattern) if w.name.endswith("-%s-none-any.whl" % tag)]
    return wheel


def project_copy(dest: Path, company_certs: list[Path] = ()) -> Path:  # type: ignore[assignment]
    """A copy of this repository with ``company_certs`` dropped into cert_session/certs/."""
    shutil.copytree(REPO, dest, ignore=_IGNORE)
    for cert in company_certs:
        shutil.copy(cert, dest / "cert_session" / "certs" / cert.name)
    return dest


def build_project_wheel(workdir: Path, company_certs: list[Path], out: Path, **env: str) -> Path:
    """Build cert-session-company the way a company would: certs in, pip wheel (``env``: extra variables)."""
    src = project_copy(workdir / "src", company_certs)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        env={**_build_env(workdir), **env},
    )
    (wheel,) = out.glob("cert_session_company-*.whl")
    return wheel


def _build_env(workdir: Path) -> dict[str, str]:
    from tests.helpers.env import clean_env

    return clean_env(workdir / "build-home")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def write_wheel(
    out: Path,
    name: str,
    version: str,
    files: dict[str, bytes],
    requires: list[str] = (),  # type: ignore[assignment]
    entry_points: str | None = None,
) -> Path:
    """Write a pure-Python wheel by hand (zip + METADATA + WHEEL + RECORD)."""
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    metadata += "".join("Requires-Dist: %s\n" % r for r in requires)
    all_files = dict(files)
    all_files[info + "/METADATA"] = metadata.encode()
    if entry_points is not None:
        all_files[info + "/entry_points.txt"] = entry_points.encode()
    all_files[info + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: cert-session-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [_record_line(n, d) for n, d in all_files.items()] + [info + "/RECORD,,"]
    all_files[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("%s-%s-py3-none-any.whl" % (dist, version))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in all_files.items():
            zf.writestr(n, d)
    return path


def genuine_mozilla_bundle() -> bytes:
    """The real certifi bundle installed in the test runner."""
    return Path(certifi.where()).read_bytes()


def build_certifi_wheel(
    out: Path, version: str, extra_roots: list[Path], include_mozilla: bool = True, where: Path | None = None
) -> Path:
    """A stand-in certifi release: Mozilla's bundle plus test roots, its own version.

    The package code is the real certifi's, with only ``__version__`` changed.
    With ``where``, ``where()`` returns that file instead, as Debian's,
    Ubuntu's and Fedora's patched certifi return the system bundle, while
    ``cacert.pem`` is still shipped (as Debian does).
    """
    pkg = Path(certifi.__file__).parent
    init = (pkg / "__init__.py").read_text()
    lines = [
        'from .core import contents, where\n\n__all__ = ["contents", "where"]\n__version__ = "%s"\n' % version
    ]
    assert "where" in init
    bundle = genuine_mozilla_bundle() if include_mozilla else b""
    for root in extra_roots:
        bundle += b"\n# Test root %s\n" % root.name.encode() + root.read_bytes()
    files = {
        "certifi/__init__.py": lines[0].encode(),
        "certifi/core.py": (pkg / "core.py").read_bytes() if where is None else _patched_core(where),
        "certifi/__main__.py": (pkg / "__main__.py").read_bytes(),
        "certifi/py.typed": b"",
        "certifi/cacert.pem": bundle,
    }
    return write_wheel(out, "certifi", version, files)


def source_date_epoch(repo: Path = REPO) -> str:
    """The commit's time, as the release workflow sets SOURCE_DATE_EPOCH (``git log -1 --format=%ct``)."""
    proc = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=repo, check=True, capture_output=True, text=True)
    return proc.stdout.strip()


def build_release_wheel(src: Path, out: Path, env: dict[str, str], via_sdist: bool = False) -> Path:
    """``python -m build`` of ``src`` without fetching setuptools: the wheel alone, or (``via_sdist``)
    the sdist and then the wheel from it, as the release workflow runs it."""
    out.mkdir(parents=True, exist_ok=True)
    what = [] if via_sdist else ["--wheel"]
    proc = subprocess.run(
        [sys.executable, "-m", "build", *what, "--no-isolation", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
        env=env,
        cwd=src,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("cert_session_company-*.whl")
    return wheel


def _patched_core(where: Path) -> bytes:
    """Debian's certifi/core.py (python3-certifi 2022.9.24-1), pointing at ``where``."""
    return (
        '"""certifi.py: returns the location of the system CA bundle (patched, as distributions do)."""\n\n'
        "SYSTEM_CA_CERTS_PATH = %r\n\n\n"
        "def where() -> str:\n    return SYSTEM_CA_CERTS_PATH\n\n\n"
        "def contents() -> str:\n"
        '    with open(where(), "r", encoding="ascii") as data:\n        return data.read()\n' % str(where)
    ).encode()
