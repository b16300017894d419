"""Certificate validation rules, shared by ``package``, ``status`` and the hook's rebuild.

The DER reader is checked field by field against cryptography on real
certificates; the date rules are checked at chosen instants (``now``).
"""

from __future__ import annotations

import datetime
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
