"""Run the real hook under another OS's ``os`` behaviour, on Linux.

Only Linux is here, so Windows and macOS are emulated where CPython itself
differs, and nowhere else (the files, TLS and requests stay real):

- ``win32``: ``os.stat``/``lstat``/``fstat`` report what CPython on Windows
  reports (0o666 or 0o444 files, 0o777 directories, uid and gid 0,
  ``st_file_attributes`` with FILE_ATTRIBUTE_REPARSE_POINT on symlinks);
  ``geteuid``, ``fchmod``, ``chown``, ``O_NOFOLLOW``,
  ``O_NONBLOCK``, ``O_CLOEXEC`` and ``mkfifo`` do not exist; ``O_BINARY`` and
  ``O_NOINHERIT`` do, and ``os.open`` without ``O_BINARY`` is text mode (CRLF
  written, CRLF to LF and a stop at Ctrl-Z when read); ``os.replace`` onto a
  destination named in ``CERT_SESSION_EMULATE_HELD`` fails with "access
  denied" the first ``CERT_SESSION_EMULATE_HELD_TRIES`` times, as when
  another interpreter holds it open.
  The builtin ``winreg`` and ``ssl.enum_certificates`` exist too, as on
  every Windows: with no certificate in them, or, with
  ``CERT_SESSION_EMULATE_REGISTRY=<dir>``, backed by that directory:
  ``<dir>/HKLM/SOFTWARE/Microsoft/SystemCertificates/ROOT/Certificates/*``
  are the ROOT store's certificates (DER, trusted for every purpose), and a
  key's last-write time is its directory's mtime.
- ``darwin``: only ``sys.platform`` (macOS is POSIX; what differs is where
  things live).

``install(site_packages)`` drops this module and two ``.pth`` files into a
venv: ``00-…`` (sorted before ``cert_session_hook.pth``) switches the
emulation on when ``CERT_SESSION_EMULATE`` names a platform, and ``zzzz-…``
puts ``sys.platform`` back once site is done, so that the test's own code
(``import ssl``, ``requests``) runs as on Linux. Without the variable
nothing changes, so one venv serves both.
"""

from __future__ import annotations

import os
import shutil
import stat as _stat
import sys
from pathlib import Path

MODULE = "_cert_session_emulate"
O_BINARY = 0x10000000  # bits no Linux open flag uses: stripped before the real call
O_NOINHERIT = 0x20000000
FILE_ATTRIBUTE_READONLY = 0x1
FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_ATTRIBUTE_ARCHIVE = 0x20
FILE_ATTRIBUTE_REPARSE_POINT = 0x400

_real: dict[str, object] = {}
_text_fds: set[int] = set()
_held_tries: dict[str, int] = {}
_saved_platform = sys.platform


class WindowsStat:
    """What ``os.stat`` returns on Windows for the same file."""

    def __init__(self, st: os.stat_result, follow: bool) -> None:
        kind = _stat.S_IFMT(st.st_mode)
        if kind == _stat.S_IFLNK and not follow:
            mode, attributes = _stat.S_IFLNK | 0o777, FILE_ATTRIBUTE_REPARSE_POINT
        elif kind == _stat.S_IFDIR:
            mode, attributes = _stat.S_IFDIR | 0o777, FILE_ATTRIBUTE_DIRECTORY
        else:
            writable = bool(st.st_mode & 0o200)
            mode = kind | (0o666 if writable else 0o444)
            attributes = FILE_ATTRIBUTE_ARCHIVE | (0 if writable else FILE_ATTRIBUTE_READONLY)
        self.st_mode = mode
        self.st_ino = st.st_ino
        self.st_dev = st.st_dev
        self.st_nlink = st.st_nlink
        self.st_uid = 0
        self.st_gid = 0
        self.st_size = st.st_size
        self.st_atime, self.st_mtime, self.st_ctime = st.st_atime, st.st_mtime, st.st_ctime
        self.st_atime_ns, self.st_mtime_ns, self.st_ctime_ns = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
        self.st_file_attributes = attributes
        self.st_reparse_tag = 0xA000000C if attributes & FILE_ATTRIBUTE_REPARSE_POINT else 0

    def __getitem__(self, index: int) -> object:
        return (
            self.st_mode, self.st_ino, self.st_dev, self.st_nlink, self.st_uid, self.st_gid,
            self.st_size, int(self.st_atime), int(self.st_mtime), int(self.st_ctime),
        )[index]


def _stat_fn(path: object, *, dir_fd: int | None = None, follow_symlinks: bool = True) -> WindowsStat:
    real = _real["lstat" if not follow_symlinks else "stat"]
    return WindowsStat(real(path, dir_fd=dir_fd), follow_symlinks)  # type: ignore[operator]


def _lstat_fn(path: object, *, dir_fd: int | None = None) -> WindowsStat:
    return WindowsStat(_real["lstat"](path, dir_fd=dir_fd), False)  # type: ignore[operator]


def _fstat_fn(fd: int) -> WindowsStat:
    return WindowsStat(_real["fstat"](fd), True)  # type: ignore[operator]


def _open_fn(path: object, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
    fd: int = _real["open"](path, flags & ~(O_BINARY | O_NOINHERIT), mode, dir_fd=dir_fd)  # type: ignore[operator]
    if not flags & O_BINARY:
        _text_fds.add(fd)
    return fd


def _read_fn(fd: int, n: int) -> bytes:
    data: bytes = _real["read"](fd, n)  # type: ignore[operator]
    if fd in _text_fds:
        data = data.split(b"\x1a", 1)[0].replace(b"\r\n", b"\n")
    return data


def _write_fn(fd: int, data: bytes) -> int:
    if fd not in _text_fds:
        return _real["write"](fd, data)  # type: ignore[operator,no-any-return]
    converted = bytes(data).replace(b"\n", b"\r\n")
    view = memoryview(converted)
    while view:
        view = view[_real["write"](fd, view) :]  # type: ignore[operator]
    return len(data)


def _close_fn(fd: int) -> None:
    _text_fds.discard(fd)
    _real["close"](fd)  # type: ignore[operator]


def _replace_fn(src: object, dst: object, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None) -> None:
    name = os.path.basename(os.fspath(dst))  # type: ignore[call-overload]
    held = [p for p in os.environ.get("CERT_SESSION_EMULATE_HELD", "").split(",") if p]
    if any(name.startswith(p) for p in held) and os.path.lexists(os.fspath(dst)):  # type: ignore[call-overload]
        tries = _held_tries.get(name, 0)
        _held_tries[name] = tries + 1
        if tries < int(os.environ.get("CERT_SESSION_EMULATE_HELD_TRIES", "1000000")):
            raise PermissionError(13, "Access is denied", os.fspath(dst))  # type: ignore[call-overload]
    _real["replace"](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)  # type: ignore[operator]


# os.getuid stays: posixpath.expanduser (site's user base, with no HOME)
# needs it, where Windows' ntpath.expanduser reads USERPROFILE instead.
_MISSING_ON_WINDOWS = (
    "geteuid", "getegid", "fchmod", "fchown", "chown", "lchown", "mkfifo",
    "O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC", "O_DIRECTORY", "O_NOCTTY",
)


REGISTRY_STORE = ("HKLM", "SOFTWARE", "Microsoft", "SystemCertificates")


def _registry(root: str) -> None:
    import ssl  # before sys.platform says win32: ssl.py imports Windows-only names then
    import types

    def store_dir(store: str) -> str:
        return os.path.join(root, *REGISTRY_STORE, store, "Certificates")

    def enum_certificates(store: str) -> list[tuple[bytes, str, object]]:
        directory = store_dir(store.upper())
        names = sorted(os.listdir(directory)) if root and os.path.isdir(directory) else []
        out = []
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                out.append((f.read(), "x509_asn", True))
        return out

    class Key:
        def __init__(self, path: str) -> None:
            self.path = path

        def __enter__(self) -> Key:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def open_key(hive: str, sub_key: str) -> Key:
        path = os.path.join(root, hive, *sub_key.split("\\"))
        if not root or not os.path.isdir(path):
            raise FileNotFoundError(2, "The system cannot find the file specified", sub_key)
        return Key(path)

    def query_info_key(key: Key) -> tuple[int, int, int]:
        st = _real["stat"](key.path) if "stat" in _real else os.stat(key.path)  # type: ignore[operator]
        # 100 ns intervals since 1601, as Windows reports last-write times.
        return len(os.listdir(key.path)), 0, st.st_mtime_ns // 100 + 116444736000000000

    winreg = types.ModuleType("winreg")
    winreg.HKEY_LOCAL_MACHINE = "HKLM"  # type: ignore[attr-defined]
    winreg.HKEY_CURRENT_USER = "HKCU"  # type: ignore[attr-defined]
    winreg.OpenKey = open_key  # type: ignore[attr-defined]
    winreg.QueryInfoKey = query_info_key  # type: ignore[attr-defined]
    sys.modules["winreg"] = winreg
    ssl.enum_certificates = enum_certificates  # type: ignore[attr-defined]


def enable(platform: str | None = None) -> None:
    """Switch the emulation on for this process (idempotent)."""
    platform = platform or os.environ.get("CERT_SESSION_EMULATE", "")
    if platform not in ("win32", "darwin"):
        return
    registry = os.environ.get("CERT_SESSION_EMULATE_REGISTRY", "")
    if platform == "win32" and "winreg" not in sys.modules:
        _registry(registry)  # "": empty stores
    sys.platform = platform
    if platform != "win32" or _real:
        return
    for name in ("stat", "lstat", "fstat", "open", "read", "write", "close", "replace"):
        _real[name] = getattr(os, name)
    os.stat, os.lstat, os.fstat = _stat_fn, _lstat_fn, _fstat_fn  # type: ignore[assignment]
    os.open, os.read, os.write, os.close = _open_fn, _read_fn, _write_fn, _close_fn  # type: ignore[assignment]
    os.replace = _replace_fn  # type: ignore[assignment]
    for name in _MISSING_ON_WINDOWS:
        if hasattr(os, name):
            delattr(os, name)
    os.O_BINARY = O_BINARY  # type: ignore[attr-defined]
    os.O_NOINHERIT = O_NOINHERIT  # type: ignore[attr-defined]


def end_of_site() -> None:
    """After site: the test's own code runs with Linux's sys.platform (ssl, requests)."""
    sys.platform = _saved_platform


def install(site_packages: Path) -> None:
    shutil.copyfile(__file__, site_packages / (MODULE + ".py"))
    (site_packages / ("00-%s.pth" % MODULE)).write_text("import %s; %s.enable()\n" % (MODULE, MODULE))
    (site_packages / ("zzzz-%s.pth" % MODULE)).write_text("import %s; %s.end_of_site()\n" % (MODULE, MODULE))
