"""Where bundles live, who may own them, and how they are written.

Every file is written to an ``O_EXCL | O_NOFOLLOW`` temp file in the same
directory and moved into place with ``os.replace``, so concurrent
interpreters never see a partial file and need no lock. Directories are
created ``0700``; a directory or file that is not ours, or that others can
write, is never used (``cert_session_hook.trusted``, shared with the start-up fast path).
"""

from __future__ import annotations

import os
import time

from cert_session import _startup as _hook

__all__ = ["ensure_private_dir", "write_atomic", "write_if_changed", "prune", "writable_dirs"]

_TMP_PREFIX = ".tmp-"
_KEEP_OLD_BUNDLES_SECONDS = 7 * 86400  # running processes may still use them
_KEEP_TEMP_SECONDS = 3600


class UnsafeDirectory(OSError):
    pass


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (0700) if needed and check that we may trust it."""
    try:
        _make_private_dirs(path)
    except FileExistsError:
        raise UnsafeDirectory("%s exists and is not a directory" % path) from None
    st = os.lstat(path)
    if not _hook.trusted(st, _hook._S_IFDIR):
        raise UnsafeDirectory(
            "%s is a symlink, is not owned by this user, or is writable by others" % path
        )
    return path


def _make_private_dirs(path: str) -> None:
    # Not os.makedirs: it creates missing parents with the umask's mode
    # (usually 0755), which would let every local user list our cache.
    parent = os.path.dirname(path)
    if parent and parent != path and not os.path.isdir(parent):
        _make_private_dirs(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def write_if_changed(directory: str, name: str, data: bytes, mode: int = 0o644) -> str:
    """``write_atomic``, unless a trusted identical file is already there.

    Keeping it keeps its stat identity, which other states of the same
    directory recorded: rewriting it would make each of them rebuild.
    """
    final = os.path.join(directory, name)
    try:
        # O_NONBLOCK: a FIFO at this path must not hang the rebuild.
        fd = os.open(final, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return write_atomic(directory, name, data, mode)
    try:
        st = os.fstat(fd)
        same = _hook.trusted(st, _hook._S_IFREG) and st.st_size == len(data) and st.st_mode & 0o777 == mode
        if same:
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            same = b"".join(chunks) == data
    finally:
        os.close(fd)
    return final if same else write_atomic(directory, name, data, mode)


def write_atomic(directory: str, name: str, data: bytes, mode: int = 0o644) -> str:
    """Write ``directory/name`` all at once; return its path."""
    final = os.path.join(directory, name)
    tmp = os.path.join(directory, "%s%d-%s" % (_TMP_PREFIX, os.getpid(), os.urandom(6).hex()))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, mode)  # umask must not widen or narrow it
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final


def prune(directory: str) -> None:
    """Remove old bundles no state refers to, and temp files left by crashes.

    A bundle outlives its state by a week: processes started before a
    rebuild keep reading the old file on every new connection.
    """
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    keep: set[str] = set()
    for name in names:
        if name.startswith("state-"):
            state = _hook.read_state(os.path.join(directory, name))
            if state is not None:
                keep.update(os.path.basename(path) for _, path, _ in state[1])
    for name in names:
        if name.startswith(_TMP_PREFIX):
            limit = _KEEP_TEMP_SECONDS
        elif _hook.is_ours(name) and name not in keep:
            limit = _KEEP_OLD_BUNDLES_SECONDS
        else:
            continue
        path = os.path.join(directory, name)
        try:
            if now - os.lstat(path).st_mtime > limit:
                os.unlink(path)
        except OSError:
            pass


def primary_problem() -> str | None:
    """Why there is no per-user cache directory to use, or None.

    An explicit CERT_SESSION_CACHE_DIR (or XDG_CACHE_HOME) is created if
    missing; a HOME that does not exist is not: creating someone's home
    directory is not a cache's business.
    """
    environ = os.environ
    configured = environ.get("CERT_SESSION_CACHE_DIR", "")
    if configured and os.path.isabs(configured):
        return None
    if _hook.user_cache_dir() is None:
        return "HOME is not set, so there is no per-user cache directory"
    xdg = environ.get("XDG_CACHE_HOME", "")
    home = environ.get("HOME", "")
    if not (xdg and os.path.isabs(xdg)) and home and not os.path.isdir(home):
        return "HOME=%s does not exist, so there is no per-user cache directory" % home
    return None


def writable_dirs() -> list[tuple[str, bool]]:
    """Directories to write to, best first, with whether each is a fallback."""
    key = _hook.env_key()
    dirs = []
    primary = _hook.user_cache_dir()
    if primary and primary_problem() is None:
        dirs.append((os.path.join(primary, key), False))
    dirs.append((os.path.join(_hook.fallback_cache_dir(), key), True))
    return dirs


def private_temp_dir() -> str:
    """Last resort: a fresh directory nobody else can have prepared."""
    import tempfile

    return tempfile.mkdtemp(prefix="cert-session-")


def remove_tree(path: str) -> None:
    """Remove a directory we made, with whatever we wrote in it; never raises."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
