"""``cert-session check URL``: why does (or doesn't) this server verify here?

Three steps, all with the stdlib:

1. Fetch what the server sends, without verifying (``CERT_NONE``).
   Python 3.13+ has ``SSLSocket.get_unverified_chain()``; 3.10-3.12 have
   the same call on the private ``_sslobj``, used when present. Where
   neither exists only the leaf (``getpeercert(binary_form=True)``) is
   known, and the output says so.
2. For every active target (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, ...),
   real handshakes with ``CERT_REQUIRED`` and hostname checking, in a context
   built the way that target's clients build theirs on this Python (urllib3's
   ``create_urllib3_context()`` for requests, ``ssl.create_default_context()``
   for urllib, httpx and aiohttp, OpenSSL with a partial chain allowed for
   curl and git), so with their verify flags (VERIFY_X509_STRICT,
   VERIFY_X509_PARTIAL_CHAIN): one trusting the bundle the client is given,
   one trusting its base bundle alone.
3. One sentence naming the certificate at fault (per target, when they differ).

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
from typing import Callable, NamedTuple

from . import _chains, _config, _layout, _log, _sources
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


# ssl.VERIFY_X509_PARTIAL_CHAIN appeared in Python 3.10; OpenSSL's value (X509_V_FLAG_PARTIAL_CHAIN).
PARTIAL_CHAIN = int(getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0x80000))
STRICT = int(ssl.VERIFY_X509_STRICT)
_PYTHON = "Python %d.%d.%d" % sys.version_info[:3]


class Client(NamedTuple):
    """How one target's clients build their TLS context on this Python."""

    who: str  # the clients, for people: "requests, pip"
    how: str  # where the flags come from: "urllib3 2.8.0's create_urllib3_context() sets them on Python 3.11.7"
    make: Callable[[list[str]], ssl.SSLContext]  # a verifying context trusting exactly these files


def _load(ctx: ssl.SSLContext, cafiles: list[str]) -> ssl.SSLContext:
    for cafile in cafiles:
        ctx.load_verify_locations(cafile)
    return ctx


def _urllib3_client(who: str) -> Client:
    """requests and botocore: urllib3 builds the context (requests/adapters.py, urllib3/connection.py).

    Asked, not assumed: urllib3 >= 2.4 sets VERIFY_X509_STRICT and
    VERIFY_X509_PARTIAL_CHAIN on Python 3.13+ like ssl.create_default_context()
    (urllib3/urllib3#3571); 1.26 and 2.0-2.3 set neither.
    """
    try:
        import urllib3
        from urllib3.util.ssl_ import create_urllib3_context
    except ImportError:
        return Client(who, "ssl.create_default_context() sets them on %s (urllib3 is not installed here)" % _PYTHON, _default_context)
    return Client(
        who,
        "urllib3 %s's create_urllib3_context() sets them on %s" % (getattr(urllib3, "__version__", "?"), _PYTHON),
        lambda cafiles: _load(create_urllib3_context(), cafiles),
    )


def _default_context(cafiles: list[str]) -> ssl.SSLContext:
    # create_default_context() without a file would load the default paths too.
    return _load(ssl.create_default_context(cafile=cafiles[0]), cafiles[1:])


def _partial_chain_context(cafiles: list[str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_flags |= PARTIAL_CHAIN
    return _load(ctx, cafiles)


def client_for(target: str) -> Client | None:
    """The context ``target``'s clients use on this Python, or None when Python cannot stand in (Node)."""
    if target in ("requests", "aws"):
        return _urllib3_client("requests, pip" if target == "requests" else "botocore, the AWS CLI")
    if target == "ssl":
        return Client("urllib, http.client, httpx, aiohttp", "ssl.create_default_context() sets them on %s" % _PYTHON, _default_context)
    if target in _chains.PARTIAL_CHAIN_TARGETS:
        return Client(
            "curl" if target == "curl" else "git",
            "curl >= 7.68 sets them on OpenSSL (git's libcurl with GnuTLS takes any listed certificate as an anchor too)",
            _partial_chain_context,
        )
    return None


def flag_names(flags: int) -> str:
    """The verify flags that matter here, in words: which are on, and which of the two are off."""
    names = [str(f.name) for f in ssl.VerifyFlags if f.value and flags & f.value == f.value and f.name]
    if flags & PARTIAL_CHAIN and "VERIFY_X509_PARTIAL_CHAIN" not in names:  # not in the enum before 3.10
        names.append("VERIFY_X509_PARTIAL_CHAIN")
    off = [n for n, v in (("VERIFY_X509_STRICT", STRICT), ("VERIFY_X509_PARTIAL_CHAIN", PARTIAL_CHAIN)) if not flags & v]
    return "%s%s" % (", ".join(names) or "none", " (not %s)" % " nor ".join(off) if off else "")


def handshake(
    target: Target, cafiles: list[str] | None, timeout: float, client: Client | None = None, flags: int | None = None
) -> Handshake:
    """Verify like ``client`` trusting ``cafiles`` (and nothing else).

    ``flags`` replaces the client's verify flags, to tell apart failures that
    only VERIFY_X509_STRICT causes, or successes only VERIFY_X509_PARTIAL_CHAIN allows.
    """
    if not cafiles:
        return Handshake(False, None, "no CA bundle")
    try:
        ctx = (client.make if client is not None else _default_context)(cafiles)
    except (OSError, ssl.SSLError) as exc:
        return Handshake(False, None, "cannot load %s: %s" % (" + ".join(cafiles), exc))
    if flags is not None:
        ctx.verify_flags = ssl.VerifyFlags(flags)
    try:
        with _connect(target, ctx, timeout):
            return Handshake(True, None, "verified")
    except ssl.SSLCertVerificationError as exc:
        return Handshake(False, exc.verify_code, exc.verify_message or str(exc))


def _chain_problems(company: list[_sources.CompanyCert], targets: list[str]) -> list[_sources.Problem]:
    """The chain warning for every active target's base, as ``status`` shows it.

    Node appends to its own roots (no base to check). curl and git would take
    an unrooted intermediate as an anchor, which is why the trust rule leaves
    it out of their bundles too: they are checked like every other target.
    """
    from . import _rebuild

    if not company:
        return []
    origs = _config.originals()
    bases = []
    for target in targets:
        if target == "node":
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
    partial_only: bool = False,
) -> str:
    """One sentence naming the certificate at fault (or why it works).

    ``partial_only``: the merged bundle verifies only because the client
    allows a partial chain (a company intermediate taken as the anchor).
    """
    leaf = chain[0]
    now = time.time()
    company_by_subject = {c.info.subject_der: c for c in company}
    base_subjects = {c.subject_der for c in base_certs}
    sent_subjects = {c.subject_der for c in chain}
    only_leaf = len(chain) == 1

    if strict is not None and not strict.ok:
        culprit = _strict_culprit(chain, company)
        return "%s under VERIFY_X509_STRICT (%s): %s; ask your CA for a reissued certificate." % (
            "Verified with these flags, but clients that set VERIFY_X509_STRICT (Python 3.13+'s "
            "ssl.create_default_context(), urllib3 >= 2.4 there) reject it"
            if merged.ok
            else "Rejected because these clients set VERIFY_X509_STRICT (see their verify flags); it passes without it, but fails",
            strict.message,
            culprit,
        )
    if merged.ok and partial_only:
        gaps = _chains.unrooted([c.info for c in company], base_certs)
        if gaps:
            top = gaps[0].top
            return (
                "Verified only because these clients allow a partial chain (VERIFY_X509_PARTIAL_CHAIN): the company "
                "certificate %s is taken as the trust anchor, though its issuer %r is neither in the base "
                "bundle nor among the company certificates. Clients that need a root (Python before "
                "3.13, urllib3 before 2.4, Node) fail: add the certificate of %r as a company certificate."
                % (_name(top), top.issuer, top.issuer)
            )
    if merged.ok:
        if base.ok:
            return "Verified with the base bundle alone; this server needs no company certificate."
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
                "base bundle nor among the company certificates; add the certificate of %r as "
                "a company certificate." % (_name(issuer_cert.info), issuer_cert.path, issuer_cert.info.issuer, issuer_cert.info.issuer)
            )
        if current is leaf and leaf.issuer_der not in company_by_subject and leaf.issuer_der not in sent_subjects:
            where = (
                " (it says its issuer is published at %s; `--fetch-issuer` downloads it for you to compare)"
                % ", ".join(leaf.ca_issuers_urls)
                if leaf.ca_issuers_urls
                else ""
            )
            sends = "sends only its leaf %s" % _name(leaf) if only_leaf else "sends %s and %d more" % (_name(leaf), len(chain) - 1)
            if not company:
                return (
                    "The server %s; its issuer %r is not in the base bundle, and no company certificate "
                    "is configured here. If it is one of your company's servers, install the company wheel or "
                    "set CERT_SESSION_CERTS to the company CA certificate%s; if not, its CA is simply not "
                    "trusted here, and cert-session has nothing to add." % (sends, leaf.issuer, where)
                )
            return (
                "The server %s; its issuer %r is not among the company certificates (%s) nor in the base "
                "bundle, so this server is not under the company chain configured here. If it is one of "
                "your company's servers, its CA is missing: get the certificate of %r from your IT "
                "department%s and add it to CERT_SESSION_CERTS or the company wheel (`cert-session package "
                "--cert`). If it is not, the company certificates do not concern it: its operator should use a "
                "publicly trusted certificate, or give you its CA to pass to that one client (requests: verify=)."
                % (sends, leaf.issuer, _company_names(company), leaf.issuer, where)
            )
        return "The chain stops at %s: its issuer %r is not trusted here (%s)." % (_name(current), current.issuer, merged.message)
    return "Verification fails: %s (OpenSSL code %s); the server sends %s." % (merged.message, code, _name(leaf))


def _company_names(company: list[_sources.CompanyCert]) -> str:
    names = list(dict.fromkeys(repr(c.info.subject) for c in company))
    return ", ".join(names[:3]) + (" and %d more" % (len(names) - 3) if len(names) > 3 else "")


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


class Row(NamedTuple):
    """One active target: what its clients trust here, and how they verify."""

    target: str
    var: str
    client: Client | None  # None: Python cannot stand in for its clients (Node)
    bundle: str | None  # our merged bundle, when the clients get one
    base_files: list[str]  # what they trust without us
    base_origin: str
    why_not: str  # why there is no merged bundle for them ("" when there is)


def _rows() -> tuple[list[Row], list[_sources.CompanyCert], list[_sources.Problem], str | None]:
    """(a row per active target, company certs, their problems, a note)."""
    from . import _rebuild, _startup

    sources = _sources.load()
    disabled = os.environ.get("CERT_SESSION_DISABLE", "") not in ("", "0")
    note = None
    exports: dict[str, str] = {}
    if not disabled:
        try:
            exports = _startup.activate()  # its line, if any, waits in _log: check prints the same problems
        except Exception as exc:  # noqa: BLE001 - check reports, it does not crash
            note = "the start-up hook fails here (%s: %s); run with CERT_SESSION_DEBUG=1" % (type(exc).__name__, exc)
    export = _config.export_enabled()
    origs = _config.originals()
    if disabled:
        note = "CERT_SESSION_DISABLE is set: clients in this environment use their own bundles, not the merged ones"
    elif note is None and not sources.certs:
        note = "no company certificate is configured, so there is no merged bundle: clients use their own bundles"
    rows = []
    for target in _config.selected_targets():
        var = _config.TARGETS[target]
        base = _rebuild.resolve_base(_config.base_spec(target, origs))
        base_files = [base.path, *base.more] if base.path is not None and not base.problem else []
        origin = base.origin if base_files else "%s (%s)" % (base.origin, base.problem)
        value = os.environ.get(var, "")
        bundle: str | None = None
        why_not = ""
        if value and _layout.is_ours(value):
            bundle = value
        elif exports.get(var) and not export and target == "requests":
            bundle = exports[var]  # used in-process by requests and pip (the verify guard)
        elif disabled:
            why_not = "CERT_SESSION_DISABLE is set"
        elif exports.get(var):
            why_not = "CERT_SESSION_EXPORT=0"
        elif not sources.certs:
            why_not = "no company certificate"
        else:
            why_not = base.problem or "see `cert-session status`"
        rows.append(Row(target, var, client_for(target), bundle, base_files, origin, why_not))
    return rows, sources.certs, sources.problems, note


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


class Outcome(NamedTuple):
    row: Row
    flags: int
    merged: Handshake  # with what the clients are given (the merged bundle, else their own)
    base: Handshake  # with the base alone
    diagnosis: str


def _verify_row(
    row: Row, client: Client, target: Target, timeout: float, chain: list[CertInfo], company: list[_sources.CompanyCert]
) -> Outcome:
    files = [row.bundle] if row.bundle else row.base_files
    try:
        flags = int(client.make(files).verify_flags) if files else 0
    except (OSError, ssl.SSLError):
        flags = 0
    merged = handshake(target, files, timeout, client)
    base = handshake(target, row.base_files, timeout, client) if row.bundle else merged
    strict = None  # set only when VERIFY_X509_STRICT alone decides
    partial_only = False
    if merged.ok and not flags & STRICT and row.target not in _chains.PARTIAL_CHAIN_TARGETS:
        # verified here, but a Python that sets it (3.13+) would refuse: say so
        strict = handshake(target, files, timeout, client, flags | STRICT)
    elif not merged.ok and merged.code is not None and flags & STRICT:
        if handshake(target, files, timeout, client, flags & ~STRICT).ok:
            strict = merged
    if merged.ok and flags & PARTIAL_CHAIN:
        partial_only = not handshake(target, files, timeout, client, flags & ~PARTIAL_CHAIN).ok
    base_certs = [c for path in row.base_files for c in _load_pem_file(path)]
    # Not exported because the trust rule left every company certificate out
    # (no root for them in this base): the certificate at fault is the answer.
    left_out = bool(_chains.unrooted([c.info for c in company], base_certs))
    if not row.bundle and company and not merged.ok and not left_out:
        text = (
            "These clients do not get the company certificates: %s is not exported (%s), so they trust "
            "only their own bundle, which fails (%s). `cert-session status` says why; `cert-session env` "
            "prints the lines that export it to a shell." % (row.var, row.why_not, merged.message)
        )
    else:
        text = diagnose(target, chain, base, merged, strict, base_certs, company, partial_only)
    return Outcome(row, flags, merged, base, text)


def check(url: str, timeout: float = 10.0, fetch: bool = False, out_dir: str = ".") -> int:
    """Run ``cert-session check``; return the exit code (0: every active target's clients verify it)."""
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
    rows, company, problems, note = _rows()
    # A company certificate whose issuer is missing breaks every server under
    # it; the start-up hook said so once, in whichever tool rebuilt. Lead with it.
    said = set()
    for problem in problems + _chain_problems(company, [r.target for r in rows]):
        if problem.message not in said:
            said.add(problem.message)
            _log.said(problem.message)  # the hook's line would repeat it
            print("%s: %s" % (problem.severity.upper(), problem.message))
    print("%s:%d sent %d certificate%s%s:" % (target.host, target.port, len(chain), "s" if len(chain) > 1 else "",
          "" if complete else " (Python %d.%d shows only the leaf; 3.13+ shows the whole chain sent)" % sys.version_info[:2]))
    for i, info in enumerate(chain):
        _print_cert(i, info)

    outcomes = []
    for row in rows:
        if row.client is None:
            print("target %s: %s=%s: not checked: Node adds this file to its own built-in roots, which Python "
                  "cannot load; ask Node itself (node -e \"require('https').get('%s')\")"
                  % (row.target, row.var, row.bundle or "(unset)", url))
            continue
        outcome = _verify_row(row, row.client, target, timeout, chain, company)
        outcomes.append(outcome)
        given = "%s=%s" % (row.var, row.bundle) if row.bundle else "%s is not exported (%s), so they use %s" % (
            row.var, row.why_not, " + ".join(row.base_files) or row.base_origin)
        print("target %s (%s): %s: %s" % (row.target, row.client.who, given, outcome.merged.message))
        print("  verify flags: %s, as %s" % (flag_names(outcome.flags), row.client.how))
        if row.bundle:
            print("  base bundle alone (%s): %s" % (row.base_origin, outcome.base.message))
    if note:
        print("note: %s" % note)
    groups: dict[str, list[str]] = {}  # one sentence per distinct diagnosis, naming whom it concerns
    for o in outcomes:
        groups.setdefault(o.diagnosis, []).append(o.row.var)
    for text, variables in groups.items():
        print("diagnosis%s: %s" % ("" if len(groups) == 1 else " for " + ", ".join(variables), text))

    if fetch:
        urls = chain[-1].ca_issuers_urls or chain[0].ca_issuers_urls
        if not urls:
            print("--fetch-issuer: the server's certificates carry no caIssuers URL; ask your IT department for the issuer certificate")
        for issuer_url in urls:
            _report_fetch(issuer_url, timeout, out_dir)
    return 0 if outcomes and all(o.merged.ok for o in outcomes) else 1


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

