"""Where company certificates come from, and whether each one is usable.

Two sources: ``cert_session/certs/`` in the installed package (a company
drops ``Issuer.crt`` there before building its wheel) and the
``CERT_SESSION_CERTS`` variable (files or directories, ``os.pathsep``
separated). Each certificate is checked with the same rules everywhere: at
build time (``cert-session package``), by ``cert-session status`` and when
the hook rebuilds. Stdlib only: the hook's rebuild path imports this.
"""

from __future__ import annotations

import os
import sys
import time

from . import _layout
from ._pem import Block, iter_blocks, looks_like_pem
from ._x509 import CertInfo, DERError, format_time, parse_certificate

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from ._record import Record

__all__ = [
    "Problem",
    "CompanyCert",
    "Rejected",
    "Sources",
    "load",
    "read_file",
    "check",
    "chain_problems",
    "chain_problems_of_files",
    "strict_problems",
    "describe",
    "SUFFIXES",
]

SUFFIXES = (".pem", ".crt", ".cer")
MAX_FILE_SIZE = 1 << 20  # a CA file holds a few KiB; never read 10 MB at start-up
EXPIRY_WARNING_DAYS = 30


class Problem(Record):
    severity: str  # "error": not used; "warning": used, but look at it
    path: str
    message: str  # a sentence naming the file and the next step
    # Stable machine-readable kind, shown by ``status --json``: unreadable,
    # too-large, empty, unparseable, not-ca, der, missing-path, expired,
    # expiring, not-yet-valid, chain-incomplete, strict ("" for others).
    code: str = ""
    sha256: str = ""  # fingerprint of the certificate concerned, if any


class CompanyCert(Record):
    path: str
    origin: str  # "package" or "CERT_SESSION_CERTS"
    info: CertInfo
    block: Block
    problems: tuple[Problem, ...]  # warnings; a certificate with errors is not here


class Rejected(Record):
    """A configured file or certificate that is not used, and why."""

    path: str
    origin: str
    info: CertInfo | None  # None when nothing in the file parses
    problems: tuple[Problem, ...]


class Sources(Record):
    certs: list[CompanyCert]
    problems: list[Problem]  # every problem, errors and warnings
    inputs: list[str]  # paths whose stat fingerprint decides freshness
    files: list[tuple[str, str]]  # (path, origin) of every file read
    rejected: tuple[Rejected, ...] = ()


def _dir_files(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [
        os.path.join(directory, n)
        for n in names
        if n.lower().endswith(SUFFIXES) and not n.startswith(".")
    ]


def discover(certs_env: str | None = None) -> tuple[list[tuple[str, str]], list[str], list[Problem]]:
    """Company certificate files, the paths to watch, and missing entries."""
    if certs_env is None:
        certs_env = os.environ.get("CERT_SESSION_CERTS", "")
    files: list[tuple[str, str]] = []
    inputs = [_layout.PACKAGE_CERTS_DIR]
    problems: list[Problem] = []
    for path in _dir_files(_layout.PACKAGE_CERTS_DIR):
        files.append((path, "package"))
    for entry in certs_env.split(os.pathsep):
        if not entry:
            continue
        path = os.path.abspath(entry)
        inputs.append(path)
        if os.path.isdir(path):
            files.extend((p, "CERT_SESSION_CERTS") for p in _dir_files(path))
        elif os.path.exists(path):
            files.append((path, "CERT_SESSION_CERTS"))
        else:
            problems.append(
                Problem(
                    "warning",
                    path,
                    "CERT_SESSION_CERTS names %s, which does not exist; fix the path "
                    "or remove it from CERT_SESSION_CERTS." % path,
                    "missing-path",
                )
            )
    inputs.extend(p for p, _ in files)
    return files, inputs, problems


def load(certs_env: str | None = None, strict: bool = False, now: float | None = None) -> Sources:
    """Read and check every company certificate. Never raises for bad files."""
    files, inputs, problems = discover(certs_env)
    certs: list[CompanyCert] = []
    rejected: list[Rejected] = []
    seen: set[bytes] = set()
    for path, origin in files:
        blocks, file_problems = read_file(path)
        problems.extend(file_problems)
        if not blocks:
            rejected.append(Rejected(path, origin, None, tuple(file_problems)))
        for block in blocks:
            if block.cert_der in seen:
                continue
            seen.add(block.cert_der)
            cert, cert_problems = check(path, origin, block, strict=strict, now=now)
            problems.extend(cert_problems)
            if cert is not None:
                certs.append(cert)
            else:
                try:
                    info: CertInfo | None = parse_certificate(block.cert_der)
                except DERError:
                    info = None
                rejected.append(Rejected(path, origin, info, tuple(file_problems) + tuple(cert_problems)))
    return Sources(certs, problems, inputs, files, tuple(rejected))


def read_file(path: str) -> tuple[list[Block], list[Problem]]:
    """The certificate blocks of one file, and file-level problems."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_SIZE:
            return [], [
                Problem(
                    "error",
                    path,
                    "%s is %d bytes, far too large for a certificate file; it was "
                    "skipped. Put only the CA certificate (PEM) there." % (path, size),
                    "too-large",
                )
            ]
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        return [], [
            Problem(
                "error",
                path,
                "%s cannot be read (%s); it was skipped. Check its permissions."
                % (path, exc.strerror or exc),
                "unreadable",
            )
        ]
    if not data.strip():
        return [], [
            Problem(
                "warning",
                path,
                "%s is empty; it was skipped. Remove it or put a PEM CA certificate in it." % path,
                "empty",
            )
        ]
    if looks_like_pem(data):
        blocks = list(iter_blocks(data))
        if blocks:
            return blocks, []
        return [], [
            Problem(
                "error",
                path,
                "%s holds no readable PEM certificate (no valid -----BEGIN "
                "CERTIFICATE----- block); it was skipped. Replace it with the CA "
                "certificate in PEM form." % path,
                "unparseable",
            )
        ]
    try:
        info = parse_certificate(data)
    except DERError:
        return [], [
            Problem(
                "error",
                path,
                "%s is not a certificate (neither PEM nor DER); it was skipped. "
                "Replace it with the CA certificate in PEM form "
                "(-----BEGIN CERTIFICATE-----)." % path,
                "unparseable",
            )
        ]
    stem = os.path.splitext(path)[0]
    return [Block("CERTIFICATE", data)], [
        Problem(
            "warning",
            path,
            "%s holds %s in DER (binary) form, not PEM; it is used, converted. To "
            "silence this, convert it: openssl x509 -inform der -in %s -out %s.pem"
            % (path, describe(info), path, stem),
            "der",
            info.fingerprint,
        )
    ]


def describe(info: CertInfo) -> str:
    """How messages name a certificate: subject and fingerprint."""
    return "%r (SHA-256 %s)" % (info.subject, info.fingerprint[:23] + "...")


def check(
    path: str, origin: str, block: Block, strict: bool = False, now: float | None = None
) -> tuple[CompanyCert | None, list[Problem]]:
    """Validate one certificate; return it (None if unusable) and its problems."""
    try:
        info = parse_certificate(block.cert_der)
    except DERError as exc:
        return None, [
            Problem(
                "error",
                path,
                "%s holds a certificate block that does not parse (%s); it was "
                "skipped. Replace it with the CA certificate in PEM form." % (path, exc),
                "unparseable",
            )
        ]
    fp = info.fingerprint
    problems: list[Problem] = []
    if not info.is_ca:
        return None, [
            Problem(
                "error",
                path,
                "%s: %s is a server (leaf) certificate, not a CA (basicConstraints "
                "CA:FALSE), so it cannot vouch for servers; it was skipped. Put the "
                "certificate of its issuer, %r, there instead."
                % (path, describe(info), info.issuer),
                "not-ca",
                fp,
            )
        ]
    now = time.time() if now is None else now
    if info.not_after < now:
        problems.append(
            Problem(
                "warning",
                path,
                "%s: %s expired on %s; clients reject chains through it. Get the "
                "renewed certificate from your CA." % (path, describe(info), format_time(info.not_after)),
                "expired",
                fp,
            )
        )
    elif info.not_after < now + EXPIRY_WARNING_DAYS * 86400:
        days = int((info.not_after - now) // 86400)
        problems.append(
            Problem(
                "warning",
                path,
                "%s: %s expires on %s (in %d days); get its successor from your CA "
                "before then." % (path, describe(info), format_time(info.not_after), days),
                "expiring",
                fp,
            )
        )
    elif info.not_before > now:
        problems.append(
            Problem(
                "warning",
                path,
                "%s: %s is not valid before %s; check this machine's clock."
                % (path, describe(info), format_time(info.not_before)),
                "not-yet-valid",
                fp,
            )
        )
    if strict:
        problems.extend(strict_problems(path, info))
    return CompanyCert(path, origin, info, block, tuple(problems)), problems


def strict_missing(info: CertInfo) -> list[str]:
    """What OpenSSL's X509_V_FLAG_X509_STRICT requires of a CA and ``info`` lacks."""
    missing = []
    if info.basic_constraints is None or not info.basic_constraints[0]:
        missing.append("a critical basicConstraints extension")
    if info.subject_key_id is None:
        missing.append("a Subject Key Identifier")
    if info.authority_key_id is None and not info.self_signed:
        missing.append("an Authority Key Identifier")
    if not info.has_key_usage:
        missing.append("a keyUsage extension")
    return missing


def strict_problems(path: str, info: CertInfo) -> list[Problem]:
    """What Python 3.13+'s VERIFY_X509_STRICT would reject."""
    missing = strict_missing(info)
    if not missing:
        return []
    when = "" if sys.version_info >= (3, 13) else " (not this one)"
    return [
        Problem(
            "warning",
            path,
            "%s: %s lacks %s, so Python 3.13+%s rejects it under "
            "VERIFY_X509_STRICT (the default of ssl.create_default_context()). Ask "
            "your CA for a reissued certificate." % (path, describe(info), " and ".join(missing), when),
            "strict",
            info.fingerprint,
        )
    ]


def chain_problems(certs: list[CompanyCert], bases: list[tuple[str, bytes, str]]) -> list[Problem]:
    """Warn about company certificates whose issuer some target's base lacks.

    ``bases`` holds, per active target, (its variable, the concatenated DER
    of its base bundle, the bundle's name for people). An issuer's Name
    appears in the DER (as some certificate's subject) when that base has
    it: a substring test, not a parse, because the hook's rebuild runs this.
    One warning per certificate names every variable whose base lacks it.
    """
    subjects = {c.info.subject_der for c in certs}
    problems = []
    for cert in certs:
        info = cert.info
        if info.self_signed or info.issuer_der in subjects:
            continue
        lacking = list(dict.fromkeys("%s (%s)" % (var, name) for var, ders, name in bases if info.issuer_der not in ders))
        if not lacking:
            continue
        where = "the base bundle of %s" % lacking[0] if len(lacking) == 1 else (
            "the base bundles of %s and %s" % (", ".join(lacking[:-1]), lacking[-1])
        )
        problems.append(
            Problem(
                "warning",
                cert.path,
                "%s: the issuer of %s, %r, is neither in %s nor among the company "
                "certificates, so clients that need a complete chain (Python before 3.13, "
                "urllib3 before 2.4, Node) cannot reach a root; curl, git and Python 3.13+ "
                "take the company certificate itself as the anchor. Add the "
                "certificate of %r as a company certificate."
                % (cert.path, describe(info), info.issuer, where, info.issuer),
                "chain-incomplete",
                info.fingerprint,
            )
        )
    return problems


def chain_problems_of_files(
    certs: list[CompanyCert], bases: list[tuple[str, list[str]]], extra_ders: bytes = b""
) -> list[Problem]:
    """``chain_problems`` for (variable, base files) pairs read from disk (status, check).

    ``extra_ders`` joins every base (the OS store). A base that cannot be
    read is left out: its own problem is reported elsewhere.
    """
    checked = []
    for var, paths in bases:
        try:
            ders = b""
            for base_path in paths:
                with open(base_path, "rb") as f:
                    ders += b"".join(b.cert_der for b in iter_blocks(f.read()))
        except OSError:
            continue
        checked.append((var, ders + extra_ders, " + ".join(paths)))
    return chain_problems(certs, checked)
