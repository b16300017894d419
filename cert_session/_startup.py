"""The general start-up path: every target, every configuration, rebuilds.

``cert_session_hook`` (the module the .pth imports) handles a steady start
itself, from the fast state this module writes, and hands over here for
everything else: no fast state for this environment yet, a changed input,
debugging. The explicit API (``cert_session.activate()``, ``cert-session
rebuild``) comes here too. It imports ``cert_session._rebuild`` only when it
has to rebuild. See docs/design.md.
"""

from __future__ import annotations

import os
import sys

from . import _cache, _config, _layout, _log, _state

__all__ = ["start", "activate", "apply", "plan", "verify_guard", "write_fast_state", "GuardFinder"]

TYPE_CHECKING = False  # typing is not imported at start-up; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

_done: tuple[tuple[str | None, ...], dict[str, str]] | None = None
last_reason = "no state yet"  # why the last rebuild happened, for tests and debugging


def start() -> None:
    """The fast path's hand-off. Never raises: at most one line on stderr."""
    try:
        if os.environ.get("CERT_SESSION_DISABLE", "") not in ("", "0"):
            _log.debug("CERT_SESSION_DISABLE is set: doing nothing")
            return
        if _is_cli():
            _log.hold()  # the command prints what it finds; _cli.main releases the rest
        activate()
    except Exception as exc:  # noqa: BLE001 - start-up must never fail because of us
        _log.warn(
            "start-up hook failed (%s: %s); continuing without company certificates. "
            "CERT_SESSION_DEBUG=1 explains, CERT_SESSION_DISABLE=1 turns the hook off"
            % (type(exc).__name__, exc)
        )


def _is_cli() -> bool:
    """Whether this process is the ``cert-session`` command (site sets sys.argv before .pth files run)."""
    argv = getattr(sys, "argv", None) or [""]
    name = os.path.basename(argv[0]).lower()
    return name.startswith("cert-session") or list(getattr(sys, "orig_argv", ())[1:3]) == ["-m", "cert_session"]


def activate(force: bool = False) -> dict[str, str]:
    """Export the merged bundles; return {VAR: path} of what was exported.

    Raises on unexpected errors; ``start()`` is the never-raising wrapper.
    """
    global _done, last_reason
    environ = os.environ
    if _done is not None and not force:
        # Called again with nothing changed since (status, where()).
        if tuple(environ.get(v) for v in _config.WATCHED_ENV) == _done[0]:
            return _done[1]
    key = _state.fast_key(environ)  # the raw environment, before we change it
    config, bases, certs_env, origs = _config.current_config()
    exports: dict[str, str] | None = None
    found = None
    if force:
        last_reason = "asked for (cert-session rebuild)"
    else:
        exports, last_reason, found = _cache.fresh_state(config)
    if exports is None:
        _log.debug("rebuilding: %s" % last_reason)
        from . import _rebuild

        exports = _rebuild.rebuild(config, bases, certs_env, last_reason)
    sets, unsets = apply(exports, origs)
    directory = _cache.fast_dir()
    if directory is not None and _config.cwd_independent():
        try:
            _write_fast(directory, config, key, sets, unsets, exports, found)
        except (OSError, ValueError) as exc:
            _log.debug("no fast state for this environment (%s)" % exc)
    _done = (tuple(environ.get(v) for v in _config.WATCHED_ENV), exports)
    return exports


def apply(exports: dict[str, str], origs: dict[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Set exported variables; undo inherited ones we no longer export. Returns (sets, unsets)."""
    environ = os.environ
    sets, unsets = plan(exports, origs)
    for var, value in sets:
        environ[var] = value
    for var in unsets:
        environ.pop(var, None)
    verify_guard(exports.get(_config.TARGETS["requests"]))
    return sets, unsets


def plan(
    exports: dict[str, str],
    origs: dict[str, str],
    export: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """What ``apply`` sets and removes in ``environ`` (default: ours); with CERT_SESSION_EXPORT=0, it sets nothing."""
    if environ is None:
        environ = os.environ
    if export is None:
        export = _config.export_enabled()
    sets: list[tuple[str, str]] = []
    unsets: list[str] = []
    # git through its system config: GIT_SSL_CAINFO would beat the user's own settings (issue #23).
    skip = _config.TARGETS["git"] if _config.GIT_CONFIG in exports else None
    for var, orig in origs.items():
        if var in exports and export and var != skip:
            _log.debug("%s=%s (base %s)" % (var, exports[var], orig or "default"))
            sets.append((var, exports[var]))
            # The original, for a child to re-derive from; an unset original
            # is recorded by its absence (_config.original_value reads both
            # the same), because requests scans the whole environment for
            # proxies at every request: each variable costs it ~25k
            # instructions per request (issue #18).
            if orig:
                sets.append((_config.ORIG_PREFIX + var, orig))
            elif _config.ORIG_PREFIX + var in environ:
                unsets.append(_config.ORIG_PREFIX + var)
        elif _layout.is_ours(environ.get(var, "")):
            # Inherited from a parent that exported it; we no longer do.
            if orig:
                sets.append((var, orig))
            else:
                unsets.append(var)
            unsets.append(_config.ORIG_PREFIX + var)
    return sets, unsets


def write_fast_state(directory: str, config: str, exports: dict[str, str], origs: dict[str, str]) -> None:
    """The fast state of a fresh process with these originals (``rebuild --system``)."""
    raw = {var: origs.get(var, "") for var in list(_config.TARGETS.values()) + [_config.GIT_CONFIG]}
    for name in _state.FAST_KEY_VARS:  # the rest as set now; no CERT_SESSION_ORIG_* in a fresh process
        if name not in raw and not name.startswith(_config.ORIG_PREFIX):
            raw[name] = os.environ.get(name, "")
    sets, unsets = plan(exports, origs, environ=raw)  # nothing inherited there: no unsets
    _write_fast(directory, config, _state.fast_key(raw), sets, unsets, exports)


def _write_fast(
    directory: str,
    config: str,
    key: str,
    sets: list[tuple[str, str]],
    unsets: list[str],
    exports: dict[str, str],
    fresh: tuple[str, _state.State] | None = None,
) -> None:
    """Record what this start did, for the fast path to repeat while nothing changes.

    ``fresh``: (directory, state) that ``_cache.fresh_state`` just read and
    checked, so the state file is read once per start.
    """
    bundle_paths = set(exports.values())
    # The state these exports came from (the bundles' directory), whose
    # inputs the fast path must watch; none (a private temp directory): no fast state.
    found = None
    first = [os.path.dirname(p) for p in sorted(bundle_paths)][:1]
    if fresh is not None and (first == [fresh[0]] or not first):
        found = fresh[1]
    else:
        for candidate in first or list(_cache.candidate_dirs()):
            state = _state.read_state(os.path.join(candidate, _state.state_name(config)))
            if state is not None and state[0] == config and _cache.safe_dir(candidate):
                found = state
                break
    if found is None:
        return
    if first and first[0] not in (directory, _layout.SYSTEM_CACHE_DIR) and os.path.exists(
        os.path.join(directory, _state.state_name(config))
    ):
        # This directory has a state of its own, now stale (its bundles could
        # not be replaced, _cache.fresh_state): the next start must rebuild
        # here, not repeat the fallback's bundles.
        return
    inputs = [(_layout.DEFAULTS_FILE, _layout.fingerprint(_layout.DEFAULTS_FILE))]
    inputs += [(p, fp) for p, fp in found[2] if p not in bundle_paths]
    recorded = dict(found[2])
    bundles: list[tuple[str, str]] = []
    dirs = []
    for path in sorted(bundle_paths):
        try:
            seen = _layout.stat_fingerprint(os.lstat(path))
        except OSError:
            return
        if recorded.get(path) != seen:
            # Replaced since its state was written (bundle names are stable,
            # _rebuild.bundle_name): not what the state vouches for.
            return
        bundles.append((path, seen))
        parent = os.path.dirname(path)
        if parent != directory and parent not in dirs:
            dirs.append(parent)
    guard = exports.get(_config.TARGETS["requests"])
    data = _state.fast_text(key, sets, unsets, guard, inputs, bundles, dirs)
    _cache.ensure_private_dir(directory)
    _cache.write_if_changed(directory, _state.fast_name(key), data, 0o600)


# requests lets REQUESTS_CA_BUNDLE beat Session.verify (psf/requests#3829),
# so exporting it would override a tool's own verify=False or verify=<file>.
# A finder costs one set lookup per import until requests' sessions module
# (or pip's vendored copy, or niquests', which inherited the precedence) is imported; cert_session._verify_guard then
# applies the rule. It stays on sys.meta_path (see _verify_guard.guard).
# In steady state the fast path installs itself instead (same attributes).
class GuardFinder:
    cert_session_guard = True  # cert_session._verify_guard skips guards when it looks for the real spec

    def __init__(self, bundle: str | None) -> None:
        self.bundle = bundle  # read by the guard at every request
        self.pending = set(GUARDED_MODULES)

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in self.pending:
            return None
        try:
            from . import _verify_guard

            return _verify_guard.find_spec(self, name, path, target)
        except Exception as exc:  # noqa: BLE001 - an import never fails because of us
            self.pending.discard(name)
            _log.warn(
                "cannot guard %s (%s: %s); CERT_SESSION_DISABLE=1 turns the hook off"
                % (name, type(exc).__name__, exc)
            )
            return None


GUARDED_MODULES = ("requests.sessions", "pip._vendor.requests.sessions", "niquests.sessions")


_finder: GuardFinder | None = None


def verify_guard(bundle: str | None) -> None:
    """Apply the verify rule to requests with ``bundle`` as the default (None: off).

    One guard per process: the fast path's, if it installed itself (found
    through sys.modules, not imported: it runs on import), else the one on
    sys.meta_path, which another copy of this package may have put there
    (the hook's private copy, when the user also imports ``cert_session``).
    """
    global _finder
    hook = sys.modules.get("cert_session_hook")
    finder: Any = hook if getattr(hook, "guarding", False) else _finder
    if finder is None:
        finder = next(
            (f for f in sys.meta_path if getattr(f, "cert_session_guard", False) and hasattr(f, "bundle")),
            None,
        )
    if finder is None:
        if bundle is None:
            return
        finder = _finder = GuardFinder(bundle)
        if any(name in sys.modules for name in GUARDED_MODULES):  # activate() after import
            from . import _verify_guard

            for name in GUARDED_MODULES:
                if name in sys.modules:
                    _verify_guard.guard(finder, name, sys.modules[name])
        if finder.pending:
            sys.meta_path.insert(0, finder)
    finder.bundle = bundle
