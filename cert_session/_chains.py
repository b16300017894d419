"""Does each company chain reach a trust anchor in a given set of certificates?

Used where there is time to parse every certificate (``cert-session
package``, ``check``): the hook's rebuild keeps its cheaper substring test
(``_sources.chain_problems``). Stdlib only, no ``ssl``.

A chain "reaches a root" when walking up from a company certificate through
the company certificates ends at a self-signed one, or at a certificate whose
issuer is among ``anchors``. Whether an intermediate may itself be the trust
anchor (a partial chain) depends on the client, not on the file:
``PARTIAL_CHAIN_TARGETS`` names the targets whose clients always accept one.
"""

from __future__ import annotations

from ._x509 import CertInfo, issued_by, issued_by_any

TYPE_CHECKING = False  # not typing's: the hook's rebuild imports this module (see cert_session/_record.py)
if TYPE_CHECKING:
    from typing import Iterable, Sequence
    from typing import NamedTuple as Record
else:
    from ._record import Record

__all__ = ["PARTIAL_CHAIN_TARGETS", "Unrooted", "unrooted"]

# Targets whose clients take any certificate of the CA file as a trust
# anchor (``check`` verifies as they do; the trust rule keeps an unrooted
# company intermediate out of their bundles, as out of every other):
# curl sets X509_V_FLAG_PARTIAL_CHAIN since 7.68.0 (curl/curl#4655; off only
# with CURLSSLOPT_NO_PARTIALCHAIN), and git goes through libcurl (with
# OpenSSL, or GnuTLS, whose trust lists need no self-signed anchor either).
# Python's own clients accept one only where their context sets
# VERIFY_X509_PARTIAL_CHAIN (ssl.create_default_context() since 3.13,
# urllib3 >= 2.4 on 3.13+): ``cert-session check`` asks them.
PARTIAL_CHAIN_TARGETS = frozenset({"curl", "git"})


class Unrooted(Record):
    """A company certificate whose chain stops before any root."""

    cert: CertInfo  # the company certificate given
    top: CertInfo  # the highest company certificate above it (itself, often)
    missing_issuer: str  # the name of the certificate that would complete the chain


def unrooted(company: Sequence[CertInfo], anchors: Iterable[CertInfo]) -> list[Unrooted]:
    """The company certificates whose chain reaches neither a company root nor ``anchors``."""
    by_subject = {c.subject_der: c for c in company}
    # Matched as the trust rule matches issuers (_sources.chained): Name and key identifier.
    anchor_keys = {(a.subject_der, a.subject_key_id) for a in anchors}
    out = []
    for cert in company:
        current = cert
        seen = set()
        while True:
            if current.self_signed or issued_by_any(current, anchor_keys):
                break
            above = by_subject.get(current.issuer_der)
            if above is None or above.subject_der in seen or not issued_by(current, above.subject_der, above.subject_key_id):
                out.append(Unrooted(cert, current, current.issuer))
                break
            seen.add(current.subject_der)
            current = above
    return out
