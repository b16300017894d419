"""Implementation of the public functions, kept out of ``__init__``."""

from __future__ import annotations

import os

import cert_session_hook
from cert_session import _rebuild
from cert_session import _startup as _hook

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
    configured = _hook.absolute_paths(os.environ.get("CERT_SESSION_CERTS", ""))
    certs_env = os.pathsep.join([e for e in [configured] if e] + [os.path.abspath(p) for p in extra])
    config = "\x1f".join([_hook.__version__, certs_env, _hook.HERE, "explicit=" + base_spec])
    exports = _hook.load_fresh_state(config)
    if exports is None:
        exports = _rebuild.rebuild(config, [("requests", base_spec)], certs_env, check_chain=False)
    path = exports.get(_hook.TARGETS["requests"])
    if path is None:
        base = _rebuild.resolve_base(base_spec)
        if base.path is None:
            raise RuntimeError("no CA bundle: %s" % base.problem)
        return base.path
    return path


def rebuild_system() -> dict[str, str]:
    """Prebuild bundles into the environment for read-only images."""
    config, bases, certs_env, _ = _hook.current_config()
    _hook.last_reason = "prebuilt (cert-session rebuild --system)"
    bundles, fingerprints, problems = _rebuild.build_fingerprinted(bases, certs_env)
    directory = _hook.SYSTEM_CACHE_DIR
    os.makedirs(directory, mode=0o755, exist_ok=True)
    exports, note = _rebuild.write(config, bundles, fingerprints, [(directory, False)])  # writes and prunes
    _rebuild.report(problems, note)
    _register_with_installer(directory)
    return exports


def _register_with_installer(directory: str) -> None:
    """List the prebuilt files in our RECORD, so ``pip uninstall`` removes them.

    They are made after installation; without this, pip would leave
    ``cert_session/_prebuilt/`` behind in site-packages.
    """
    from importlib import metadata

    for dist in metadata.distributions():
        files = dist.files or []
        if not any(str(f) == "cert_session_hook.py" for f in files):
            continue
        if os.path.realpath(str(dist.locate_file("cert_session_hook.py"))) != os.path.realpath(cert_session_hook.__file__):
            continue
        record = next((f for f in files if f.name == "RECORD"), None)
        if record is None:
            return
        record_path = str(dist.locate_file(record))
        root = str(dist.locate_file(""))
        listed = {str(f) for f in files}
        new = [
            os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
            for name in sorted(os.listdir(directory))
        ]
        lines = ["%s,,\n" % rel for rel in new if rel not in listed]
        if lines:
            with open(record_path, "a", encoding="utf-8") as f:
                f.writelines(lines)
        return
