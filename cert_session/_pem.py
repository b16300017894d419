"""Read PEM certificate blocks and write a merged, de-duplicated bundle.

The merged bundle is re-encoded canonically: every block as 64-column
base64 with LF line endings, comments and text between blocks dropped,
duplicates (same DER) dropped, base order kept, company certificates last.
urllib3 re-reads the CA file on every new connection, so smaller is faster.
"""

from __future__ import annotations

import binascii

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from typing import Iterable, Iterator
    from typing import NamedTuple as Record
else:
    from ._record import Record


__all__ = ["Block", "iter_blocks", "merge", "encode", "looks_like_pem"]

# OpenSSL's PEM_read_bio_X509_AUX accepts these three labels for CA files.
LABELS = (b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE")
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


class Block(Record):
    label: str
    body: bytes  # DER (for TRUSTED CERTIFICATE: certificate + trust settings)

    @property
    def cert_der(self) -> bytes:
        """The certificate alone: identity for de-duplication."""
        if self.label == "TRUSTED CERTIFICATE":
            from ._x509 import element_length

            try:
                return self.body[: element_length(self.body)]
            except ValueError:
                return self.body
        return self.body


def looks_like_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def iter_blocks(data: bytes) -> Iterator[Block]:
    """Yield each well-formed certificate block; skip anything else.

    Tolerates a UTF-8 BOM, CRLF line endings, missing trailing newlines and
    text between blocks. A block whose base64 does not decode is skipped.
    """
    pos = 0
    while True:
        begin = data.find(b"-----BEGIN ", pos)
        if begin < 0:
            return
        label_end = data.find(b"-----", begin + 11)
        if label_end < 0:
            return
        label = data[begin + 11 : label_end]
        body_start = label_end + 5
        end_marker = b"-----END " + label + b"-----"
        end = data.find(end_marker, body_start)
        if label not in LABELS or end < 0:
            pos = body_start
            continue
        pos = end + len(end_marker)
        body = b"".join(data[body_start:end].split())
        if not body or body.translate(None, _B64) or len(body) % 4:
            continue
        try:
            der = binascii.a2b_base64(body)
        except binascii.Error:
            continue
        if not der or der[0] != 0x30:
            continue
        name = "CERTIFICATE" if label == b"X509 CERTIFICATE" else label.decode()
        yield Block(name, der)


def encode(block: Block) -> bytes:
    b64 = binascii.b2a_base64(block.body, newline=False)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    label = block.label.encode()
    return b"".join(
        [b"-----BEGIN ", label, b"-----\n", b"\n".join(lines), b"\n-----END ", label, b"-----\n"]
    )


def merge(base: Iterable[Block], company: Iterable[Block]) -> bytes:
    """Base blocks in their order, then company blocks; each DER only once."""
    seen: set[bytes] = set()
    out = []
    for block in list(base) + list(company):
        key = block.cert_der
        if key in seen:
            continue
        seen.add(key)
        out.append(encode(block))
    return b"".join(out)
