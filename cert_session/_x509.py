"""Just enough X.509 DER reading to validate company certificates.

Stdlib ``ssl`` cannot report basicConstraints or key identifiers, and
importing it costs more than a whole bare interpreter start, so the hook's
rebuild path reads the few fields it needs here. Deep inspection in the CLI
may use ``cryptography`` when it is installed; nothing here depends on it.
"""

from __future__ import annotations

import binascii
import hashlib

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from typing import Iterable
    from typing import NamedTuple as Record
else:
    from ._record import Record


__all__ = ["CertInfo", "DERError", "parse_certificate", "format_time", "iso_time", "issued_by", "issued_by_any"]

_OID_BASIC_CONSTRAINTS = b"\x55\x1d\x13"
_OID_SUBJECT_KEY_ID = b"\x55\x1d\x0e"
_OID_AUTHORITY_KEY_ID = b"\x55\x1d\x23"
_OID_SUBJECT_ALT_NAME = b"\x55\x1d\x11"
_OID_KEY_USAGE = b"\x55\x1d\x0f"
_OID_AUTHORITY_INFO_ACCESS = b"\x2b\x06\x01\x05\x05\x07\x01\x01"
_OID_CA_ISSUERS = b"\x2b\x06\x01\x05\x05\x07\x30\x02"
_NAME_ATTRIBUTES = {
    b"\x55\x04\x03": "CN",
    b"\x55\x04\x0a": "O",
    b"\x55\x04\x0b": "OU",
    b"\x55\x04\x06": "C",
    b"\x55\x04\x07": "L",
    b"\x55\x04\x08": "ST",
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01": "emailAddress",
}


class DERError(ValueError):
    """The bytes are not a DER-encoded X.509 certificate."""


class CertInfo(Record):
    der: bytes
    subject: str
    issuer: str
    subject_der: bytes
    issuer_der: bytes
    not_before: int  # seconds since the epoch, UTC
    not_after: int
    # None when the extension is absent; else (critical, is_ca)
    basic_constraints: tuple[bool, bool] | None
    subject_key_id: bytes | None
    authority_key_id: bytes | None
    ca_issuers_urls: tuple[str, ...]
    version: int
    # dNSName and iPAddress entries of subjectAltName, for hostname diagnoses
    alt_names: tuple[str, ...] = ()
    has_key_usage: bool = False  # OpenSSL's strict mode wants it on every CA

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, as colon-separated hex (as openssl prints it)."""
        digest = hashlib.sha256(self.der).hexdigest().upper()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    @property
    def self_signed(self) -> bool:
        return self.subject_der == self.issuer_der

    @property
    def is_ca(self) -> bool:
        if self.basic_constraints is not None:
            return self.basic_constraints[1]
        # OpenSSL still accepts a self-signed v1 certificate as a trust anchor
        return self.version == 1 and self.self_signed


def _read(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of content, end of content) of the TLV at pos."""
    try:
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise DERError("unsupported length encoding")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
    except IndexError:
        raise DERError("truncated") from None
    end = pos + length
    if end > len(data):
        raise DERError("truncated")
    return tag, pos, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, content start, content end, element start) of each child."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = _read(data, pos)
        out.append((tag, cstart, cend, pos))
        pos = cend
    if pos != end:
        raise DERError("bad nesting")
    return out


def element_length(data: bytes) -> int:
    """Length of the first DER element (used to split TRUSTED CERTIFICATE)."""
    _, _, end = _read(data, 0)
    return end


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Howard Hinnant's algorithm; avoids importing calendar/datetime.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _time(tag: int, raw: bytes) -> int:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime, YYMMDDHHMMSSZ
        year = int(text[0:2])
        year += 2000 if year < 50 else 1900
        text = text[2:]
    elif tag == 0x18:  # GeneralizedTime, YYYYMMDDHHMMSSZ
        year = int(text[0:4])
        text = text[4:]
    else:
        raise DERError("bad time")
    if not text.endswith("Z") or len(text) != 11:
        raise DERError("bad time")
    month, day = int(text[0:2]), int(text[2:4])
    hour, minute, second = int(text[4:6]), int(text[6:8]), int(text[8:10])
    return (_days_from_civil(year, month, day) * 86400) + hour * 3600 + minute * 60 + second


def iso_time(epoch: int) -> str:
    """Seconds since the epoch -> 'YYYY-MM-DDTHH:MM:SSZ' (for ``--json``)."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _ip_text(raw: bytes) -> str:
    if len(raw) == 4:
        return ".".join(str(b) for b in raw)
    if len(raw) == 16:
        import ipaddress

        return str(ipaddress.IPv6Address(raw))
    return raw.hex()


def format_time(epoch: int) -> str:
    """Seconds since the epoch -> 'YYYY-MM-DD HH:MM:SS UTC'."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _name(data: bytes, start: int, end: int) -> str:
    parts = []
    for _, rs, re_, _ in _children(data, start, end):  # SET
        for _, as_, ae, _ in _children(data, rs, re_):  # SEQUENCE
            kids = _children(data, as_, ae)
            if len(kids) != 2:
                raise DERError("bad name")
            oid = data[kids[0][1] : kids[0][2]]
            value = data[kids[1][1] : kids[1][2]]
            key = _NAME_ATTRIBUTES.get(oid, _dotted(oid))
            if kids[1][0] == 0x1E:  # BMPString
                text = value.decode("utf-16-be", "replace")
            else:
                text = value.decode("utf-8", "replace")
            parts.append("%s=%s" % (key, text))
    return ", ".join(parts)


def _dotted(oid: bytes) -> str:
    if not oid:
        return "?"
    nums = [oid[0] // 40, oid[0] % 40]
    value = 0
    for byte in oid[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            nums.append(value)
            value = 0
    return ".".join(str(n) for n in nums)


def issued_by(cert: CertInfo, subject_der: bytes, key_id: bytes | None) -> bool:
    """Whether a certificate named ``subject_der``, with subject key identifier
    ``key_id``, may have issued ``cert``, as OpenSSL looks issuers up: the
    Name, and where both are present the key identifier. Signatures are not
    checked (that takes ``cryptography``; the hook's rebuild is stdlib-only).
    """
    aki = cert.authority_key_id or None
    return subject_der == cert.issuer_der and (aki is None or key_id is None or key_id == aki)


def issued_by_any(cert: CertInfo, issuers: Iterable[tuple[bytes, bytes | None]]) -> bool:
    """``issued_by`` for any of ``issuers``, (subject Name, subject key identifier) pairs."""
    return any(issued_by(cert, subject, key_id) for subject, key_id in issuers)


def parse_certificate(der: bytes) -> CertInfo:
    """Read the fields cert-session checks; raise DERError if not a certificate."""
    try:
        return _parse(der)
    except DERError:
        raise
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise DERError(str(exc)) from None


def _parse(der: bytes) -> CertInfo:
    tag, start, end = _read(der, 0)
    if tag != 0x30 or end != len(der):
        raise DERError("not a DER SEQUENCE")
    outer = _children(der, start, end)
    if len(outer) != 3 or outer[0][0] != 0x30:
        raise DERError("not a certificate")
    tbs = _children(der, outer[0][1], outer[0][2])
    i = 0
    version = 1
    if tbs and tbs[0][0] == 0xA0:
        vkids = _children(der, tbs[0][1], tbs[0][2])
        version = int.from_bytes(der[vkids[0][1] : vkids[0][2]], "big") + 1
        i = 1
    if len(tbs) < i + 6:
        raise DERError("not a certificate")
    _, issuer, subject = tbs[i + 1], tbs[i + 2], tbs[i + 4]
    validity = _children(der, tbs[i + 3][1], tbs[i + 3][2])
    if issuer[0] != 0x30 or subject[0] != 0x30 or len(validity) != 2:
        raise DERError("not a certificate")
    not_before = _time(validity[0][0], der[validity[0][1] : validity[0][2]])
    not_after = _time(validity[1][0], der[validity[1][1] : validity[1][2]])
    basic: tuple[bool, bool] | None = None
    ski = aki = None
    urls: list[str] = []
    alt_names: list[str] = []
    key_usage = False
    for tag, cstart, cend, _ in tbs[i + 6 :]:
        if tag != 0xA3:
            continue
        (seq,) = _children(der, cstart, cend)
        for _, es, ee, _ in _children(der, seq[1], seq[2]):
            ext = _children(der, es, ee)
            oid = der[ext[0][1] : ext[0][2]]
            critical = len(ext) == 3 and der[ext[1][1] : ext[1][2]] != b"\x00"
            value_start, value_end = ext[-1][1], ext[-1][2]
            if oid == _OID_BASIC_CONSTRAINTS:
                (bc,) = _children(der, value_start, value_end)
                fields = _children(der, bc[1], bc[2])
                is_ca = bool(fields) and fields[0][0] == 0x01 and der[fields[0][1]] != 0
                basic = (critical, is_ca)
            elif oid == _OID_SUBJECT_KEY_ID:
                (octets,) = _children(der, value_start, value_end)
                ski = der[octets[1] : octets[2]]
            elif oid == _OID_AUTHORITY_KEY_ID:
                (aseq,) = _children(der, value_start, value_end)
                aki = b""
                for atag, as_, ae, _ in _children(der, aseq[1], aseq[2]):
                    if atag == 0x80:
                        aki = der[as_:ae]
            elif oid == _OID_KEY_USAGE:
                key_usage = True
            elif oid == _OID_SUBJECT_ALT_NAME:
                (sseq,) = _children(der, value_start, value_end)
                for gtag, gs, ge, _ in _children(der, sseq[1], sseq[2]):
                    if gtag == 0x82:  # dNSName
                        alt_names.append(der[gs:ge].decode("ascii", "replace"))
                    elif gtag == 0x87:  # iPAddress
                        alt_names.append(_ip_text(der[gs:ge]))
            elif oid == _OID_AUTHORITY_INFO_ACCESS:
                (aseq,) = _children(der, value_start, value_end)
                for _, ds, de, _ in _children(der, aseq[1], aseq[2]):
                    desc = _children(der, ds, de)
                    if der[desc[0][1] : desc[0][2]] == _OID_CA_ISSUERS and desc[1][0] == 0x86:
                        urls.append(der[desc[1][1] : desc[1][2]].decode("ascii", "replace"))
    return CertInfo(
        der=der,
        subject=_name(der, subject[1], subject[2]),
        issuer=_name(der, issuer[1], issuer[2]),
        subject_der=der[subject[3] : subject[2]],
        issuer_der=der[issuer[3] : issuer[2]],
        not_before=not_before,
        not_after=not_after,
        basic_constraints=basic,
        subject_key_id=ski,
        authority_key_id=aki,
        ca_issuers_urls=tuple(urls),
        version=version,
        alt_names=tuple(alt_names),
        has_key_usage=key_usage,
    )


def hexlify(data: bytes) -> str:
    return binascii.hexlify(data, ":").decode().upper()
