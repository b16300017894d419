"""Implementation of the public functions, kept out of ``__init__``."""

from __future__ import annotations

import os

from . import _config, _layout, _rebuild, _startup

__all__ = ["where", "rebuild_system"]


def where() -> str:
    exports = _startup.activate()
    var = _config.TARGETS["requests"]
    if var in exports:
        return exports[var]
    origs = _config.originals()
    base = _rebuild.resolve_base(_config.base_spec("requests", origs))
    if base.path is None:
        raise RuntimeError("no CA bundle: %s" % base.problem)
    return base.path


def rebuild_system() -> dict[str, str]:
    """Prebuild bundles, and the fast state of this environment, into site-packages for read-only images."""
    config, bases, certs_env, origs = _config.current_config()
    bundles, fingerprints, problems = _rebuild.build_fingerprinted(bases, certs_env)
    directory = _layout.SYSTEM_CACHE_DIR
    os.makedirs(directory, mode=0o755, exist_ok=True)
    exports, note = _rebuild.write(  # writes and prunes
        config, "prebuilt (cert-session rebuild --system)", bundles, fingerprints, [(directory, False)]
    )
    _rebuild.report(problems, note)
    if exports:
        _startup.write_fast_state(directory, config, exports, origs)
    _register_with_installer(directory)
    return exports


def _register_with_installer(directory: str) -> None:
    """List the prebuilt files in our RECORD, so ``pip uninstall`` removes them.

    They are made after installation; without this, pip would leave
    ``cert_session/_prebuilt/`` behind in site-packages.
    """
    from importlib import metadata

    hook_file = os.path.realpath(os.path.join(_layout.HERE, "cert_session_hook.py"))
    for dist in metadata.distributions():
        files = dist.files or []
        if not any(str(f) == "cert_session_hook.py" for f in files):
            continue
        if os.path.realpath(str(dist.locate_file("cert_session_hook.py"))) != hook_file:
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
