"""Certificate validation rules, shared by ``package``, ``status`` and the hook's rebuild.

The DER reader is checked field by field against cryptography on real
certificates; the date rules are checked at chosen instants (``now``).
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from cert_session import _pem, _sources
from cert_session._x509 import parse_certificate
from tests.conftest import World
from tests.helpers import pki
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv


def ext(cert: x509.Certificate, kind: type) -> x509.Extension | None:  # type: ignore[type-arg]
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


@pytest.fixture(scope="module")
def samples(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("samples")
    return [
        world.company.root_pem,
        world.company.intermediate_pem,
        world.company.leaf_pem,
        pki.expired_ca(d),
        pki.ca_without_critical_basic_constraints(d),
        pki.self_signed_server(d)[0],
        pki.leaf_with_aia(world.company.intermediate, d, "http://ca.example/issuer.cer")[0],
    ]


def test_der_reader_agrees_with_cryptography_on_every_field_it_checks(samples: list[Path]) -> None:
    for path in samples:
        ref = x509.load_pem_x509_certificate(path.read_bytes())
        (block,) = _pem.iter_blocks(path.read_bytes())
        info = parse_certificate(block.cert_der)
        assert info.fingerprint == ref.fingerprint(hashes.SHA256()).hex(":").upper(), path
        assert all(str(a.value) in info.subject for a in ref.subject), path
        assert all(str(a.value) in info.issuer for a in ref.issuer), path
        assert info.not_before == int(ref.not_valid_before_utc.timestamp())
        assert info.not_after == int(ref.not_valid_after_utc.timestamp())
        bc = ext(ref, x509.BasicConstraints)
        assert info.basic_constraints == ((bc.critical, bc.value.ca) if bc else None), path
        ski = ext(ref, x509.SubjectKeyIdentifier)
        assert info.subject_key_id == (ski.value.digest if ski else None), path
        aki = ext(ref, x509.AuthorityKeyIdentifier)
        assert info.authority_key_id == (aki.value.key_identifier if aki else None), path
        san = ext(ref, x509.SubjectAlternativeName)
        names = tuple(str(n.value) for n in san.value) if san else ()
        assert info.alt_names == names, path
        aia = ext(ref, x509.AuthorityInformationAccess)
        urls = tuple(d.access_location.value for d in aia.value) if aia else ()
        assert info.ca_issuers_urls == urls, path


def _codes(path: Path, now: float) -> list[str]:
    (block,) = _pem.iter_blocks(path.read_bytes())
    _, problems = _sources.check(str(path), "CERT_SESSION_CERTS", block, strict=True, now=now)
    return [p.code for p in problems]


def test_expiry_rules_warn_within_thirty_days_after_expiry_and_before_validity(world: World) -> None:
    ref = x509.load_pem_x509_certificate(world.company.intermediate_pem.read_bytes())
    end = ref.not_valid_after_utc.timestamp()
    start = ref.not_valid_before_utc.timestamp()
    day = datetime.timedelta(days=1).total_seconds()
    path = world.company.intermediate_pem
    assert _codes(path, end - 31 * day) == []
    assert _codes(path, end - 29 * day) == ["expiring"]
    assert _codes(path, end + day) == ["expired"]
    assert _codes(path, start - day) == ["not-yet-valid"]


def test_strict_rule_names_each_missing_piece(tmp_path: Path, world: World) -> None:
    lax = pki.ca_without_critical_basic_constraints(tmp_path)
    (block,) = _pem.iter_blocks(lax.read_bytes())
    _, problems = _sources.check(str(lax), "package", block, strict=True)
    (problem,) = problems
    assert problem.code == "strict" and "a critical basicConstraints extension" in problem.message
    assert "Subject Key Identifier" not in problem.message and "keyUsage" not in problem.message  # it has both
    expired = pki.expired_ca(tmp_path)  # built without keyUsage: OpenSSL's strict mode wants one on a CA
    (block,) = _pem.iter_blocks(expired.read_bytes())
    assert "a keyUsage extension" in _sources.check(str(expired), "package", block, strict=True)[1][-1].message
    (good,) = _pem.iter_blocks(world.company.intermediate_pem.read_bytes())
    assert _sources.check("x", "package", good, strict=True)[1] == []


def test_hook_rebuild_reports_a_leaf_company_cert_in_one_line_and_keeps_working(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    # Same rule at start-up: the packaged intermediate still works, the leaf
    # given through CERT_SESSION_CERTS is skipped, and one line says why.
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(world.company.leaf_pem))
    proc = installed.get(env, world.urls["company"])
    assert proc.stdout.startswith("OK 200"), proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("cert-session: ")
    assert str(world.company.leaf_pem) in proc.stderr and "not a CA" in proc.stderr


# ------------------------------------------------------------ the trust rule


def _verifies(url: str, cafile: Path) -> bool:
    """One urllib request with the ssl module's defaults (3.13+: VERIFY_X509_PARTIAL_CHAIN) and ``cafile``."""
    import ssl
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=20, context=ssl.create_default_context(cafile=str(cafile))).read()  # noqa: S310 - a loopback https:// test server
        return True
    except urllib.error.URLError as exc:
        assert isinstance(exc.reason, ssl.SSLCertVerificationError), exc
        return False


def test_intermediates_join_a_bundle_only_through_a_root_it_holds_following_intermediate_links(
    tmp_path: Path,
) -> None:
    """root -> i1 -> i2 -> leaf (the server sends the leaf alone); i1 and i2 are company certificates."""
    import trustme
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from cert_session import _rebuild
    from tests.helpers import servers

    root = trustme.CA()
    i1 = root.create_child_ca()
    i2 = i1.create_child_ca()
    leaf = i2.issue_cert("localhost", "127.0.0.1")
    other = trustme.CA()  # a public root: in every base
    files = {}
    for name, pem in [("root", root.cert_pem), ("i1", i1.cert_pem), ("i2", i2.cert_pem), ("other", other.cert_pem)]:
        files[name] = tmp_path / (name + ".pem")
        pem.write_to_path(str(files[name]))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "leaf.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "leaf.key"))
    # An impostor: the root's very Name on another key (no signature check, but the key identifiers differ).
    real = x509.load_pem_x509_certificate(root.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    impostor = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(real.not_valid_before_utc)
        .not_valid_after(real.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files["impostor"] = tmp_path / "impostor.pem"
    files["impostor"].write_bytes(impostor.public_bytes(serialization.Encoding.PEM))

    def bundle(base: list[str], company: list[str]) -> tuple[Path | None, list[str]]:
        """The merged REQUESTS_CA_BUNDLE file for this base and these company certificates (None: not exported)."""
        path = tmp_path / ("base-%s.pem" % "-".join(base))
        path.write_bytes(b"".join(files[n].read_bytes() for n in base))
        certs_env = os.pathsep.join(str(files[n]) for n in company)
        bundles, _, problems, _ = _rebuild.build([("requests", "file:%s" % path)], certs_env)
        codes = [os.path.basename(p.path) for p in problems if p.code == "chain-incomplete"]
        if "REQUESTS_CA_BUNDLE" not in bundles:
            return None, codes
        out = tmp_path / bundles["REQUESTS_CA_BUNDLE"][0]
        out.write_bytes(bundles["REQUESTS_CA_BUNDLE"][1])
        return out, codes

    with servers.serve_https(tmp_path / "leaf.pem", tmp_path / "leaf.key") as url:
        # The base holds the root: both intermediates link up, and the chain verifies.
        merged, warned = bundle(["other", "root"], ["i2", "i1"])
        assert merged is not None and warned == [] and _verifies(url, merged)
        # The root is a company certificate too: the same.
        merged, warned = bundle(["other"], ["root", "i1", "i2"])
        assert merged is not None and warned == [] and _verifies(url, merged)
        # No root anywhere: both are left out, each named, on every Python.
        merged, warned = bundle(["other"], ["i1", "i2"])
        assert merged is None and sorted(warned) == ["i1.pem", "i2.pem"]
        # A root's Name alone is not the root: its key identifier must match i1's authority key identifier.
        merged, warned = bundle(["other", "impostor"], ["i1", "i2"])
        assert merged is None and sorted(warned) == ["i1.pem", "i2.pem"]
        # What the rule prevents: the same files merged by hand verify exactly where
        # this Python takes every CA-file certificate as an anchor (3.13+).
        by_hand = tmp_path / "by-hand.pem"
        by_hand.write_bytes(b"".join(files[n].read_bytes() for n in ["other", "i1", "i2"]))
        import ssl

        partial = bool(ssl.create_default_context().verify_flags & getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0))
        assert _verifies(url, by_hand) is partial
        assert partial is (sys.version_info >= (3, 13))
