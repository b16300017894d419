"""Throwaway PKIs from trustme, written to files the way users have them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

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


def expired_ca(directory: Path) -> Path:
    """A CA certificate whose validity ended in the past (built with cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Expired Test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now - datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    path = directory / "expired-ca.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def der_of(pem_path: Path, out: Path) -> Path:
    import ssl

    out.write_bytes(ssl.PEM_cert_to_DER_cert(pem_path.read_text()))
    return out
