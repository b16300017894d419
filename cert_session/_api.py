"""Implementation of the public functions, kept out of ``__init__``."""

from __future__ import annotations

import os

import cert_session_hook as _hook
from cert_session import _rebuild

__all__ = ["where", "bundle_for"]


def where() -> str:
    exports = _hook.activate()
    var = _hook.TARGETS["requests"]
    if var in exports:
        return exports[var]
    origs = {v: _hook.original_value(v) for v in _hook.TARGETS.values()}
    base = _rebuild.resolve_base(_hook.base_spec("requests", origs))
    if base.path is None:
        raise RuntimeError("no CA bundle: %s" % base.problem)
    return base.path


def bundle_for(base_spec: str, extra: list[str]) -> str:
    """A cached bundle of ``base_spec`` + company certificates + ``extra`` files.

    Used by ``Session`` and the verify guard; built and cached exactly like
    the main bundle (content-addressed, atomic, rebuilt when inputs change).
    """
    certs_env = os.pathsep.join(
        [e for e in [os.environ.get("CERT_SESSION_CERTS", "")] if e] + [os.path.abspath(p) for p in extra]
    )
    config = "\x1f".join([_hook.__version__, certs_env, _hook.HERE, "explicit=" + base_spec])
    exports = _hook.load_fresh_state(config)
    if exports is None:
        exports = _rebuild.rebuild(config, [("requests", base_spec)], certs_env)
    path = exports.get(_hook.TARGETS["requests"])
    if path is None:
        base = _rebuild.resolve_base(base_spec)
        if base.path is None:
            raise RuntimeError("no CA bundle: %s" % base.problem)
        return base.path
    return path


def rebuild_system() -> dict[str, str]:
    """Prebuild bundles into the environment for read-only images."""
    from cert_session import _cache

    config, bases, certs_env, _ = _hook.current_config()
    _hook.last_reason = "prebuilt (cert-session rebuild --system)"
    bundles, inputs, problems, _ = _rebuild.build(bases, certs_env)
    fingerprints = [(p, _hook.fingerprint(p)) for p in dict.fromkeys(inputs)]
    directory = _hook.SYSTEM_CACHE_DIR
    os.makedirs(directory, mode=0o755, exist_ok=True)
    exports, note = _rebuild.write(config, bundles, fingerprints, [(directory, False)])
    _rebuild.report(problems, note)
    _cache.prune(directory)
    return exports
