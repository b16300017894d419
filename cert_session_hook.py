# cert-session's start-up fast path; it runs when imported. Don't import costly modules here.
#
# cert_session_hook.pth is the single line `import cert_session_hook` (and
# the PEP 829 cert_session_hook.start names `start`). Every Python process of
# the environment runs this, so it uses only os and sys (loaded before site
# runs), creates no class, and in steady state reads one small file, the
# fast state that the general path wrote for exactly this environment, stats
# the inputs listed there and repeats what it did. Anything else goes to
# cert_session._startup. See docs/design.md.
#
# Because it may import nothing, this file repeats a few lines of the layers
# below it: _platform.Policy.safe/read_flags/is_absolute/user_cache_dir,
# _layout.digest64/env_key/stat_fingerprint and _state.FAST_KEY_VARS.
# tests/test_startup_fast_path.py and tests/test_platform.py pin each copy to
# its original.
#
# Comments, not docstrings, and type comments, not annotations, in this
# file: every object in it is unmarshalled at every start, and freed at every
# exit. What that costs is counted (tests/test_budgets.py, issue #22).

import os
import sys

TYPE_CHECKING = False  # typing is not imported at start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any  # noqa: F401 - used in type comments

# site imports this from its site-packages entry, already absolute and
# normalized (its makepath): abspath, a cold normpath, only for another origin.
_HERE = __file__.rpartition(os.sep)[0] if os.path.isabs(__file__) else os.path.dirname(os.path.abspath(__file__))
_WIN = sys.platform == "win32"
_SEP = os.sep
# _platform.Policy.safe: POSIX judges owner and mode bits; Windows reports
# neither (0o666/0o777, uid 0), so there only reparse points are refused and
# the per-user location does the rest.
_EUID = os.geteuid() if hasattr(os, "geteuid") else -1
_OTHERS_MAY_WRITE = 0 if _WIN else 0o022
_REPARSE_POINT = 0x400 if _WIN else 0
# _platform.Policy.read_flags: each flag where it exists. O_BINARY: os.open is
# text mode on Windows. O_NOFOLLOW, O_NONBLOCK: no planted symlink or FIFO.
# (A dict look-up: getattr's default costs an AttributeError per missing flag.)
_OS = vars(os)
_READ_FLAGS = (
    os.O_RDONLY
    | _OS.get("O_BINARY", 0)
    | _OS.get("O_NOINHERIT", 0)
    | _OS.get("O_NOFOLLOW", 0)
    | _OS.get("O_NONBLOCK", 0)
    | _OS.get("O_CLOEXEC", 0)
)
del _OS
# Read in one pass: the switches and cache location, then the key, the
# variables that change what the general path does (_state.FAST_KEY_VARS).
# One constant, split at start: as 26 string constants, each name cost its
# interning at every start and its removal at every exit (issue #22).
_NAMES_TEXT = (
    b"CERT_SESSION_DISABLE CERT_SESSION_DEBUG CERT_SESSION_CACHE_DIR HOME XDG_CACHE_HOME LOCALAPPDATA"
    b" CERT_SESSION_TARGETS CERT_SESSION_CERTS REQUESTS_CA_BUNDLE CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE"
    b" CURL_CA_BUNDLE CERT_SESSION_ORIG_CURL_CA_BUNDLE SSL_CERT_FILE CERT_SESSION_ORIG_SSL_CERT_FILE"
    b" AWS_CA_BUNDLE CERT_SESSION_ORIG_AWS_CA_BUNDLE GIT_SSL_CAINFO CERT_SESSION_ORIG_GIT_SSL_CAINFO"
    b" GIT_CONFIG_SYSTEM CERT_SESSION_ORIG_GIT_CONFIG_SYSTEM"
    b" NODE_EXTRA_CA_CERTS CERT_SESSION_ORIG_NODE_EXTRA_CA_CERTS CERT_SESSION_EXPORT CERT_SESSION_OS_STORE"
    b" SSL_CERT_DIR GIT_CONFIG_NOSYSTEM"
)
_BYTE_NAMES = tuple(_NAMES_TEXT.split())  # os.environ's keys on POSIX
_NO_VALUES = (b"",) * len(_BYTE_NAMES)  # the default of each look-up
_GUARDED = ("requests.sessions", "pip._vendor.requests.sessions", "niquests.sessions")

_started = False
# The requests verify guard (cert_session._verify_guard): this module is
# the import finder, so a steady start creates no object for it.
guarding = False
cert_session_guard = True
pending = set()  # type: set[str]
bundle = None  # type: str | None  # the merged bundle the guard gives requests



def start():
    # type: () -> None
    # Run once per process; never raises, at most one line on stderr.
    global _started
    if _started:
        return
    _started = True
    try:
        environ = os.environ
        values = _values(environ)
        if values[0] not in ("", "0"):  # CERT_SESSION_DISABLE
            return
        try:
            if _steady(environ, values):
                return
        except Exception:  # noqa: BLE001, S110 - the general path decides and reports
            pass
        own("_startup").start()
    except BaseException as exc:  # noqa: BLE001 - start-up must never fail because of us
        _say("start-up hook failed (%s: %s)" % (type(exc).__name__, exc))


# Our package, from beside this file, under a name of its own (issue #17).
# Python would find `cert_session` through sys.path, where a user's
# cert_session.py, a cert_session/ folder (an old checkout, say) or a
# PYTHONPATH entry comes first: that file would run in place of ours. So the
# package is loaded from beside this file under _PACKAGE, which no sys.path
# entry can provide, and its modules import one another relatively. The name
# `cert_session` stays the user's: `import cert_session` resolves exactly as
# it would without the hook. (Every line here is unmarshalled at every start:
# this function and _say cost about 40k of a steady start's 39M instructions.)
_PACKAGE = "_cert_session"
_said = False


def own(name):
    # type: (str) -> Any
    # The module cert_session.<name> of the package installed beside this file.
    where = _HERE + _SEP + "cert_session"
    package = sys.modules.get(_PACKAGE)
    if package is None:
        # importlib.util's own two functions, from the bootstrap modules:
        # importlib.util would import types, functools, contextlib and warnings.
        from _frozen_importlib import module_from_spec
        from _frozen_importlib_external import spec_from_file_location

        spec = spec_from_file_location(_PACKAGE, where + _SEP + "__init__.py", submodule_search_locations=[where])
        # The package only holds its modules here: its __init__.py (the public
        # API, which nothing below uses) is not run, 0.17 million instructions
        # inside `import requests` (issue #18). Two threads may get here at
        # once (requests and pip's copy imported together): one object wins.
        package = sys.modules.setdefault(_PACKAGE, module_from_spec(spec))  # type: ignore[arg-type]
    if package.__path__ != [where]:
        raise ImportError("%s is not the package in %s" % (_PACKAGE, where))
    __import__(_PACKAGE + "." + name)  # through the package's __path__ only, never sys.path
    return sys.modules[_PACKAGE + "." + name]


def _say(what):
    # type: (str) -> None
    # The one line of trouble a process gets from this module; never raises.
    global _said
    if _said:
        return
    _said = True
    try:
        sys.stderr.write("cert-session: %s; CERT_SESSION_DISABLE=1 turns the hook off\n" % what)
    except BaseException:  # noqa: BLE001, S110 - no stderr (pythonw.exe)
        pass


def _values(environ):
    # type: (os._Environ[str]) -> list[str]
    # [environ.get(name, "") for name in _NAMES_TEXT's names], without the
    # KeyError that Mapping.get raises and catches for every unset name (most
    # are unset): os._Environ's own dict, keyed by bytes on POSIX, by
    # upper-case str on Windows.
    data = getattr(environ, "_data", None)
    if data is None:
        return [environ.get(name.decode(), "") for name in _BYTE_NAMES]
    if os.supports_bytes_environ:
        # All in C, one decode: no value holds a NUL, and the file system
        # encoding's decoder maps a NUL to itself, so the split gives each value.
        joined = b"\0".join(map(data.get, _BYTE_NAMES, _NO_VALUES))
        return environ.decodevalue(joined).split("\0")  # type: ignore[arg-type]
    decode = environ.decodevalue
    keys = map(environ.encodekey, _NAMES_TEXT.decode("ascii").split())
    return [decode(value) if value is not None else "" for value in map(data.get, keys)]


def _steady(environ, values=None):
    # type: (os._Environ[str], list[str] | None) -> bool
    # Repeat the fast state recorded for this exact environment, if nothing changed.
    if values is None:
        values = _values(environ)
    if values[1] not in ("", "0"):  # CERT_SESSION_DEBUG
        return False
    if _GUARDED[0] in sys.modules or _GUARDED[1] in sys.modules or _GUARDED[2] in sys.modules:  # an earlier .pth
        return False
    key = "\x1f".join([_HERE] + values[6:])
    name = "fast-" + _digest64(key)
    cache = _cache_dir(*values[2:6])
    if cache:
        prefix = sys.prefix
        env = os.path.basename(prefix.rstrip("/\\"))[:24]
        if not env.replace("-", "").replace("_", "").replace(".", "").isalnum():
            env = "env"
        env += "-" + _digest64(prefix)[:12]
        if _repeat(environ, cache + _SEP + env, name, key):
            return True
    # Read-only images: `cert-session rebuild --system` prebuilt it.
    return _repeat(environ, _SEP.join((_HERE, "cert_session", "_prebuilt")), name, key)


def _digest64(text):
    # type: (str) -> str
    # _layout.digest64: a stable 64-bit file name, not a security measure.
    data = text.encode("utf-8", "surrogateescape")
    return "%016x" % ((int.from_bytes(data, "little") * 31 + len(data)) % 0xFFFFFFFFFFFFFFC5)


def _repeat(environ, directory, name, key):
    # type: (os._Environ[str], str, str, str) -> bool
    global guarding, bundle
    try:
        if not _safe(os.lstat(directory), 0o040000):
            return False
        fd = os.open(directory + _SEP + name, _READ_FLAGS)
    except OSError:
        return False
    try:
        if not _safe(os.fstat(fd), 0o100000):
            return False
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines[0] != "cert-session-fast 1" or lines[1] != "K\t" + key or lines[-2:] != ["Z", ""]:
        return False
    sets = []
    unsets = []
    guard = None
    stat = os.stat  # one look-up, not one per input
    for line in lines[2:-2]:
        field = line.split("\t")
        kind = field[0]
        # Fingerprints are _layout.stat_fingerprint: size:mtime_ns:ctime_ns:inode:device,
        # with st[6], st[1], st[2] for st_size, st_ino, st_dev (an index costs less
        # than a name here).
        if kind == "I":  # an input: certifi's bundle, a company certificate, ...
            path = field[1]
            if _WIN and path[:9] == "registry:":  # a Windows certificate store
                seen = _registry(path)
            else:
                try:
                    st = stat(path)
                except OSError:
                    seen = "-"
                else:
                    seen = "%d:%d:%d:%d:%d" % (st[6], st.st_mtime_ns, st.st_ctime_ns, st[1], st[2])
            if seen != field[2]:
                return False
        elif kind == "B":  # a bundle we wrote: still ours, and not rewritten
            st = os.lstat(field[1])
            if not _safe(st, 0o100000) or field[2] != "%d:%d:%d:%d:%d" % (
                st[6], st.st_mtime_ns, st.st_ctime_ns, st[1], st[2]
            ):
                return False
        elif kind == "P":
            if not _safe(os.lstat(field[1]), 0o040000):
                return False
        elif kind == "S":
            sets.append((field[1], field[2]))
        elif kind == "U":
            unsets.append(field[1])
        elif kind == "G":
            guard = field[1]
        else:
            return False
    # os.environ.__setitem__ without its three Python calls (what it does:
    # putenv, then its own dict, keyed by its encodekey).
    table = getattr(environ, "_data", None)
    for var, value in sets:
        if table is None:
            environ[var] = value
        else:
            encoded, raw = environ.encodekey(var), environ.encodevalue(value)
            os.putenv(encoded, raw)
            table[encoded] = raw
    for var in unsets:
        environ.pop(var, None)
    if guard:
        bundle = guard
        pending.update(_GUARDED)
        guarding = True
        # A new list rather than insert(): on Python 3.11 the list that was
        # sys.meta_path at start-up stays referenced to the very end of the
        # exit (the copy of sys's dict kept for reinitialisation), and this
        # module and every module it refers to with it, past the exit's
        # garbage collection: their dictionaries were then cleared one entry
        # at a time, 0.44 million instructions (issue #22).
        sys.meta_path = [sys.modules[__name__]] + sys.meta_path
    return True


def _safe(st, kind):
    # type: (os.stat_result, int) -> bool
    return (
        st.st_mode & 0o170000 == kind
        and not st.st_mode & _OTHERS_MAY_WRITE
        and (_EUID == -1 or st.st_uid == _EUID or st.st_uid == 0)
        and not (_REPARSE_POINT and getattr(st, "st_file_attributes", 0) & _REPARSE_POINT)
    )


def _absolute(path):
    # type: (str) -> bool
    # On Windows a drive or UNC prefix is required ("\\certs" is relative):
    # ntpath.isabs, and a drive or UNC prefix; posixpath.isabs is the first.
    if _SEP == "/":
        return path[:1] == "/"
    return path[1:3] in (":\\", ":/") or path[:2] in ("\\\\", "//")


def _cache_dir(configured, home, xdg, local):
    # type: (str, str, str, str) -> str | None
    # _platform.Policy.user_cache_dir, from CERT_SESSION_CACHE_DIR, HOME, XDG_CACHE_HOME and LOCALAPPDATA.
    if configured and _absolute(configured):
        return configured
    if _WIN:
        return os.path.join(local, "cert-session", "Cache") if local and _absolute(local) else None
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "cert-session") if home and _absolute(home) else None
    if xdg and _absolute(xdg):
        return os.path.join(xdg, "cert-session")
    return os.path.join(home, ".cache", "cert-session") if home and _absolute(home) else None


def _registry(key):
    # type: (str) -> str
    # _platform.Policy.registry_fingerprint: a store key's last-write time
    # (CERT_SESSION_OS_STORE=1 on Windows; winreg is builtin there). The
    # key's handle is closed as it is freed, right after the query.
    if sys.platform != "win32":
        return "-"
    try:
        import winreg

        hive = winreg.HKEY_LOCAL_MACHINE if key[9:13] == "HKLM" else winreg.HKEY_CURRENT_USER
        return "%d" % winreg.QueryInfoKey(winreg.OpenKey(hive, key[14:]))[2]
    except (ImportError, OSError):
        return "-"


# The import finder protocol of cert_session._verify_guard.
def find_spec(name, path, target=None):
    # type: (str, object, object) -> object
    if name not in pending:
        return None
    try:
        return own("_verify_guard").find_spec(sys.modules[__name__], name, path, target)
    except Exception as exc:  # noqa: BLE001 - an import never fails because of us
        # Go on as if we were not here: requests imports as usual, unguarded.
        pending.discard(name)
        _say("cannot guard %s (%s: %s)" % (name, type(exc).__name__, exc))
        return None


start()
