"""Throwaway PKIs from trustme, written to files the way users have them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme


@dataclass
class Chain:
    """root -> intermediate -> leaf for localhost/127.0.0.1."""

    root: trustme.CA
    intermediate: trustme.CA
    leaf: trustme.LeafCert
    root_pem: Path
    intermediate_pem: Path  # the company certificate ("Issuer.crt")
    leaf_pem: Path  # the leaf alone: all the server sends
    leaf_key: Path


def make_chain(directory: Path, name: str, intermediate: bool = True) -> Chain:
    """A chain under ``directory/name``; without ``intermediate`` the root issues the leaf."""
    d = directory / name
    d.mkdir(parents=True, exist_ok=True)
    root = trustme.CA(organization_name="cert-session test %s" % name)
    issuer = root.create_child_ca() if intermediate else root
    leaf = issuer.issue_cert("localhost", "127.0.0.1")
    root.cert_pem.write_to_path(str(d / "root.pem"))
    issuer.cert_pem.write_to_path(str(d / "Issuer.crt"))
    leaf.cert_chain_pems[0].write_to_path(str(d / "leaf.pem"))
    leaf.private_key_pem.write_to_path(str(d / "leaf.key"))
    return Chain(root, issuer, leaf, d / "root.pem", d / "Issuer.crt", d / "leaf.pem", d / "leaf.key")


def make_self_signed(directory: Path, name: str) -> Chain:
    """A leaf-like server whose only CA is itself, trusted nowhere."""
    return make_chain(directory, name, intermediate=False)


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    cn: str,
    key: Any,
    *,
    issuer: tuple[Any, Any] | None = None,
    days: tuple[int, int] = (-1, 30),
    extensions: tuple[tuple[Any, bool], ...] = (),
) -> Any:
    """One certificate built with cryptography: self-signed unless ``issuer`` is (name, key).

    ``days`` are the validity bounds relative to now; ``extensions`` are
    (extension, critical) pairs. Each caller states the one thing that makes
    its certificate special.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_name, signing_key = issuer if issuer is not None else (subject, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=days[0]))
        .not_valid_after(now + datetime.timedelta(days=days[1]))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def _write_server(d: Path, cert: Any, key: Any) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    (d / "leaf.pem").write_bytes(_pem_of(cert))
    (d / "leaf.key").write_bytes(_key_pem(key))
    return d / "leaf.pem", d / "leaf.key"


def expired_ca(directory: Path) -> Path:
    """A CA certificate whose validity ended in the past (built with cryptography)."""
    from cryptography import x509

    key = _key()
    cert = _cert(
        "Expired Test CA",
        key,
        days=(-400, -2),
        extensions=(
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        ),
    )
    path = directory / "expired-ca.pem"
    path.write_bytes(_pem_of(cert))
    return path


def der_of(pem_path: Path, out: Path) -> Path:
    import ssl

    out.write_bytes(ssl.PEM_cert_to_DER_cert(pem_path.read_text()))
    return out


# --- certificates that are wrong in one specific way (issue #4) -------------


def _pem_of(cert: object) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.PEM)  # type: ignore[attr-defined, no-any-return]


def _key_pem(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def garbage_file(directory: Path, name: str = "garbage.crt") -> Path:
    """A file with a certificate's name and no certificate in it."""
    path = directory / name
    path.write_bytes(b"this is not a certificate\x00\x01\x02 just bytes\n")
    return path


def orphan_intermediate(directory: Path) -> tuple[Path, str]:
    """An intermediate whose root is in no bundle; returns (file, root's organization)."""
    org = "cert-session test orphan root"
    root = trustme.CA(organization_name=org)
    path = directory / "orphan-intermediate.pem"
    root.create_child_ca().cert_pem.write_to_path(str(path))
    return path, org


def _lax_ca(name: str) -> tuple[Any, Any]:
    """A self-signed CA, valid today, whose basicConstraints is not critical: (cert, key)."""
    from cryptography import x509

    key = _key()
    usage = x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )
    cert = _cert(
        name,
        key,
        days=(-1, 365),
        extensions=(
            (x509.BasicConstraints(ca=True, path_length=None), False),  # the one fault
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
            (usage, True),
        ),
    )
    return cert, key


def ca_without_critical_basic_constraints(directory: Path) -> Path:
    """A CA whose basicConstraints is not marked critical (RFC 5280 says it must be); nothing else wrong."""
    cert, _ = _lax_ca("Lax Constraints Test CA")
    path = directory / "lax-ca.pem"
    path.write_bytes(_pem_of(cert))
    return path


def lax_chain(directory: Path) -> tuple[Path, Path, Path]:
    """A localhost leaf issued by a CA without critical basicConstraints: (CA, leaf, key)."""
    from cryptography import x509

    ca, ca_key = _lax_ca("Lax Constraints Server CA")
    key = _key()
    leaf = _cert(
        "localhost",
        key,
        issuer=(ca.subject, ca_key),
        extensions=(
            (x509.SubjectAlternativeName([x509.DNSName("localhost")]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ),
    )
    d = directory / "lax"
    leaf_pem, leaf_key = _write_server(d, leaf, key)
    (d / "ca.pem").write_bytes(_pem_of(ca))
    return d / "ca.pem", leaf_pem, leaf_key


def expired_leaf(issuer: trustme.CA, directory: Path) -> tuple[Path, Path]:
    """A localhost leaf from ``issuer`` that expired yesterday: (cert, key)."""
    d = directory / "expired-leaf"
    d.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = issuer.issue_cert(
        "localhost", not_before=now - datetime.timedelta(days=30), not_after=now - datetime.timedelta(days=1)
    )
    leaf.cert_chain_pems[0].write_to_path(str(d / "leaf.pem"))
    leaf.private_key_pem.write_to_path(str(d / "leaf.key"))
    return d / "leaf.pem", d / "leaf.key"


def self_signed_server(directory: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    """A server certificate signed by its own key (subject == issuer, CA:FALSE): (cert, key)."""
    from cryptography import x509

    key = _key()
    cert = _cert(
        "self-signed %s" % hostname,
        key,
        extensions=(
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.SubjectAlternativeName([x509.DNSName(hostname)]), False),
        ),
    )
    return _write_server(directory / "self-signed", cert, key)


def leaf_for(issuer: trustme.CA, directory: Path, name: str, *hostnames: str) -> tuple[Path, Path]:
    """A leaf from ``issuer`` for ``hostnames`` only (e.g. the wrong host): (cert, key)."""
    d = directory / name
    d.mkdir(parents=True, exist_ok=True)
    leaf = issuer.issue_cert(*hostnames)
    leaf.cert_chain_pems[0].write_to_path(str(d / "leaf.pem"))
    leaf.private_key_pem.write_to_path(str(d / "leaf.key"))
    return d / "leaf.pem", d / "leaf.key"


def leaf_with_aia(issuer: trustme.CA, directory: Path, url: str) -> tuple[Path, Path]:
    """A localhost leaf from ``issuer`` whose AIA caIssuers points at ``url``: (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import AuthorityInformationAccessOID

    ca_cert = x509.load_pem_x509_certificate(issuer.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(issuer.private_key_pem.bytes(), password=None)
    key = _key()
    aia = x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))]
    )
    cert = _cert(
        "localhost",
        key,
        issuer=(ca_cert.subject, ca_key),
        extensions=(
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.SubjectAlternativeName([x509.DNSName("localhost")]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), False),
            (aia, False),
        ),
    )
    return _write_server(directory / "aia", cert, key)


def sha256_fingerprint(pem_path: Path) -> str:
    """SHA-256 of the first certificate in ``pem_path``, computed by cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def subject_values(pem_path: Path) -> list[str]:
    """The attribute values of the first certificate's subject (trustme's OU is unique per CA)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return [str(a.value) for a in cert.subject]


NON_LATIN1_ORGANIZATION = "ООО Ромашка 日本"  # Cyrillic and Japanese: no ANSI code page holds both


def non_latin1_ca(directory: Path) -> Path:
    """A company root whose subject cp1252 (a redirected Windows console) cannot encode."""
    ca = trustme.CA(organization_name=NON_LATIN1_ORGANIZATION)
    path = directory / "Issuer-ru-ja.crt"
    ca.cert_pem.write_to_path(str(path))
    return path
