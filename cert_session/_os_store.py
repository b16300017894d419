"""The operating system's trust store, as PEM blocks (``CERT_SESSION_OS_STORE=1``).

Read only when rebuilding, and cached in the merged bundle like every other
input. Each platform's store is read its own way, side by side (as
truststore keeps ``_openssl.py``, ``_macos.py`` and ``_windows.py``), and the
platform layer says which one applies (``_platform.Policy.os_store``):

- ``openssl`` (Linux and other OpenSSL platforms): the CA file and the hashed
  CA directory of OpenSSL's default verify paths, which ``SSL_CERT_FILE`` and
  ``SSL_CERT_DIR`` override as OpenSSL documents. Change detection: the
  file's stat and the directory's (a root added or removed changes its mtime).
- ``macos``: the SystemRootCertificates and System keychains through
  ``security find-certificate``, and the admin trust settings through
  ``security trust-settings-export``. A root is kept unless an admin setting
  denies it for SSL; a System keychain certificate (what MDM installs) only if
  an admin setting trusts it for SSL. Change detection: the keychain files
  and the admin trust settings file.
- ``windows``: the ``ROOT`` store through ``ssl.enum_certificates``, keeping
  what is trusted for server authentication (``1.3.6.1.5.5.7.3.1`` or
  ``True``), and ``CA``-store intermediates issued by one of those roots.
  Change detection: the stores' registry keys' last-write times
  (``registry:`` inputs, read with the builtin ``winreg``).

Stdlib only, and no ``typing`` at run time: the rebuild imports this.
"""

from __future__ import annotations

import os

from . import _pem
from ._x509 import DERError, parse_certificate

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import NamedTuple as Record
else:
    from ._record import Record

__all__ = [
    "Store",
    "load",
    "read_openssl",
    "parse_macos",
    "parse_windows",
    "REGISTRY_KEYS",
]

SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
# kSecPolicyAppleSSL, as stored in trust settings: the OID's DER contents.
APPLE_SSL_POLICY = bytes.fromhex("2a864886f763640103")
MACOS_SYSTEM_ROOTS = "/System/Library/Keychains/SystemRootCertificates.keychain"
MACOS_SYSTEM = "/Library/Keychains/System.keychain"
MACOS_ADMIN_TRUST = "/Library/Security/Trust Settings/Admin.plist"
# Where Windows keeps the certificates that ssl.enum_certificates("ROOT")
# and ("CA") merge: machine, group policy, enterprise and user stores.
REGISTRY_KEYS = tuple(
    "registry:%s\\%s\\%s\\Certificates" % (hive, path, store)
    for store in ("ROOT", "CA")
    for hive, path in (
        ("HKLM", "SOFTWARE\\Microsoft\\SystemCertificates"),
        ("HKLM", "SOFTWARE\\Policies\\Microsoft\\SystemCertificates"),
        ("HKLM", "SOFTWARE\\Microsoft\\EnterpriseCertificates"),
        ("HKCU", "SOFTWARE\\Microsoft\\SystemCertificates"),
    )
)
MAX_FILE_SIZE = 64 << 20


class Store(Record):
    blocks: list[_pem.Block]
    inputs: list[str]  # stat fingerprinted paths, or registry: keys
    origin: str  # for people: "OpenSSL (/etc/ssl/certs/ca-certificates.crt, /etc/ssl/certs)"
    problem: str | None


def load(store_spec: str) -> Store:
    """Read the store a spec names (``_config.os_store_spec``). Never raises for a missing or odd store."""
    kind, _, rest = store_spec.partition(":")
    if kind == "openssl":
        cafile, _, capath = rest.partition("|")
        return read_openssl(cafile, capath)
    if kind == "macos":
        return _read_macos()
    if kind == "windows":
        return _read_windows()
    return Store([], [], "no operating system store", "unknown store %r" % store_spec)


# -- OpenSSL -------------------------------------------------------------------


def _hashed_name(name: str) -> bool:
    # c_rehash / openssl rehash names: 8 hex digits, ".", a number (".r<n>": CRLs).
    stem, dot, number = name.partition(".")
    return len(stem) == 8 and dot == "." and number.isdigit() and not stem.strip("0123456789abcdef")


def read_openssl(cafile: str, capath: str) -> Store:
    blocks: list[_pem.Block] = []
    for path in [cafile] if cafile else []:
        blocks.extend(_pem_file(path))
    if capath:
        try:
            names = sorted(os.listdir(capath))
        except OSError:
            names = []
        for name in names:
            if _hashed_name(name):
                blocks.extend(_pem_file(os.path.join(capath, name)))
    origin = "OpenSSL's CA file %s and CA directory %s" % (cafile or "(none)", capath or "(none)")
    problem = None if blocks else "no certificate in %s" % origin
    return Store(blocks, [p for p in (cafile, capath) if p], origin, problem)


def _pem_file(path: str) -> list[_pem.Block]:
    try:
        with open(path, "rb") as f:
            return list(_pem.iter_blocks(f.read(MAX_FILE_SIZE)))
    except OSError:
        return []


# -- macOS ---------------------------------------------------------------------


def _read_macos(run: Callable[[list[str]], bytes] | None = None) -> Store:
    import subprocess
    import tempfile

    def default_run(argv: list[str]) -> bytes:
        return subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout

    run = run or default_run
    security = "/usr/bin/security"
    inputs = [MACOS_SYSTEM_ROOTS, MACOS_SYSTEM, MACOS_ADMIN_TRUST]
    try:
        roots = run([security, "find-certificate", "-a", "-p", MACOS_SYSTEM_ROOTS])
        system = run([security, "find-certificate", "-a", "-p", MACOS_SYSTEM])
        with tempfile.TemporaryDirectory() as tmp:
            export = os.path.join(tmp, "admin.plist")
            try:
                run([security, "trust-settings-export", "-d", export])
                with open(export, "rb") as f:
                    admin = f.read()
            except (OSError, subprocess.CalledProcessError):
                admin = b""  # no admin trust settings at all
    except (OSError, subprocess.SubprocessError) as exc:
        return Store([], inputs, "macOS keychains", "cannot run `security` (%s)" % exc)
    blocks = parse_macos(roots, system, admin)
    return Store(blocks, inputs, "macOS System and SystemRoots keychains with admin trust settings", None)


def parse_macos(roots_pem: bytes, system_pem: bytes, admin_plist: bytes) -> list[_pem.Block]:
    """Certificates trusted for SSL server use, from ``security``'s output."""
    import hashlib
    import plistlib

    trust: dict[str, list[dict[str, object]]] = {}
    if admin_plist.strip():
        try:
            listing = plistlib.loads(admin_plist).get("trustList", {})
        except Exception:  # noqa: BLE001 - a damaged export means no admin settings we can honour
            listing = {}
        for sha1, entry in listing.items():
            settings = entry.get("trustSettings", []) if isinstance(entry, dict) else []
            trust[str(sha1).upper()] = [s for s in settings if isinstance(s, dict)]

    def verdict(block: _pem.Block) -> bool | None:
        """True/False: an admin setting trusts/denies it for SSL; None: no setting applies."""
        settings = trust.get(hashlib.sha1(block.cert_der).hexdigest().upper())  # noqa: S324 - Apple's key
        if settings is None:
            return None
        if not settings:
            return True  # an empty list: trusted as a root for every policy
        found = None
        for setting in settings:
            policy = setting.get("kSecTrustSettingsPolicy")
            if isinstance(policy, bytes) and policy[:2] == b"\x06\x09":  # with its DER tag and length
                policy = policy[2:]
            if policy is not None and policy != APPLE_SSL_POLICY:
                continue
            result = setting.get("kSecTrustSettingsResult", 1)
            if result == 3:  # kSecTrustSettingsResultDeny
                return False
            if result in (1, 2):  # TrustRoot, TrustAsRoot
                found = True
        return found

    kept = [b for b in _pem.iter_blocks(roots_pem) if verdict(b) is not False]
    kept += [b for b in _pem.iter_blocks(system_pem) if verdict(b) is True]
    return kept


# -- Windows -------------------------------------------------------------------


def _read_windows() -> Store:
    import ssl

    enum = getattr(ssl, "enum_certificates", None)
    if enum is None:
        return Store([], list(REGISTRY_KEYS), "Windows certificate stores", "ssl.enum_certificates is missing")
    try:
        blocks = parse_windows(enum("ROOT"), enum("CA"))
    except OSError as exc:
        return Store([], list(REGISTRY_KEYS), "Windows certificate stores", "cannot read the stores (%s)" % exc)
    return Store(blocks, list(REGISTRY_KEYS), "Windows ROOT and CA stores", None)


def parse_windows(
    root: Iterable[tuple[bytes, str, object]], ca: Iterable[tuple[bytes, str, object]]
) -> list[_pem.Block]:
    """``ssl.enum_certificates`` results -> certificates trusted for server authentication.

    Roots trusted for server authentication (their trust is ``True`` or names
    the serverAuth OID); intermediates of the CA store only when issued by
    one of those roots, since a CA file makes every entry an anchor for
    OpenSSL's partial-chain mode (Python 3.13's default).
    """
    def trusted(entries: Iterable[tuple[bytes, str, object]]) -> list[bytes]:
        out = []
        for der, encoding, usage in entries:
            if encoding != "x509_asn":
                continue
            if usage is True or (isinstance(usage, (set, frozenset, list, tuple)) and SERVER_AUTH in usage):
                out.append(bytes(der))
        return out

    roots = trusted(root)
    subjects = set()
    for der in roots:
        try:
            subjects.add(parse_certificate(der).subject_der)
        except DERError:
            continue
    intermediates = []
    for der in trusted(ca):
        try:
            if parse_certificate(der).issuer_der in subjects:
                intermediates.append(der)
        except DERError:
            continue
    return [_pem.Block("CERTIFICATE", der) for der in roots + intermediates]
