"""Every difference between POSIX (Linux, macOS) and Windows, in one place.

The rest of the package asks this module, never ``sys.platform`` or
``os.name``: how a file or directory is judged safe to trust, which flags
``os.open`` gets, whether a mode can be set, the per-user cache and
fallback directories, and how a file is moved into place. ``POSIX``,
``MACOS`` and ``WINDOWS`` sit side by side, and ``CURRENT`` is picked once,
at import, from ``sys.platform`` (as platformdirs does). Tests exercise each
policy directly, with ``os`` emulating the other platform
(tests/helpers/platforms.py).

The start-up fast path (``cert_session_hook``) may import nothing, so it
holds a few-line mirror of ``Policy.safe``, ``Policy.read_flags``,
``Policy.is_absolute`` and ``Policy.user_cache_dir``;
tests/test_platform.py pins the mirror to these policies on every
platform.

Stdlib only, no ``typing`` at run time: the rebuild imports this.
"""

from __future__ import annotations

import os
import stat
import sys
import time

__all__ = ["Policy", "POSIX", "MACOS", "WINDOWS", "CURRENT", "for_platform"]

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType

# winnt.h; stat.FILE_ATTRIBUTE_REPARSE_POINT exists on every platform's
# stat module, but spelling it out keeps the fast path's mirror greppable.
FILE_ATTRIBUTE_REPARSE_POINT = 0x400


class Policy:
    """The POSIX rules; ``_MacOS`` and ``_Windows`` override what differs."""

    name = "posix"
    # Kept as a flag for the few callers that must phrase a message differently.
    windows = False
    # Which reader of cert_session._os_store is this platform's trust store.
    os_store = "openssl"
    # The system git config that git reads when GIT_CONFIG_SYSTEM is unset
    # (its ETC_GITCONFIG: /etc/gitconfig for every distribution's git). The
    # git target replaces it with a file that sets http.sslCAInfo and then
    # includes this one (issue #23). "" where it is not known for certain
    # (macOS: Apple's and Homebrew's git differ; Git for Windows: relative to
    # its installation): there the git target exports GIT_SSL_CAINFO.
    git_system_config = "/etc/gitconfig"
    # Targets one of whose clients verifies with that store when the
    # variable is unset (_config.kept_os_store). Here OpenSSL's default file
    # is the store, and the ssl target's base already holds it.
    os_verifier_targets: tuple[str, ...] = ()

    # -- trust ---------------------------------------------------------------

    def euid(self) -> int:
        """The effective user id, or -1 where there is none (Windows)."""
        geteuid = getattr(os, "geteuid", None)
        return geteuid() if geteuid is not None else -1

    def safe(self, st: os.stat_result, kind: int) -> bool:
        """Whether an ``lstat`` result may be trusted as a cache file or directory.

        POSIX: of the expected type (so not a symlink), owned by us or root,
        and not writable by group or others.
        """
        if stat.S_IFMT(st.st_mode) != kind:
            return False
        euid = self.euid()
        if euid != -1 and st.st_uid != euid and st.st_uid != 0:
            return False
        return not st.st_mode & 0o022

    def owned_by_us(self, st: os.stat_result) -> bool:
        """Whether we may create things inside a directory with this ``stat``."""
        return st.st_uid == self.euid()

    # -- files ---------------------------------------------------------------

    def read_flags(self) -> int:
        # O_NOFOLLOW: a planted symlink is never followed; O_NONBLOCK: a FIFO
        # planted at the path must not hang the start.
        return os.O_RDONLY | _flag("O_NOFOLLOW") | _flag("O_NONBLOCK") | _flag("O_CLOEXEC")

    def write_flags(self) -> int:
        return os.O_WRONLY | os.O_CREAT | os.O_EXCL | _flag("O_NOFOLLOW") | _flag("O_CLOEXEC")

    def set_mode(self, fd: int, mode: int) -> None:
        """Give ``fd`` exactly ``mode``: the umask must not widen or narrow it."""
        # Windows has no os.fchmod before 3.13 (and only _Windows runs there);
        # the check is for type checkers run with --platform win32.
        if sys.platform != "win32":
            os.fchmod(fd, mode)

    def same_mode(self, st: os.stat_result, mode: int) -> bool:
        return stat.S_IMODE(st.st_mode) == mode

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def is_absolute(self, path: str) -> bool:
        return os.path.isabs(path)

    # -- locations -----------------------------------------------------------

    def user_cache_dir(self, environ: Mapping[str, str]) -> str | None:
        """CERT_SESSION_CACHE_DIR if absolute, else the platform's own (``_default_cache_dir``)."""
        configured = environ.get("CERT_SESSION_CACHE_DIR", "")
        # A relative one would put a cache in every working directory and
        # export bundle paths that break after a chdir: ignored, as XDG does.
        if configured and self.is_absolute(configured):
            return configured
        return self._default_cache_dir(environ)

    def _default_cache_dir(self, environ: Mapping[str, str]) -> str | None:
        """``$XDG_CACHE_HOME/cert-session``, else ``~/.cache/cert-session``."""
        xdg = environ.get("XDG_CACHE_HOME", "")
        if xdg and self.is_absolute(xdg):
            return os.path.join(xdg, "cert-session")
        home = environ.get("HOME", "")
        if home and self.is_absolute(home):
            return os.path.join(home, ".cache", "cert-session")
        return None

    def cache_problem(self, environ: Mapping[str, str]) -> tuple[str, bool] | None:
        """Why the per-user cache directory must not be used: (sentence, worth a warning), or None.

        An explicit CERT_SESSION_CACHE_DIR is created if missing. A HOME that
        does not exist is not created, and nothing is created in a home that
        belongs to someone else: ``sudo`` keeps HOME on macOS (and
        ``sudo -E`` on Linux), and a root-owned cache there would lock its
        owner out of it. That case is not worth a warning: the per-user
        fallback is the right place for that process.
        """
        configured = environ.get("CERT_SESSION_CACHE_DIR", "")
        if configured and self.is_absolute(configured):
            return None
        return self._default_cache_problem(environ)

    def _default_cache_problem(self, environ: Mapping[str, str]) -> tuple[str, bool] | None:
        directory = self._default_cache_dir(environ)
        if directory is None:
            return "HOME is not set, so there is no per-user cache directory", True
        xdg = environ.get("XDG_CACHE_HOME", "")
        home = environ.get("HOME", "")
        if not (xdg and self.is_absolute(xdg)) and not os.path.isdir(home):
            return "HOME=%s does not exist, so there is no per-user cache directory" % home, True
        existing = _nearest_existing(directory)
        try:
            st = os.stat(existing)
        except OSError:
            return None
        if not self.owned_by_us(st):
            return "%s belongs to another user (HOME kept by sudo?), so nothing is created there" % existing, False
        return None

    def fallback_dir(self, environ: Mapping[str, str]) -> str:
        """A private per-user place when the user cache cannot be used."""
        runtime = environ.get("XDG_RUNTIME_DIR", "")
        if runtime and self.is_absolute(runtime):
            try:
                if self.owned_by_us(os.stat(runtime)):  # sudo -E keeps the user's
                    return os.path.join(runtime, "cert-session")
            except OSError:
                pass
        tmp = environ.get("TMPDIR", "")
        if self.is_absolute(tmp) and not self._may_create_in(tmp):
            tmp = ""  # another user's TMPDIR, kept by sudo
        if not self.is_absolute(tmp):
            tmp = "/tmp"  # noqa: S108 - only a parent: the directory under it must be ours and 0700
        return os.path.join(tmp, "cert-session-%d" % self.euid())

    def _may_create_in(self, directory: str) -> bool:
        """Ours, or a shared sticky directory like /tmp (nobody can remove our entries there)."""
        try:
            st = os.stat(directory)
        except OSError:
            return True  # missing: whoever creates it owns it, and ours is checked after
        return self.owned_by_us(st) or bool(st.st_mode & stat.S_ISVTX)

    def openssl_cafiles(self) -> tuple[str, ...]:
        """CA files an OpenSSL client uses here, best first: OpenSSL's compiled-in
        default, then what the platform ships in case that one is missing."""
        # _ssl alone: ssl.py adds nothing needed here (ssl.get_default_verify_paths
        # is a thin wrapper around this call). The compiled-in file only, never
        # $SSL_CERT_FILE: a preset value is already the ssl target's "file:" base.
        import _ssl

        return (_ssl.get_default_verify_paths()[1],) + self.openssl_cafile_fallbacks()

    def openssl_cafile_fallbacks(self) -> tuple[str, ...]:
        """CA files to use when OpenSSL's compiled-in default file is missing."""
        return ()

    # -- shells (``cert-session env``) ---------------------------------------

    def default_shell(self, environ: Mapping[str, str]) -> str:
        """The login shell, from ``$SHELL`` (as ``conda init`` does): bash, zsh or fish.

        Any other POSIX shell (sh, dash, ksh) reads bash's ``export`` lines.
        """
        name = os.path.basename(environ.get("SHELL", "")).lower()
        return name if name in ("zsh", "fish") else "bash"

    def openssl_default_paths(self) -> tuple[str, str]:
        """OpenSSL's compiled-in CA file and directory (the environment's overrides not applied)."""
        import _ssl

        paths = _ssl.get_default_verify_paths()
        return paths[1] or "", paths[3] or ""

    def registry_fingerprint(self, key: str) -> str:
        """Last-write time of a ``registry:HIVE\\path`` key; "-" where there is no registry."""
        return "-"


class _MacOS(Policy):
    name = "macos"
    os_store = "macos"
    git_system_config = ""
    # httpx2 (httpcore2's default_ssl_context: truststore on Windows and
    # macOS unless SSL_CERT_FILE is set; huggingface_hub 2.x, the OpenAI SDK
    # 3.x) and uv with UV_SYSTEM_CERTS verify with the keychains.
    os_verifier_targets = ("ssl",)

    def _default_cache_dir(self, environ: Mapping[str, str]) -> str | None:
        """``~/Library/Caches/cert-session``."""
        home = environ.get("HOME", "")
        if home and self.is_absolute(home):
            return os.path.join(home, "Library", "Caches", "cert-session")
        return None

    def _default_cache_problem(self, environ: Mapping[str, str]) -> tuple[str, bool] | None:
        home = environ.get("HOME", "")
        if not home:
            return "HOME is not set, so there is no per-user cache directory", True
        if not os.path.isdir(home):
            # Never create $HOME/Library/Caches under a missing home.
            return "HOME=%s does not exist, so there is no per-user cache directory" % home, True
        return super()._default_cache_problem(environ)

    def openssl_cafile_fallbacks(self) -> tuple[str, ...]:
        # python.org builds look for their own cert.pem, missing until
        # "Install Certificates.command" has run; macOS ships this one.
        return ("/etc/ssl/cert.pem",)


class _Windows(Policy):
    """CPython on Windows: no owners or POSIX modes in ``stat``, text-mode ``os.open``.

    ``os.stat`` reports 0o666/0o777 (0o444 read-only) and uid 0 for every
    file, so ownership and mode checks would refuse everything. Safety comes
    from the location instead: the cache lives under the per-user profile
    (%LOCALAPPDATA%), whose ACLs keep other users out, and any reparse point
    (symlink, junction, mount point) is refused through ``st_file_attributes``.
    """

    name = "windows"
    windows = True
    os_store = "windows"
    git_system_config = ""
    os_verifier_targets = ("ssl",)  # as on macOS, with the certificate stores

    def __init__(self, pathmod: ModuleType | None = None) -> None:
        # The path syntax: os.path (ntpath on Windows); tests pass ntpath on
        # Linux, where the emulation keeps POSIX paths.
        self.pathmod = pathmod

    def euid(self) -> int:
        return -1

    def safe(self, st: os.stat_result, kind: int) -> bool:
        if stat.S_IFMT(st.st_mode) != kind:
            return False
        return not getattr(st, "st_file_attributes", 0) & FILE_ATTRIBUTE_REPARSE_POINT

    def owned_by_us(self, st: os.stat_result) -> bool:
        return True  # per-user locations only; see the class docstring

    def read_flags(self) -> int:
        # O_BINARY: os.open is text mode on Windows; a read would turn CRLF
        # into LF and stop at Ctrl-Z. O_NOINHERIT: no child inherits it.
        return os.O_RDONLY | _flag("O_BINARY") | _flag("O_NOINHERIT")

    def write_flags(self) -> int:
        # Without O_BINARY every "\n" written becomes "\r\n": the recorded
        # size would never match and every start would rebuild.
        return os.O_WRONLY | os.O_CREAT | os.O_EXCL | _flag("O_BINARY") | _flag("O_NOINHERIT")

    def set_mode(self, fd: int, mode: int) -> None:
        return None  # only the read-only bit exists, and bundles must stay writable by us

    def same_mode(self, st: os.stat_result, mode: int) -> bool:
        return True  # modes mean nothing here (0o666 never equals 0o644)

    # A reader holding the destination open (another interpreter reading its
    # state, an antivirus scanner) makes MoveFileEx fail with "access
    # denied" for a moment: retry for up to about half a second.
    _REPLACE_DELAYS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.2)

    def replace(self, src: str, dst: str) -> None:
        for delay in self._REPLACE_DELAYS:
            try:
                os.replace(src, dst)
                return
            except PermissionError:
                time.sleep(delay)
        os.replace(src, dst)

    def is_absolute(self, path: str) -> bool:
        # A drive or UNC prefix is required on every version: "\\certs" is
        # relative to the current drive (Python 3.13 agrees, older versions
        # called it absolute), and two drives must never share a state.
        mod = self.pathmod or os.path
        if not mod.isabs(path):
            return False
        if mod.sep != "\\":  # POSIX path syntax under the tests' emulation
            return True
        return path[1:2] == ":" or path[:2] in ("\\\\", "//")

    def _default_cache_dir(self, environ: Mapping[str, str]) -> str | None:
        """``%LOCALAPPDATA%\\cert-session\\Cache``."""
        base = environ.get("LOCALAPPDATA", "")
        if base and self.is_absolute(base):
            return os.path.join(base, "cert-session", "Cache")
        return None

    def _default_cache_problem(self, environ: Mapping[str, str]) -> tuple[str, bool] | None:
        base = environ.get("LOCALAPPDATA", "")
        if not base or not self.is_absolute(base):
            return "LOCALAPPDATA is not set, so there is no per-user cache directory", True
        if not os.path.isdir(base):
            return "LOCALAPPDATA=%s does not exist, so there is no per-user cache directory" % base, True
        return None

    def fallback_dir(self, environ: Mapping[str, str]) -> str:
        # The per-user temp directory (%LOCALAPPDATA%\Temp), never a shared
        # \tmp on the current drive, and keyed by user name: there is no uid.
        tmp = environ.get("TEMP", "") or environ.get("TMP", "")
        if not self.is_absolute(tmp):
            base = environ.get("LOCALAPPDATA", "") or environ.get("USERPROFILE", "")
            tmp = os.path.join(base, "Temp") if self.is_absolute(base) else os.path.abspath(".")
        user = "".join(c for c in environ.get("USERNAME", "") if c.isalnum() or c in "-_.") or "user"
        return os.path.join(tmp, "cert-session-%s" % user)

    def default_shell(self, environ: Mapping[str, str]) -> str:
        """PowerShell if it started us, else cmd.

        Windows sets ``PSModulePath`` to system directories for every process;
        PowerShell (5 and 7) prepends the user's own module directory
        (``%USERPROFILE%\\Documents\\...PowerShell\\Modules``) for its children.
        So an entry under ``USERPROFILE`` means PowerShell. cmd.exe started
        from PowerShell inherits it: pass ``--shell cmd`` there.
        """
        profile = environ.get("USERPROFILE", "").rstrip("\\/").lower()
        entries = [e.strip().lower() for e in environ.get("PSModulePath", "").split(";")]
        if profile and any(e.startswith(profile + "\\") for e in entries):
            return "powershell"
        return "cmd"

    def registry_fingerprint(self, key: str) -> str:
        # The builtin winreg; a key gets a new last-write time when a
        # certificate is added under it or removed from it.
        if sys.platform != "win32":  # for type checkers: winreg exists on Windows only
            return "-"
        try:
            import winreg
        except ImportError:
            return "-"
        hive_name, _, path = key[len("registry:") :].partition("\\")
        hive = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}.get(hive_name)
        if hive is None:
            return "-"
        try:
            with winreg.OpenKey(hive, path) as handle:
                return "%d" % winreg.QueryInfoKey(handle)[2]
        except OSError:
            return "-"


POSIX: Policy = Policy()
MACOS: Policy = _MacOS()
WINDOWS: Policy = _Windows()


def for_platform(platform: str) -> Policy:
    """The policy for a ``sys.platform`` value."""
    if platform == "win32":
        return WINDOWS
    if platform == "darwin":
        return MACOS
    return POSIX


CURRENT = for_platform(sys.platform)


def _flag(name: str) -> int:
    value: int = getattr(os, name, 0)
    return value


def _nearest_existing(path: str) -> str:
    while True:
        if os.path.lexists(path):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return path
        path = parent
