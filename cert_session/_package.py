"""``cert-session package``: a company wheel in one step, from what is installed.

The wheels are written directly (a zip with METADATA, WHEEL, RECORD and
entry_points.txt): no source tree, no setuptools. Two of them, the same
but for the start-up file (cert_session/_startup_files.py says why): one
with ``cert_session_hook.pth`` tagged ``py38...py317``, one with
``cert_session_hook.start`` tagged ``py318``; pip picks the one for the
Python it installs into. Each holds the installed ``cert_session_hook.py``,
the whole ``cert_session`` package, and the validated certificates
re-encoded as PEM in ``cert_session/certs/``; certificates already in this
installation's ``cert_session/certs/`` are not carried over, only the
``--cert`` files. Each ``.dist-info`` carries the installation's LICENSE file.
The bytes depend only on the inputs (fixed timestamps and order).

Beside the wheel it writes ``<name>-bootstrap.pem``: certifi's roots at
build time plus the company certificates, for the one install that happens
before the wheel is there (``pip install --cert <name>-bootstrap.pem ...``).

The company wheel installs the same files as ``cert-session-company``;
install one or the other, never both (``status`` warns when both are).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sys
import zipfile
from typing import Callable

from . import _config, _defaults, _layout, _pem, _sources, _startup_files
from ._x509 import CertInfo

__all__ = ["package"]

_NAME = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([.-]?(a|b|rc|post|dev)[0-9]*)*(\+[A-Za-z0-9.]+)?$")
_SKIP_DIRS = {"__pycache__", "_prebuilt", "certs"}
# Every company wheel's default targets unless --targets says otherwise, whatever
# the installed copy's own _defaults.py says (it may be another company wheel).
WHEEL_TARGETS = "requests,ssl"


class PackageError(Exception):
    """A reason to refuse building the wheel, written for the administrator."""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _installed_files() -> dict[str, bytes]:
    """The files this installation runs, keyed by their path in a wheel."""
    files: dict[str, bytes] = {}
    # By path, not by importing cert_session_hook: that module runs on import.
    # The start-up file is not read: an installation has the one for its own
    # Python, and each wheel gets its own (build_wheel).
    for name, path in (("cert_session_hook.py", os.path.join(_layout.HERE, "cert_session_hook.py")),):
        try:
            with open(path, "rb") as f:
                files[name] = _lf(f.read())
        except OSError as exc:
            raise PackageError(
                "cannot read %s (%s); reinstall cert-session-company and try again" % (path, exc.strerror or exc)
            ) from None
    package_dir = _layout.PACKAGE_DIR
    for root, dirs, names in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if not (name.endswith(".py") or name == "py.typed"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, os.path.dirname(package_dir)).replace(os.sep, "/")
            with open(path, "rb") as f:
                files[rel] = _lf(f.read())
    return files


def _license() -> bytes:
    """The LICENSE file of the installed distribution that ships this hook.

    setuptools puts it in the .dist-info (``license_files`` in setup.cfg);
    a company wheel ships the same file, so that legal review finds it.
    """
    from importlib import metadata

    for dist in metadata.distributions():
        files = dist.files or []
        # An editable install lists the start-up file, not the module.
        if not any(str(f) in ("cert_session_hook.py", _startup_files.PTH, _startup_files.START) for f in files):
            continue
        for f in files:
            if f.name == "LICENSE" and ".dist-info" in str(f):
                try:
                    return _lf(f.read_text(encoding="utf-8").encode("utf-8"))
                except OSError:
                    continue
    raise PackageError(
        "cannot find the LICENSE file of the installed cert-session-company; reinstall it and try again"
    )


def _lf(source: bytes) -> bytes:
    """Text with LF line ends: a Git for Windows checkout (autocrlf) has CRLF.

    Python reads either, but the DEFAULT_TARGETS line is matched line by
    line, and a wheel should not depend on the checkout it was built from.
    """
    return source.replace(b"\r\n", b"\n")


def _set_default(defaults_source: bytes, name: str, value: str) -> bytes:
    """``defaults_source`` with its ``name = "..."`` line set to ``value``.

    --targets, --export and --os-store rewrite the DEFAULT_* lines of
    cert_session/_defaults.py: each must stay one module-level line of exactly
    the form NAME = "value", once in that file.
    """
    line = re.compile(r'^%s = "[^"\n]*"$' % name, re.M)
    new, count = line.subn('%s = "%s"' % (name, value), defaults_source.decode("utf-8"))
    if count != 1:
        raise PackageError("cannot find the %s line in %s; is this installation modified?" % (name, _layout.DEFAULTS_FILE))
    return new.encode("utf-8")


def _set_targets(defaults_source: bytes, targets: str) -> bytes:
    chosen = [t.strip().lower() for t in targets.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in _config.TARGETS]
    if unknown or not chosen:
        raise PackageError(
            "--targets %r: unknown target(s) %s; choose from %s"
            % (targets, ", ".join(unknown) or "(none given)", ", ".join(_config.TARGETS))
        )
    return _set_default(defaults_source, "DEFAULT_TARGETS", ",".join(dict.fromkeys(chosen)))


def _set_export(defaults_source: bytes, export: str) -> bytes:
    if export not in ("0", "1"):
        raise PackageError("--export %r: use 1 (export the variables, the default) or 0 (export nothing)" % export)
    return _set_default(defaults_source, "DEFAULT_EXPORT", export)


def validate(paths: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """Validated PEM files for ``cert_session/certs/``, and warnings to show.

    Raises PackageError naming every certificate refused and why.
    """
    out: dict[str, bytes] = {}
    warnings: list[str] = []
    errors: list[str] = []
    seen: set[bytes] = set()
    for given in paths:
        path = os.path.abspath(given)
        if not os.path.isfile(path):
            errors.append("%s does not exist or is not a file." % path)
            continue
        blocks, problems = _sources.read_file(path)
        kept: list[_pem.Block] = []
        for p in problems:
            (errors if p.severity == "error" else warnings).append(p.message)
        for block in blocks:
            if block.cert_der in seen:
                continue
            seen.add(block.cert_der)
            cert, cert_problems = _sources.check(path, "package", block, strict=True)
            for p in cert_problems:
                (errors if p.severity == "error" else warnings).append(p.message)
            if cert is not None:
                kept.append(block)
        if kept:
            stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.splitext(os.path.basename(path))[0]) or "cert"
            name = stem + ".pem"
            n = 2
            while "cert_session/certs/" + name in out:
                name = "%s-%d.pem" % (stem, n)
                n += 1
            out["cert_session/certs/" + name] = b"".join(_pem.encode(b) for b in kept)
    if errors:
        raise PackageError("refusing to build the wheel:\n  " + "\n  ".join(errors))
    if not out:
        raise PackageError("no certificate given; pass the company CA certificate with --cert FILE")
    return out, warnings


def build_wheel(
    name: str,
    version: str,
    certs: dict[str, bytes],
    targets: str | None,
    out_dir: str,
    export: str | None = None,
    os_store: bool = False,
) -> list[str]:
    """Write the company wheels (one per start-up file variant); return their paths."""
    if not _NAME.match(name):
        raise PackageError("%r is not a valid distribution name (letters, digits, '.', '-', '_')" % name)
    if not _VERSION.match(version):
        raise PackageError("%r is not a valid version (for example 1.0 or 2026.5.1)" % version)
    files = _installed_files()
    files["cert_session/_defaults.py"] = _set_targets(files["cert_session/_defaults.py"], targets or WHEEL_TARGETS)
    if export is not None:
        files["cert_session/_defaults.py"] = _set_export(files["cert_session/_defaults.py"], export)
    if os_store:
        files["cert_session/_defaults.py"] = _set_default(files["cert_session/_defaults.py"], "DEFAULT_OS_STORE", "1")
    files.update(certs)
    dist = re.sub(r"[-_.]+", "_", name).lower()
    info = "%s-%s.dist-info" % (dist, version)
    metadata = (
        "Metadata-Version: 2.1\n"
        "Name: %s\n"
        "Version: %s\n"
        "Summary: %s's CA certificates trusted on top of the public roots in every Python process "
        "(built with cert-session %s)\n"
        "License: MIT\n"
        "Requires-Python: >=3.8\n"
        "Requires-Dist: certifi\n" % (name, version, name, _defaults.__version__)
    )
    files[info + "/METADATA"] = metadata.encode()
    files[info + "/LICENSE"] = _license()
    files[info + "/entry_points.txt"] = b"[console_scripts]\ncert-session = cert_session._cli:main\n"
    files[info + "/top_level.txt"] = b"cert_session\ncert_session_hook\n"
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for tag, startup_name, startup_line in _startup_files.VARIANTS:
        wheel = dict(files)
        wheel[startup_name] = startup_line
        wheel[info + "/WHEEL"] = (
            "Wheel-Version: 1.0\nGenerator: cert-session %s\nRoot-Is-Purelib: true\n" % _defaults.__version__
            + "".join("Tag: %s-none-any\n" % t for t in tag.split("."))
        ).encode()
        record = [_record_line(n, d) for n, d in wheel.items()] + [info + "/RECORD,,"]
        wheel[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
        path = os.path.join(os.path.abspath(out_dir), "%s-%s-%s-none-any.whl" % (dist, version, tag))
        _write_replacing(path, _zip_writer(wheel, info))
        paths.append(path)
    return paths


def _zip_writer(files: dict[str, bytes], info: str) -> Callable[[str], None]:
    def write_zip(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for n in sorted(files, key=lambda k: (k.startswith(info), k)):  # dist-info last
                zi = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
                zi.external_attr = 0o644 << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(zi, files[n])

    return write_zip


def _write_replacing(path: str, write: Callable[[str], None]) -> None:
    """``write`` a temp file beside ``path``, then move it into place: never a partial file."""
    tmp = path + ".tmp-%d" % os.getpid()
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bootstrap(name: str, certs: dict[str, bytes], out_dir: str) -> str:
    """``<out_dir>/<name>-bootstrap.pem``: certifi's roots now, then the company certificates.

    For the first install on a laptop that has only Issuer.crt: ``pip
    install --cert Issuer.crt`` fails (an intermediate is no trust anchor,
    and pip's --cert replaces its roots), this file completes the chain.
    After that the wheel keeps everything current by itself.
    """
    import certifi

    with open(certifi.where(), "rb") as f:
        base = list(_pem.iter_blocks(f.read()))
    company = []
    for file_name, pem in certs.items():
        for block in _pem.iter_blocks(pem):
            cert, _ = _sources.check(file_name, "package", block)
            if cert is not None:
                company.append(cert)
    # The trust rule: an intermediate without its root in certifi's roots is left out
    # (Python 3.13+ would otherwise trust it on its own; 3.8-3.12 never would).
    # bootstrap_gaps() says so, naming the file the user gave.
    ders = [b.cert_der for b in base]
    file_name = "%s-bootstrap.pem" % name
    data = _pem.merge(base, [c.block for c in _sources.chained(company, ders)])
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(os.path.abspath(out_dir), file_name)

    def write_pem(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    _write_replacing(path, write_pem)
    return path


def bootstrap_gaps(paths: list[str], bootstrap: str) -> list[str]:
    """What ``bootstrap`` cannot complete: one sentence per --cert certificate whose chain stops short.

    The bootstrap file is certifi's roots at build time plus the company
    certificates. A company intermediate whose root is in neither reaches no
    trust anchor for pip, requests before Python 3.13 and the other clients
    that need a complete chain, so the first install through it would fail.
    """
    import certifi

    from ._chains import unrooted
    from ._x509 import DERError, parse_certificate

    def infos(blocks: list[_pem.Block]) -> list[CertInfo]:
        out = []
        for block in blocks:
            try:
                out.append(parse_certificate(block.cert_der))
            except DERError:
                continue
        return out

    with open(certifi.where(), "rb") as f:
        roots = infos(list(_pem.iter_blocks(f.read())))
    given: dict[bytes, str] = {}
    company: list[CertInfo] = []
    for path in paths:
        for info in infos(_sources.read_file(os.path.abspath(path))[0]):
            if info.der not in given and info.is_ca:
                given[info.der] = os.path.abspath(path)
                company.append(info)
    version = getattr(certifi, "__version__", "")
    return [
        "%s, from %s, chains up to %r, which is neither among the roots of certifi %s nor among "
        "the --cert files, so it is left out of %s (an intermediate only completes chains to a "
        "root; it is never trusted on its own) and pip and the other clients would still fail. "
        "Add the certificate of %r with another --cert (ask your IT department for the company "
        "root CA) and build again."
        % (_sources.describe(gap.cert), given[gap.cert.der], gap.missing_issuer, version, bootstrap,
           gap.missing_issuer)
        for gap in unrooted(company, roots)
    ]


def package(
    name: str,
    certs: list[str],
    out_dir: str,
    targets: str | None = None,
    version: str | None = None,
    export: str | None = None,
    os_store: bool = False,
) -> int:
    """Run ``cert-session package``; return the exit code."""
    try:
        if not certs and not os_store:
            raise PackageError("give at least one --cert FILE, or --os-store for a wheel that adds the operating system's trust store")
        pem_files, warnings = validate(certs) if certs else ({}, [])
        for w in warnings:
            print("warning: %s" % w)
        paths = build_wheel(name, version or _defaults.__version__, pem_files, targets, out_dir, export, os_store)
        bootstrap = write_bootstrap(name, pem_files, out_dir) if pem_files else None
        gaps = bootstrap_gaps(certs, bootstrap) if bootstrap is not None else []
    except PackageError as exc:
        print("cert-session: %s" % exc, file=sys.stderr)
        return 1
    except OSError as exc:
        print("cert-session: cannot write to %s: %s" % (out_dir, exc.strerror or exc), file=sys.stderr)
        return 1
    for path in paths:
        print("wrote %s" % path)
    for n in sorted(pem_files):
        print("  embeds %s" % n)
    print(
        "Upload both wheels to your internal index (the same but for the start-up file: "
        "pip picks the one for each Python); users run `pip install %s`. Install it instead of "
        "cert-session-company, not beside it: both ship the same files." % name
    )
    if bootstrap is not None:
        print("wrote %s (certifi's roots + the company certificates)" % bootstrap)
        print(
            "A new machine's first install: `pip install --cert %s --index-url https://<your index>/simple/ %s` "
            "(uv: SSL_CERT_FILE=%s uv pip install ...). Later upgrades need nothing."
            % (os.path.basename(bootstrap), name, os.path.basename(bootstrap))
        )
    for gap in gaps:
        print("warning: %s" % gap)
    return 0
