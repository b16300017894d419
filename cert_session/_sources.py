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
from ._x509 import CertInfo, DERError, format_time, issued_by_any, parse_certificate

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
    "chained",
    "left_out",
    "read_bases",
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


def chained(certs: list[CompanyCert], base: list[bytes]) -> list[CompanyCert]:
    """The company certificates a bundle of ``base`` + them may hold: the trust rule.

    A self-signed company certificate is a root: anchoring trust is its job,
    so it is always kept. Any other company certificate only *completes*
    chains: it is kept only while its issuer is reachable in the bundle,
    that is in ``base`` (the DER of each base certificate, OS store
    included) or among the kept company certificates, following company
    intermediate -> intermediate links. Python 3.13+ sets
    VERIFY_X509_PARTIAL_CHAIN (https://github.com/python/cpython/issues/107361,
    and urllib3 >= 2.4 in create_urllib3_context), under which every
    certificate in a CA file is an anchor on its own: an intermediate whose
    root the base dropped would stay trusted there while 3.8-3.12 reject its
    chain. Leaving it out makes every Python agree (docs/design.md, "The
    trust rule").

    An issuer matches by its Name (DER bytes equal to the certificate's
    issuer Name) and, where both are present, by key identifier (authority
    key identifier == subject key identifier), as OpenSSL looks issuers up.
    Signatures are not checked: that takes ``cryptography``, and the hook's
    rebuild runs this stdlib-only. A base certificate is parsed only when
    its DER holds a wanted issuer Name, so a 150-root base costs substring
    tests, not parses.
    """
    wanted = {c.info.issuer_der for c in certs if not c.info.self_signed}
    # (subject Name, subject key id) of every certificate an issuer may be.
    issuers: set[tuple[bytes, bytes | None]] = set()
    for der in base:
        for name in wanted:
            if name not in der:
                continue
            try:
                info = parse_certificate(der)
            except DERError:
                break
            if info.subject_der in wanted:
                issuers.add((info.subject_der, info.subject_key_id))
            break
    kept = [c for c in certs if c.info.self_signed]
    pending = [c for c in certs if not c.info.self_signed]
    issuers.update((c.info.subject_der, c.info.subject_key_id) for c in kept)
    grew = True
    while grew and pending:  # a fixed point: each pass may link one more level
        grew = False
        for cert in list(pending):
            if issued_by_any(cert.info, issuers):
                kept.append(cert)
                pending.remove(cert)
                issuers.add((cert.info.subject_der, cert.info.subject_key_id))
                grew = True
    order = {id(c): i for i, c in enumerate(certs)}
    return sorted(kept, key=lambda c: order[id(c)])


def left_out(certs: list[CompanyCert], bases: list[tuple[str, list[bytes], str]]) -> dict[str, list[tuple[str, str]]]:
    """{fingerprint: [(variable, base name), ...]} of each certificate ``chained`` leaves out somewhere."""
    out: dict[str, list[tuple[str, str]]] = {}
    for var, ders, name in bases:
        kept = {id(c) for c in chained(certs, ders)}
        for cert in certs:
            if id(cert) not in kept:
                out.setdefault(cert.info.fingerprint, []).append((var, name))
    return out


def chain_problems(certs: list[CompanyCert], bases: list[tuple[str, list[bytes], str]]) -> list[Problem]:
    """Say which company certificates ``chained`` leaves out of which target's bundle.

    ``bases`` holds, per active target, (its variable, the DER of each
    certificate of its base bundle, the bundle's name for people). One
    warning per certificate names every variable whose bundle leaves it out:
    the warning is printed exactly when clients of that variable cannot
    verify a server the certificate issued.
    """
    out = left_out(certs, bases)
    subjects = {c.info.subject_der for c in certs}
    problems = []
    for cert in certs:
        lacking = list(dict.fromkeys("%s (%s)" % pair for pair in out.get(cert.info.fingerprint, [])))
        if not lacking:
            continue
        info = cert.info
        if len(lacking) == 1:
            where, those = "the base bundle of %s" % lacking[0], "that merged bundle"
        else:
            where = "the base bundles of %s and %s" % (", ".join(lacking[:-1]), lacking[-1])
            those = "those merged bundles"
        if info.issuer_der in subjects:
            issuer_is = "a company certificate, reaches no root in %s either" % where
        else:
            issuer_is = "is neither in %s nor among the company certificates" % where
        problems.append(
            Problem(
                "warning",
                cert.path,
                "%s: the issuer of %s, %r, %s, so the certificate is left out of %s "
                "(an intermediate only completes chains to a root; it is never trusted "
                "on its own) and servers it issued fail verification there. Add the "
                "certificate of %r (or of the root above it) as a company certificate, "
                "or use a base bundle that holds it."
                % (cert.path, describe(info), info.issuer, issuer_is, those, info.issuer),
                "chain-incomplete",
                info.fingerprint,
            )
        )
    return problems


def read_bases(bases: list[tuple[str, list[str]]], extra_ders: list[bytes] | None = None) -> list[tuple[str, list[bytes], str]]:
    """(variable, base files) pairs read from disk into ``chain_problems``' form (status, check).

    ``extra_ders`` joins every base (the OS store). A base that cannot be
    read is left out: its own problem is reported elsewhere.
    """
    checked = []
    for var, paths in bases:
        try:
            ders = []
            for base_path in paths:
                with open(base_path, "rb") as f:
                    ders += [b.cert_der for b in iter_blocks(f.read())]
        except OSError:
            continue
        checked.append((var, ders + (extra_ders or []), " + ".join(paths)))
    return checked


def chain_problems_of_files(
    certs: list[CompanyCert], bases: list[tuple[str, list[str]]], extra_ders: list[bytes] | None = None
) -> list[Problem]:
    """``chain_problems`` for (variable, base files) pairs read from disk (``read_bases``)."""
    return chain_problems(certs, read_bases(bases, extra_ders))
