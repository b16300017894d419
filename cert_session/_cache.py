"""Where bundles live, who may own them, and how they are written.

Every file is written to an exclusive temp file in the same directory and
moved into place (``_platform.CURRENT.replace``), so concurrent interpreters
never see a partial file and need no lock. Directories are created ``0700``
where modes exist; a directory or file that ``_platform.CURRENT.safe``
refuses (not ours, writable by others, a symlink or reparse point) is never
used.
"""

from __future__ import annotations

import os
import stat
import sys
import time

from . import _layout, _log, _state
from ._platform import CURRENT

__all__ = [
    "UnsafeDirectory",
    "ensure_private_dir",
    "write_atomic",
    "write_if_changed",
    "write_bundle",
    "prune",
    "primary_problem",
    "writable_dirs",
    "candidate_dirs",
    "private_temp_dir",
    "remove_tree",
    "load_fresh_state",
    "fresh_state",
    "fast_dir",
    "Environment",
    "mark_environment",
    "environments",
    "prune_environments",
]

_TMP_PREFIX = ".tmp-"
_KEEP_OLD_BUNDLES_SECONDS = 7 * 86400  # running processes may still use them
_KEEP_TEMP_SECONDS = 3600

_DEAD_PREFIX = ".dead-"  # an environment's directory renamed away, about to be removed

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import NamedTuple as Record
else:
    from ._record import Record


class UnsafeDirectory(OSError):
    pass


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (0700) if needed and check that we may trust it."""
    try:
        _make_private_dirs(path)
    except FileExistsError:
        raise UnsafeDirectory("%s exists and is not a directory" % path) from None
    st = os.lstat(path)
    if not CURRENT.safe(st, stat.S_IFDIR):
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
    """``write_atomic``, unless a safe identical file is already there.

    Keeping it keeps its stat identity, which other states of the same
    directory recorded: rewriting it would make each of them rebuild. And on
    Windows a file another interpreter holds open cannot be replaced at all.
    """
    final = os.path.join(directory, name)
    if _same_content(final, data, mode) is not None:
        return final
    return write_atomic(directory, name, data, mode)


def write_bundle(directory: str, name: str, data: bytes, mode: int = 0o644) -> tuple[str, str]:
    """``write_if_changed``, and the stat fingerprint of the file that holds ``data``.

    A bundle's name says which bundle it is, not what it holds
    (``_rebuild.bundle_name``): another process may replace it with other
    content between our write and a stat by name. So the fingerprint is
    that of the very file we wrote or found identical (same inode), and
    ``"-"`` if it is no longer at ``path``: the state then records a
    fingerprint the file does not have, and the next start rebuilds.
    """
    final = os.path.join(directory, name)
    identity = _same_content(final, data, mode)
    if identity is None:
        _, identity = _write_atomic(directory, name, data, mode)
    try:
        st = os.lstat(final)
    except OSError:
        return final, "-"
    if (st.st_ino, st.st_dev) != identity and _same_content(final, data, mode) != (st.st_ino, st.st_dev):
        return final, "-"
    return final, _layout.stat_fingerprint(st)


def _same_content(path: str, data: bytes, mode: int) -> tuple[int, int] | None:
    """(inode, device) of ``path`` if it is a safe file holding exactly ``data``, else None."""
    try:
        fd = os.open(path, CURRENT.read_flags())
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not (CURRENT.safe(st, stat.S_IFREG) and st.st_size == len(data) and CURRENT.same_mode(st, mode)):
            return None
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return (st.st_ino, st.st_dev) if b"".join(chunks) == data else None
    except OSError:
        return None
    finally:
        os.close(fd)


def write_atomic(directory: str, name: str, data: bytes, mode: int = 0o644) -> str:
    """Write ``directory/name`` all at once; return its path."""
    return _write_atomic(directory, name, data, mode)[0]


def _write_atomic(directory: str, name: str, data: bytes, mode: int) -> tuple[str, tuple[int, int]]:
    """``write_atomic``, and the (inode, device) of the file written (or kept)."""
    final = os.path.join(directory, name)
    tmp = os.path.join(directory, "%s%d-%s" % (_TMP_PREFIX, os.getpid(), os.urandom(6).hex()))
    fd = os.open(tmp, CURRENT.write_flags(), mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            CURRENT.set_mode(fd, mode)
            st = os.fstat(fd)
            identity = (st.st_ino, st.st_dev)
        finally:
            os.close(fd)
        try:
            CURRENT.replace(tmp, final)
        except PermissionError:
            # Windows: a reader still holds the destination (for longer than
            # the replace policy waits). One that already holds exactly
            # these bytes is just as good.
            kept = _same_content(final, data, mode) if _layout.is_ours(name) else None
            if kept is None:
                raise
            identity = kept
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final, identity


def prune(directory: str) -> None:
    """Remove old bundles no state refers to, stale fast states, and temp files left by crashes.

    A bundle's name stays the same through rebuilds (``_rebuild.bundle_name``),
    so every state keeps the bundles it ever exported: a shell that exported
    one a month ago still finds it, with current content. A bundle no state
    names (written by an older version, whose names said the content) goes
    a week after it was last written.
    """
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    keep: set[str] = set()
    for name in names:
        if name.startswith("state-"):
            state = _state.read_state(os.path.join(directory, name))
            if state is not None:
                keep.update(os.path.basename(path) for _, path, _ in state[1])
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith("fast-"):
            # Useful only while every bundle it names is current.
            data = _state.read_file(path)
            lines = _state.parse_fast(data) if data is not None else None
            bundles = [(f[1], f[2]) for f in lines or [] if f[0] == "B" and len(f) == 3]
            if lines is None or any(
                (os.path.dirname(b) == directory and os.path.basename(b) not in keep) or _lstat_fingerprint(b) != fp
                for b, fp in bundles
            ):
                _unlink(path)
            continue
        if name.startswith(_TMP_PREFIX):
            limit = _KEEP_TEMP_SECONDS
        elif _layout.is_ours(name) and name not in keep:
            limit = _KEEP_OLD_BUNDLES_SECONDS
        else:
            continue
        try:
            if now - os.lstat(path).st_mtime > limit:
                os.unlink(path)
        except OSError:
            pass


def _lstat_fingerprint(path: str) -> str:
    try:
        return _layout.stat_fingerprint(os.lstat(path))
    except OSError:
        return "-"


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def primary_problem() -> tuple[str, bool] | None:
    """Why the per-user cache directory is not used: (sentence, worth a warning), or None."""
    return CURRENT.cache_problem(os.environ)


def writable_dirs() -> list[tuple[str, bool]]:
    """Directories to write to, best first, with whether each is a fallback."""
    primary = fast_dir()
    dirs = [(primary, False)] if primary is not None else []
    dirs.append((os.path.join(_layout.fallback_cache_dir(), _layout.env_key()), True))
    return dirs


def candidate_dirs() -> Iterator[str]:
    """State directories to read, best first (lazily: the fallback costs a stat)."""
    yield _layout.SYSTEM_CACHE_DIR
    key = _layout.env_key()
    primary = _layout.user_cache_dir()
    if primary:
        yield os.path.join(primary, key)
    yield os.path.join(_layout.fallback_cache_dir(), key)


def fast_dir() -> str | None:
    """The per-user cache directory of this environment, if it may be used.

    The first place to write to, and where the start-up fast path looks first.
    """
    primary = _layout.user_cache_dir()
    if not primary or primary_problem() is not None:
        return None
    return os.path.join(primary, _layout.env_key())


def safe_dir(path: str) -> bool:
    try:
        return CURRENT.safe(os.lstat(path), stat.S_IFDIR)
    except OSError:
        return False


def private_temp_dir() -> str:
    """Last resort: a fresh directory nobody else can have prepared."""
    import tempfile

    return tempfile.mkdtemp(prefix="cert-session-")


def remove_tree(path: str) -> None:
    """Remove a directory we made, with whatever we wrote in it; never raises."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def load_fresh_state(config: str) -> tuple[dict[str, str] | None, str]:
    """(exports, "") of the first fresh state for ``config``, else (None, why)."""
    exports, why, _ = fresh_state(config)
    return exports, why


def fresh_state(config: str) -> tuple[dict[str, str] | None, str, tuple[str, _state.State] | None]:
    """``load_fresh_state``, plus (directory, state) of the fresh state it read.

    The general path writes the fast state from that same reading: reading the
    file a second time cost an open, fstat, read and close per start (issue #18).
    """
    name = _state.state_name(config)
    why = "no state yet"
    primary = fast_dir()
    for directory in candidate_dirs():
        try:
            st = os.lstat(directory)
        except OSError:
            continue
        if not CURRENT.safe(st, stat.S_IFDIR):
            _log.debug("ignoring %s: not ours, a symlink, or writable by others" % directory)
            continue
        state = _state.read_state(os.path.join(directory, name))
        if state is None or state[0] != config:
            continue
        exports, changed = _state.check_state(directory, state)
        if exports is not None:
            _log.debug("steady state from %s" % directory)
            return exports, "", (directory, state)
        why = changed
        if directory == primary:
            # Rebuild here rather than use another directory's bundles: the
            # paths shells exported from here must get the new content
            # (issue #23), e.g. after a Windows reader held a bundle for a
            # moment and the last rebuild had to use the fallback.
            break
    return None, why, None


# -- one directory per environment: mark, list, remove the dead ones -----------


class Environment(Record):
    directory: str
    prefix: str | None  # None: no marker of ours, so never removed (made by an older version, or not ours)
    size: int  # bytes of the files in it
    exists: bool | None  # whether the environment's prefix still exists; None: unknown (no marker)
    current: bool  # the environment of this process


def mark_environment(directory: str) -> None:
    """Record in ``directory`` which environment it belongs to: what makes it removable later."""
    write_if_changed(directory, _state.ENV_MARKER, _state.env_marker_text(sys.prefix), 0o600)


def _marked_prefix(directory: str) -> str | None:
    """The prefix recorded in ``directory``'s safe marker, if that prefix names this very directory.

    A marker copied into another directory does not match its name, so it
    cannot make that directory removable.
    """
    data = _state.read_file(os.path.join(directory, _state.ENV_MARKER))
    prefix = _state.parse_env_marker(data) if data is not None else None
    name = os.path.basename(directory)
    if name.startswith(_DEAD_PREFIX):
        name = name[len(_DEAD_PREFIX) :].rpartition(".")[0]
    if prefix is None or _layout.env_key(prefix) != name:
        return None
    return prefix


def _size(directory: str) -> int:
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    except OSError:
        pass
    return total


def _parents() -> list[str]:
    """The directories holding one sub-directory per environment: the cache, then the fallback."""
    primary = fast_dir()
    parents = [os.path.dirname(primary)] if primary is not None else []
    parents.append(_layout.fallback_cache_dir())
    return [p for p in dict.fromkeys(parents) if safe_dir(p)]


def environments() -> list[Environment]:
    """Every environment's cache directory this user has, safe ones only (``cert-session cache``)."""
    here = os.path.normcase(os.path.abspath(sys.prefix))
    found = []
    for parent in _parents():
        try:
            names = sorted(os.listdir(parent))
        except OSError:
            continue
        for name in names:
            path = os.path.join(parent, name)
            if name.startswith(".") or not safe_dir(path):
                continue
            prefix = _marked_prefix(path)
            exists = None if prefix is None else os.path.isdir(prefix)
            current = prefix is not None and os.path.normcase(os.path.abspath(prefix)) == here
            found.append(Environment(path, prefix, _size(path), exists, current))
    return found


def prune_environments() -> list[Environment]:
    """Remove the cache directories of environments that no longer exist; return them. Never raises.

    Only a safe directory with our marker is touched. Concurrent starts are
    safe: the directory is first renamed away (one process wins, the others
    skip it), then its environment is looked for again, so a venv re-created
    at the same path in between gets its directory back instead of losing it.
    """
    removed: list[Environment] = []
    try:
        for env in environments():
            if env.prefix is None or env.exists is not False or env.current:
                continue
            if _remove_dead(env.directory, env.prefix):
                removed.append(env)
        for parent in _parents():
            for name in os.listdir(parent):
                path = os.path.join(parent, name)
                if name.startswith(_DEAD_PREFIX) and safe_dir(path):
                    # Left by a process that died while removing it.
                    prefix = _marked_prefix(path)
                    if prefix is not None and not os.path.isdir(prefix):
                        remove_tree(path)
    except (OSError, ValueError) as exc:
        _log.debug("cache of deleted environments not pruned (%s)" % exc)
    return removed


def _remove_dead(directory: str, prefix: str) -> bool:
    parent, name = os.path.split(directory)
    tomb = os.path.join(parent, "%s%s.%s" % (_DEAD_PREFIX, name, os.urandom(6).hex()))
    try:
        os.rename(directory, tomb)
    except OSError:
        return False  # another process was first, or it is in use (Windows)
    if os.path.isdir(prefix):
        try:
            os.rename(tomb, directory)
        except OSError:
            pass  # the environment has already made a new one; this copy goes with the next prune
        return False
    _log.debug("removing %s: its environment %s no longer exists" % (directory, prefix))
    remove_tree(tomb)
    return True
