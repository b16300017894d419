"""Issue #6, part 4: properties of the PEM reader and merger, and a fuzz pass over the state parser.

Documents are generated from a model (which certificates, in which order,
with which decorations), so every example knows exactly which certificates
a correct reader must find.
"""

from __future__ import annotations

import base64
import functools
import ssl
from typing import NamedTuple

import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cert_session import _config, _pem, _state

# X509_CERT_AUX trusting serverAuth: what OpenSSL appends to a TRUSTED CERTIFICATE.
TRUST_AUX = bytes.fromhex("300c300a06082b06010505070301")
LABELS = ["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"]
# Text between blocks never holds "-": it cannot forge a boundary.
GARBAGE = st.text(st.characters(exclude_characters="-", exclude_categories=["Cs"]), max_size=40)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=1)
def pool() -> list[bytes]:
    """DER of a few real CA certificates."""
    return [ssl.PEM_cert_to_DER_cert(trustme.CA().cert_pem.bytes().decode()) for _ in range(4)]


class Cert(NamedTuple):
    which: int  # index into pool()
    label: str
    width: int  # base64 line width
    newline: str


def encode(item: Cert | str | tuple[str, str]) -> bytes:
    if isinstance(item, str):
        return item.encode("utf-8")
    if not isinstance(item, Cert):  # a block every reader must skip
        kind, eol = item[0], item[1].encode()
        if kind == "private-key":
            return b"-----BEGIN PRIVATE KEY-----" + eol + b"MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8=" + eol + b"-----END PRIVATE KEY-----"
        if kind == "bad-base64":
            return b"-----BEGIN CERTIFICATE-----" + eol + b"not base64 at all!" + eol + b"-----END CERTIFICATE-----"
        return b"-----BEGIN CERTIFICATE-----" + eol + b"aGVsbG8gd29ybGQ=" + eol + b"-----END CERTIFICATE-----"
    body = pool()[item.which] + (TRUST_AUX if item.label == "TRUSTED CERTIFICATE" else b"")
    b64 = base64.b64encode(body)
    lines = [b64[i : i + item.width] for i in range(0, len(b64), item.width)]
    nl = item.newline.encode()
    label = item.label.encode()
    return b"-----BEGIN " + label + b"-----" + nl + nl.join(lines) + nl + b"-----END " + label + b"-----"


certs = st.builds(
    Cert,
    st.integers(0, 3),
    st.sampled_from(LABELS),
    st.sampled_from([64, 76, 1000]),
    st.sampled_from(["\n", "\r\n"]),
)
junk_blocks = st.tuples(st.sampled_from(["private-key", "bad-base64", "not-der"]), st.sampled_from(["\n", "\r\n"]))
items = st.lists(st.one_of(certs, certs, GARBAGE, junk_blocks), max_size=12)


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """(file bytes, DER of each certificate a reader must find, in order)."""
    chosen = draw(items)
    separators = draw(st.lists(st.sampled_from(["", "\n", "\r\n", " \n\n"]), min_size=len(chosen), max_size=len(chosen)))
    data = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    for item, sep in zip(chosen, separators):
        data += encode(item) + sep.encode()
    expected = [pool()[i.which] for i in chosen if isinstance(i, Cert)]
    return data, expected


def unique(ders: list[bytes]) -> list[bytes]:
    return list(dict.fromkeys(ders))


@SETTINGS
@given(documents())
def test_reader_finds_exactly_the_valid_certificates_in_order(doc: tuple[bytes, list[bytes]]) -> None:
    data, expected = doc
    assert [b.cert_der for b in _pem.iter_blocks(data)] == expected


@SETTINGS
@given(documents(), documents())
def test_merge_is_the_ordered_union_deterministic_and_canonical(
    base: tuple[bytes, list[bytes]], company: tuple[bytes, list[bytes]]
) -> None:
    merged = _pem.merge(_pem.iter_blocks(base[0]), _pem.iter_blocks(company[0]))
    found = [b.cert_der for b in _pem.iter_blocks(merged)]
    # exactly the set union, each once, base order first, then company
    assert found == unique(base[1] + company[1])
    assert set(found) == set(base[1]) | set(company[1])
    # byte for byte the same from a fresh parse, and a fixed point
    assert _pem.merge(_pem.iter_blocks(base[0]), _pem.iter_blocks(company[0])) == merged
    assert _pem.merge(_pem.iter_blocks(merged), []) == merged
    assert b"\r" not in merged and (merged == b"" or merged.endswith(b"-----\n"))


@settings(max_examples=100, deadline=None)
@given(documents(), documents())
def test_openssl_loads_every_certificate_of_a_merged_bundle(
    base: tuple[bytes, list[bytes]], company: tuple[bytes, list[bytes]]
) -> None:
    blocks = [b for b in _pem.iter_blocks(base[0]) if b.label == "CERTIFICATE"]
    extra = [b for b in _pem.iter_blocks(company[0]) if b.label == "CERTIFICATE"]
    merged = _pem.merge(blocks, extra)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if merged:
        ctx.load_verify_locations(cadata=merged.decode("ascii"))
    assert ctx.cert_store_stats()["x509"] == len(unique([b.body for b in blocks + extra]))


# --- the state parser: it reads a file others might have damaged ---------------

safe_text = st.text(st.characters(exclude_characters="\t\n\r", exclude_categories=["Cs"]), max_size=30)


@st.composite
def states(draw: st.DrawFn) -> tuple[bytes, str, list[tuple[str, str, int]], list[tuple[str, str]], str]:
    config = draw(safe_text)
    exports = draw(st.dictionaries(st.sampled_from(sorted(_config.TARGETS.values())), st.tuples(safe_text, st.integers(0, 1 << 40)), max_size=3))
    inputs = draw(st.lists(st.tuples(safe_text, safe_text), max_size=5))
    reason = draw(safe_text)
    data = _state.state_text(config, reason, 1700000000, exports, inputs)
    return data, config, [(var, path, size) for var, (path, size) in sorted(exports.items())], inputs, " ".join(reason.split())


@settings(max_examples=300, deadline=None)
@given(states())
def test_state_round_trips_and_every_truncation_is_rejected(
    state: tuple[bytes, str, list[tuple[str, str, int]], list[tuple[str, str]], str]
) -> None:
    data, config, exports, inputs, reason = state
    assert _state.parse_state(data) == (config, exports, inputs, reason)
    for end in range(len(data)):
        assert _state.parse_state(data[:end]) is None, data[:end]


def check_shape(parsed: object) -> None:
    if parsed is None:
        return
    assert isinstance(parsed, tuple)
    config, exports, inputs, reason = parsed
    assert isinstance(reason, str)
    assert isinstance(config, str)
    assert all(isinstance(v, str) and isinstance(p, str) and isinstance(s, int) for v, p, s in exports)
    assert all(isinstance(p, str) and isinstance(f, str) for p, f in inputs)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=2048))
def test_state_parser_never_raises_on_random_bytes(data: bytes) -> None:
    check_shape(_state.parse_state(data))


@settings(max_examples=500, deadline=None)
@given(states(), st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(min_size=0, max_size=4)), min_size=1, max_size=4))
def test_state_parser_never_raises_on_damaged_states(
    state: tuple[bytes, str, list[tuple[str, str, int]], list[tuple[str, str]], str], edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(state[0])
    for pos, replacement in edits:
        pos %= len(data) + 1
        data[pos : pos + len(replacement)] = replacement
    check_shape(_state.parse_state(bytes(data)))
