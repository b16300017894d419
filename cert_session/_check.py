"""``cert-session check URL``: why does (or doesn't) this server verify here?

Three steps, all with the stdlib:

1. Fetch what the server sends, without verifying (``CERT_NONE``).
   Python 3.13+ has ``SSLSocket.get_unverified_chain()``; 3.10-3.12 have
   the same call on the private ``_sslobj``, used when present. Where
   neither exists only the leaf (``getpeercert(binary_form=True)``) is
   known, and the output says so.
2. Two real handshakes with ``CERT_REQUIRED`` and hostname checking: one
   trusting the base bundle alone, one the merged bundle requests uses.
3. One sentence naming the certificate at fault.

Nothing is ever fetched unless ``--fetch-issuer`` is given, and nothing
fetched is trusted: it is saved for a person to compare and install.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import time
import urllib.parse
from typing import NamedTuple

from . import _config, _layout, _sources
from ._x509 import CertInfo, DERError, format_time, parse_certificate

__all__ = ["check", "Target", "parse_target"]

# OpenSSL verify codes (X509_V_ERR_*) we explain in words.
_SELF_SIGNED = (18, 19)  # DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN
_NO_ISSUER = (2, 20, 21)  # UNABLE_TO_GET_ISSUER_CERT(_LOCALLY), UNABLE_TO_VERIFY_LEAF_SIGNATURE
_EXPIRED = (9, 10)  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
_HOSTNAME = 62  # HOSTNAME_MISMATCH
_IP_MISMATCH = 64


class Target(NamedTuple):
    host: str
    port: int


def parse_target(url: str) -> Target:
    """``https://host[:port]/...`` or ``host[:port]`` -> Target."""
    if "://" not in url:
        url = "https://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("%s is not an https:// URL or host[:port]" % url)
    return Target(parts.hostname, parts.port or 443)


class Handshake(NamedTuple):
    ok: bool
    code: int | None  # OpenSSL verify code when verification failed
    message: str


def _connect(target: Target, ctx: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    sock = socket.create_connection((target.host, target.port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise


def fetch_chain(target: Target, timeout: float) -> tuple[list[bytes], bool]:
    """DER certificates the server sends, and whether that is the whole chain."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we only look; verification comes next
    with _connect(target, ctx, timeout) as tls:
        getter = getattr(tls, "get_unverified_chain", None)
        if getter is None:
            # 3.10-3.12: the same method, not yet public (bpo-18233).
            getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
        if getter is not None:
            try:
                chain = getter() or []
                ders = [c if isinstance(c, bytes) else c.public_bytes(2) for c in chain]  # 2: ENCODING_DER
                if ders:
                    return ders, True
            except Exception:  # noqa: BLE001, S110 - private API: fall back on the leaf
                pass
        leaf = tls.getpeercert(binary_form=True)
    return ([leaf] if leaf else []), False


def handshake(target: Target, cafile: str | None, timeout: float, strict: bool | None = None) -> Handshake:
    """Verify like a client trusting ``cafile`` (and nothing else).

    ``strict`` None keeps this Python's default (strict since 3.13); True or
    False forces VERIFY_X509_STRICT on or off, to tell strict-only failures apart.
    """
    if cafile is None:
        return Handshake(False, None, "no CA bundle")
    ctx = ssl.create_default_context(cafile=cafile)
    if strict:
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    elif strict is False:
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    try:
        with _connect(target, ctx, timeout):
            return Handshake(True, None, "verified")
    except ssl.SSLCertVerificationError as exc:
        return Handshake(False, exc.verify_code, exc.verify_message or str(exc))


def _chain_problems(company: list[_sources.CompanyCert]) -> list[_sources.Problem]:
    """The chain warning for every active target's base, as ``status`` shows it."""
    from . import _rebuild

    if not company:
        return []
    origs = _config.originals()
    bases = []
    for target in _config.selected_targets():
        if target == "node":  # Node appends to its own roots: no base to check
            continue
        base = _rebuild.resolve_base(_config.base_spec(target, origs))
        if base.path is not None and not base.problem:
            bases.append((_config.TARGETS[target], [base.path, *base.more]))
    return _sources.chain_problems_of_files(company, bases)


def _load_pem_file(path: str) -> list[CertInfo]:
    from . import _pem

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    infos = []
    for block in _pem.iter_blocks(data):
        try:
            infos.append(parse_certificate(block.cert_der))
        except DERError:
            continue
    return infos


def _name(info: CertInfo) -> str:
    return _sources.describe(info)


def diagnose(
    target: Target,
    chain: list[CertInfo],
    base: Handshake,
    merged: Handshake,
    strict: Handshake | None,
    base_certs: list[CertInfo],
    company: list[_sources.CompanyCert],
    base_name: str,
) -> str:
    """One sentence naming the certificate at fault (or why it works)."""
    leaf = chain[0]
    now = time.time()
    company_by_subject = {c.info.subject_der: c for c in company}
    base_subjects = {c.subject_der for c in base_certs}
    sent_subjects = {c.subject_der for c in chain}
    only_leaf = len(chain) == 1

    if strict is not None and not strict.ok:
        culprit = _strict_culprit(chain, company)
        return "%s under VERIFY_X509_STRICT (%s): %s; ask your CA for a reissued certificate." % (
            "Verified here, but Python 3.13+ rejects it" if merged.ok else "Rejected by strict verification, the default since Python 3.13,",
            strict.message,
            culprit,
        )
    if merged.ok:
        if base.ok:
            return "Verified with the base bundle alone (%s); this server needs no company certificate." % base_name
        issuer = company_by_subject.get(leaf.issuer_der)
        if only_leaf and issuer is not None:
            return (
                "The server sends only its leaf %s; its issuer %s is among the company certificates "
                "(%s), so the merged bundle completes the chain." % (_name(leaf), _name(issuer.info), issuer.path)
            )
        return "Verified with the merged bundle (company certificates added); the base bundle alone fails: %s." % base.message

    code = merged.code
    if code in (_HOSTNAME, _IP_MISMATCH) or (code is None and "hostname" in merged.message.lower()):
        return (
            "Hostname mismatch: the leaf %s is for %s, not %r; connect with one of those names "
            "or have the server's certificate reissued to include %r."
            % (_name(leaf), ", ".join(leaf.alt_names) or "no subjectAltName at all", target.host, target.host)
        )
    if code in _EXPIRED:
        sent = {c.der for c in chain}
        for info in [leaf] + _path(chain, company):
            whose = "The server's certificate" if info.der in sent else "The company certificate"
            if info.not_after < now:
                fix = "its operator must renew it" if info.der in sent else "get the renewed certificate from your CA"
                return "%s %s expired on %s; %s." % (whose, _name(info), format_time(info.not_after), fix)
            if info.not_before > now:
                return "%s %s is not valid before %s; check this machine's clock." % (
                    whose, _name(info), format_time(info.not_before))
        return "A certificate in the chain is expired or not yet valid (%s)." % merged.message
    if code in _SELF_SIGNED or (leaf.self_signed and only_leaf):
        return (
            "The server's certificate %s is self-signed: no CA vouches for it. Ask its operator "
            "for a certificate from your company CA; trusting it directly is only safe for a "
            "test server, and it must then be given to that one client, not added as a CA." % _name(leaf)
        )
    if code in _NO_ISSUER or code is None:
        # Walk up from the leaf through what we have until the chain breaks.
        current = leaf
        seen = set()
        while current.subject_der not in seen:
            seen.add(current.subject_der)
            issuer_cert = company_by_subject.get(current.issuer_der)
            if issuer_cert is None or issuer_cert.info.self_signed:
                break
            if issuer_cert.info.issuer_der in base_subjects or issuer_cert.info.issuer_der in company_by_subject:
                current = issuer_cert.info
                continue
            return (
                "The company certificate %s, in %s, lacks its root: its issuer %r is neither in the "
                "base bundle (%s) nor among the company certificates; add the certificate of %r as "
                "a company certificate." % (_name(issuer_cert.info), issuer_cert.path, issuer_cert.info.issuer, base_name, issuer_cert.info.issuer)
            )
        if current is leaf and leaf.issuer_der not in company_by_subject and leaf.issuer_der not in sent_subjects:
            where = (
                " (it says its issuer is published at %s; `--fetch-issuer` downloads it for you to compare)"
                % ", ".join(leaf.ca_issuers_urls)
                if leaf.ca_issuers_urls
                else ""
            )
            sends = "sends only its leaf %s" % _name(leaf) if only_leaf else "sends %s and %d more" % (_name(leaf), len(chain) - 1)
            return (
                "The server %s; its issuer %r is not among the company certificates nor in the base "
                "bundle (%s); get that CA certificate from your IT department%s and add it to "
                "CERT_SESSION_CERTS or cert_session/certs/." % (sends, leaf.issuer, base_name, where)
            )
        return "The chain stops at %s: its issuer %r is not trusted here (%s)." % (_name(current), current.issuer, merged.message)
    return "Verification fails: %s (OpenSSL code %s); the server sends %s." % (merged.message, code, _name(leaf))


def _path(chain: list[CertInfo], company: list[_sources.CompanyCert]) -> list[CertInfo]:
    """The issuers above the leaf that we know of, nearest first."""
    known = {c.subject_der: c for c in chain[1:]}
    known.update((c.info.subject_der, c.info) for c in company)
    path: list[CertInfo] = []
    current = chain[0]
    while not current.self_signed and current.issuer_der in known and len(path) < 10:
        current = known[current.issuer_der]
        path.append(current)
    return path


def _strict_culprit(chain: list[CertInfo], company: list[_sources.CompanyCert]) -> str:
    for info in _path(chain, company):
        missing = _sources.strict_missing(info)
        if info.is_ca and missing:
            return "%s lacks %s" % (_name(info), " and ".join(missing))
    leaf = chain[0]
    if leaf.authority_key_id is None:
        return "the leaf %s lacks an Authority Key Identifier" % _name(leaf)
    return "a certificate of the chain does not meet RFC 5280 (see the message above)"


def _bundles() -> tuple[str | None, str, str | None, list[_sources.CompanyCert], str | None]:
    """(base path, base description, merged path, company certs, note)."""
    from . import _api, _rebuild

    origs = _config.originals()
    spec = _config.base_spec("requests", origs)
    base = _rebuild.resolve_base(spec)
    sources = _sources.load()
    note = None
    merged: str | None
    try:
        merged = _api.where()
    except RuntimeError as exc:
        merged, note = None, str(exc)
    if not sources.certs:
        note = "no company certificate is configured, so the merged bundle is the base bundle"
    elif os.environ.get("CERT_SESSION_DISABLE", "") not in ("", "0"):
        note = "CERT_SESSION_DISABLE is set: requests in this environment uses the base bundle, not the merged one"
    origin = base.origin if base.path else "%s (%s)" % (base.origin, base.problem)
    return base.path, origin, merged, sources.certs, note


def _print_cert(index: int, info: CertInfo) -> None:
    print("  [%d] subject: %s" % (index, info.subject))
    print("      issuer:  %s" % info.issuer)
    print("      valid:   %s to %s" % (format_time(info.not_before), format_time(info.not_after)))
    print("      sha256:  %s" % info.fingerprint)
    if info.alt_names:
        print("      names:   %s" % ", ".join(info.alt_names))
    for url in info.ca_issuers_urls:
        print("      issuer published at (AIA caIssuers): %s" % url)


def fetch_issuer(url: str, timeout: float) -> tuple[CertInfo, bytes] | str:
    """Download a caIssuers certificate for a person to check; never trusted."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - URL from the cert, shown to the user
            data = resp.read(1 << 20)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return "could not download %s: %s" % (url, exc)
    from . import _pem

    blocks = list(_pem.iter_blocks(data)) if _pem.looks_like_pem(data) else []
    der = blocks[0].cert_der if blocks else data
    try:
        return parse_certificate(der), der
    except DERError:
        return (
            "%s did not serve a single DER or PEM certificate (perhaps PKCS#7); convert it with "
            "`openssl pkcs7 -inform der -print_certs -in FILE`" % url
        )


def check(url: str, timeout: float = 10.0, fetch: bool = False, out_dir: str = ".") -> int:
    """Run ``cert-session check``; return the exit code (0 verified)."""
    try:
        target = parse_target(url)
    except ValueError as exc:
        print("cert-session: error: %s" % exc, file=sys.stderr)
        return 2
    try:
        ders, complete = fetch_chain(target, timeout)
    except (OSError, ssl.SSLError) as exc:
        print("cert-session: error: cannot connect to %s:%d: %s" % (target.host, target.port, exc), file=sys.stderr)
        return 2
    chain = []
    for der in ders:
        try:
            chain.append(parse_certificate(der))
        except DERError:
            continue
    if not chain:
        print("cert-session: error: %s:%d sent no readable certificate" % target, file=sys.stderr)
        return 2
    base_path, base_origin, merged_path, company, note = _bundles()
    # A company certificate whose issuer is missing breaks every server under
    # it; the start-up hook said so once, in whichever tool rebuilt. Lead with it.
    for problem in _chain_problems(company):
        print("%s: %s" % (problem.severity.upper(), problem.message))
    print("%s:%d sent %d certificate%s%s:" % (target.host, target.port, len(chain), "s" if len(chain) > 1 else "",
          "" if complete else " (Python %d.%d shows only the leaf; 3.13+ shows the whole chain sent)" % sys.version_info[:2]))
    for i, info in enumerate(chain):
        _print_cert(i, info)

    base = handshake(target, base_path, timeout)
    merged = handshake(target, merged_path, timeout)
    strict = None  # set only when strict verification fails and lax verification passes
    if merged.ok and sys.version_info < (3, 13):
        # a warning here: this Python accepts it, 3.13+ will not
        strict = handshake(target, merged_path, timeout, strict=True)
    elif not merged.ok and merged.code is not None and sys.version_info >= (3, 13):
        if handshake(target, merged_path, timeout, strict=False).ok:
            strict = merged
    print("base bundle   %s: %s" % (base_origin, base.message))
    print("merged bundle %s: %s" % (merged_path, merged.message))
    if note:
        print("note: %s" % note)
    base_certs = _load_pem_file(base_path) if base_path else []
    print("diagnosis: " + diagnose(target, chain, base, merged, strict, base_certs, company, base_path or base_origin))

    if fetch:
        urls = chain[-1].ca_issuers_urls or chain[0].ca_issuers_urls
        if not urls:
            print("--fetch-issuer: the server's certificates carry no caIssuers URL; ask your IT department for the issuer certificate")
        for issuer_url in urls:
            _report_fetch(issuer_url, timeout, out_dir)
    return 0 if merged.ok else 1


def _report_fetch(url: str, timeout: float, out_dir: str) -> None:
    got = fetch_issuer(url, timeout)
    if isinstance(got, str):
        print("--fetch-issuer: %s" % got)
        return
    info, der = got
    from . import _pem

    name = "issuer-%s.pem" % info.fingerprint.replace(":", "")[:16].lower()
    path = os.path.join(os.path.abspath(out_dir), name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(_pem.encode(_pem.Block("CERTIFICATE", der)))
    print("--fetch-issuer: downloaded %s to %s; it is NOT trusted." % (url, path))
    print("  subject: %s" % info.subject)
    print("  sha256:  %s" % info.fingerprint)
    print(
        "  Compare this fingerprint with the one your IT department publishes. If it matches, "
        "add the file to CERT_SESSION_CERTS, or put it in %s before building your company wheel "
        "(`cert-session package --cert %s ...`)." % (_layout.PACKAGE_CERTS_DIR, path)
    )

