"""Build the merged bundles and the state file the hook reads.

Runs only when an input changed (first start after a certifi upgrade, a new
company certificate, ...), from the hook or from ``cert-session rebuild``.
It may import more than the hook, but still stays light: no ``ssl`` unless
a target needs OpenSSL's default paths, and certifi is found without being
imported where its bundle sits beside the package.
"""

from __future__ import annotations

import hashlib
import os
import time

from . import _cache, _config, _defaults, _layout, _log, _os_store, _pem, _sources, _state
from ._platform import CURRENT
from ._sources import Problem

TYPE_CHECKING = False  # not typing's: see cert_session/_record.py
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from ._record import Record

__all__ = [
    "Base", "resolve_base", "rebuild", "build", "build_fingerprinted", "write", "report", "bundle_for", "watched_bundle_for"
]

MAX_BASE_SIZE = 64 << 20


class Base(Record):
    spec: str
    path: str | None  # None: the target has no base (node) or none was found
    origin: str  # for people: "certifi 2026.5.20", "preset file", ...
    inputs: list[str]
    problem: str | None  # why the base cannot be used
    more: tuple[str, ...] = ()  # further files of a union base, read after ``path``


def _certifi_base() -> Base:
    import importlib.util

    try:
        spec = importlib.util.find_spec("certifi")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        # `pip install --user`: site processes the user site-packages (and
        # so runs this hook) before it puts the system ones on sys.path.
        import site

        for directory in site.getsitepackages() if hasattr(site, "getsitepackages") else []:
            pem = os.path.join(directory, "certifi", "cacert.pem")
            if os.path.isfile(pem):
                return Base("certifi:", pem, "certifi (%s)" % os.path.dirname(pem), [pem], None)
        # Watch where pip would put it, so installing it triggers a rebuild.
        return Base(
            "certifi:",
            None,
            "certifi",
            [os.path.join(_layout.HERE, "certifi")],
            "certifi is not installed in this environment (%s); install it with "
            "`python -m pip install certifi`" % _layout.HERE,
        )
    package_dir = os.path.dirname(spec.origin)
    pem = os.path.join(package_dir, "cacert.pem")
    if os.path.isfile(pem):
        # Its stat alone is enough: an upgrade, a reinstall (new inode) and
        # an uninstall, or a switch to a distro certifi without it, all change it.
        return Base("certifi:", pem, "certifi (%s)" % package_dir, [pem], None)
    inputs = [package_dir, spec.origin]
    # Debian's and Fedora's certifi ship no cacert.pem: where() names the
    # system bundle. Honour it (this costs the import, once per change).
    try:
        import certifi

        where = certifi.where()
    except Exception as exc:  # noqa: BLE001 - a broken certifi must not stop the rebuild
        return Base("certifi:", None, "certifi", inputs, "certifi.where() failed: %s" % exc)
    return Base("certifi:", where, "certifi.where() (%s)" % package_dir, inputs + [where], None)


def _openssl_base() -> Base:
    # Never $SSL_CERT_FILE here: a preset value is already the ssl target's
    # "file:" base (and so part of the config key), while curl and git set
    # their CA file explicitly and never read it. Reading it made the curl/git
    # bundles depend on a variable the config key does not include.
    path, *fallbacks = CURRENT.openssl_cafiles()
    if path and os.path.isfile(path):
        return Base("openssl:", path, "OpenSSL default (%s)" % path, [path], None)
    for other in fallbacks:
        if os.path.isfile(other):
            return Base("openssl:", other, "system CA file %s (OpenSSL's default %s is missing)" % (other, path), [path, other], None)
    # No default file (python.org builds before "Install Certificates", some
    # containers). A company-only file would *replace* the roots for clients
    # that take the variable as their whole trust store (curl, git, httpx's
    # create_default_context(cafile=...)), so the variable is left alone.
    return Base(
        "openssl:",
        None,
        "OpenSSL default CA file",
        [path],
        "OpenSSL's default CA file %s does not exist, so there is nothing to append to; "
        "set the variable to your system CA bundle to opt in" % path,
    )


def _union_base(spec: str, parts: list[Base]) -> Base:
    """Every certificate of each usable part, in order (``openssl+certifi:``).

    When nobody preset ``SSL_CERT_FILE``, urllib trusted OpenSSL's default
    file and httpx certifi: the exported file must hold both, or one of them
    loses roots it had. A part that is missing is left out; all missing is
    the first part's problem.
    """
    inputs = [i for part in parts for i in part.inputs]
    usable = [part for part in parts if part.path is not None and not part.problem]
    if not usable:
        return Base(spec, None, " + ".join(p.origin for p in parts), inputs, parts[0].problem)
    paths = list(dict.fromkeys(str(part.path) for part in usable))
    origin = " + ".join(part.origin for part in usable)
    return Base(spec, paths[0], origin, inputs, None, tuple(paths[1:]))


def resolve_base(spec: str) -> Base:
    """Turn a hook base spec (file:, certifi:, openssl:, none:) into a file.

    Without its OS store part (``+os:...``), which is not a file: ``build``
    splits it off and reads it.
    """
    if spec.startswith("file:"):
        path = spec[5:]
        if os.path.isdir(path):
            return Base(spec, None, "preset directory", [path], "%s is a directory; cert-session only appends to a bundle file, so it is left as it is" % path)
        if not os.path.isfile(path):
            return Base(spec, None, "preset file", [path], "%s does not exist; it is left as it is and no company certificate is added" % path)
        return Base(spec, path, "preset file %s" % path, [path], None)
    if spec == "certifi:":
        return _certifi_base()
    if spec == "openssl:":
        return _openssl_base()
    if spec == "openssl+certifi:":
        return _union_base(spec, [_openssl_base(), _certifi_base()])
    return Base(spec, None, "none (company certificates only)", [], None)


def build(
    bases: list[tuple[str, str]], certs_env: str, check_chain: bool = True
) -> tuple[dict[str, tuple[str, bytes]], list[str], list[Problem], list[Base]]:
    """Compute bundles in memory: ({VAR: (name, data)}, inputs, problems, bases).

    ``check_chain=False`` for a tool's own bundle (verify=<file>): that it
    holds no public root is the tool's choice, not a problem to report.
    """
    sources = _sources.load(certs_env)
    problems = list(sources.problems)
    inputs = list(sources.inputs)
    bundles: dict[str, tuple[str, bytes]] = {}
    resolved = []
    company = [c.block for c in sources.certs]
    chain_bases: list[tuple[str, bytes, str]] = []  # (variable, base DER, base name) for the chain check
    stores: dict[str, _os_store.Store] = {}
    for target, spec in bases:
        spec, _, store_spec = spec.partition(_config.OS_STORE_MARK)
        base = resolve_base(spec)
        resolved.append(base)
        inputs.extend(base.inputs)
        store = None
        if store_spec:
            if store_spec not in stores:
                stores[store_spec] = _os_store.load(store_spec)
                inputs.extend(stores[store_spec].inputs)
            store = stores[store_spec]
        extra = store.blocks if store is not None else []
        if not company and not extra:
            continue
        var = _config.TARGETS[target]
        if base.problem and not extra:
            problems.append(Problem("warning", base.path or spec, "%s: %s." % (var, base.problem)))
            continue
        blocks: list[_pem.Block] = []
        unusable = False
        paths = ([base.path] if base.path is not None else []) + list(base.more) if not base.problem else []
        for base_path in paths:
            try:
                with open(base_path, "rb") as f:
                    data = f.read(MAX_BASE_SIZE)
            except OSError as exc:
                problems.append(Problem("warning", base_path, "%s: cannot read %s (%s); %s is left as it is." % (var, base_path, exc.strerror or exc, var)))
                unusable = True
                break
            found = list(_pem.iter_blocks(data))
            if not found:
                problems.append(
                    Problem(
                        "warning",
                        base_path,
                        "%s: %s contains no PEM certificate, so requests would fail "
                        "with it anyway; %s is left as it is. Point it at a CA bundle."
                        % (var, base_path, var),
                    )
                )
                unusable = True
                break
            blocks.extend(found)
        if unusable:
            continue
        # The OS store comes after the base and before the company certificates.
        blocks += extra
        if check_chain and target != "node":  # Node appends to its own roots: no base to check
            chain_bases.append((var, b"".join(b.cert_der for b in blocks), " + ".join(paths) or spec))
        merged = _pem.merge(blocks, company)
        name = "%s%s.pem" % (_layout.BUNDLE_PREFIX, hashlib.sha256(merged).hexdigest()[:32])
        bundles[var] = (name, merged)
    problems.extend(_sources.chain_problems(sources.certs, chain_bases))
    return bundles, inputs, problems, resolved


def write(
    config: str,
    reason: str,
    bundles: dict[str, tuple[str, bytes]],
    fingerprints: list[tuple[str, str]],
    dirs: list[tuple[str, bool]],
    mark: bool = False,
) -> tuple[dict[str, str], str | None]:
    """Write bundles and state to the first usable directory.

    ``mark``: the directories are this environment's own cache directories,
    so record the environment in them (``_cache.mark_environment``).

    Returns ({VAR: bundle path}, a note if a fallback was used or all failed).
    """
    failures = []
    for directory, _fallback in dirs:
        try:
            _cache.ensure_private_dir(directory)
            if mark:
                _cache.mark_environment(directory)
            exports = {}
            for var, (name, data) in bundles.items():
                path = _cache.write_if_changed(directory, name, data, 0o644)
                exports[var] = (path, len(data))
            # The hook never reads a bundle: watching each one's stat identity
            # turns any rewrite of it (same size or not) into a rebuild.
            watched = fingerprints + [(path, _layout.fingerprint(path)) for path, _ in sorted(exports.values())]
            state = _state.state_text(config, reason, time.time(), exports, watched)
            _cache.write_atomic(directory, _state.state_name(config), state, 0o600)
            _cache.prune(directory)
        except (OSError, ValueError) as exc:
            failures.append("%s (%s)" % (directory, getattr(exc, "strerror", None) or exc))
            continue
        note = None
        if failures and bundles:
            note = "cache %s is unusable; using %s instead. Fix it or set CERT_SESSION_CACHE_DIR" % (failures[0], directory)
        return {var: path for var, (path, _) in exports.items()}, note
    note = None
    if bundles:
        note = "cannot write a bundle anywhere (%s); company certificates are not added. Set CERT_SESSION_CACHE_DIR to a writable directory" % "; ".join(failures)
    return {}, note


def build_fingerprinted(
    bases: list[tuple[str, str]], certs_env: str, check_chain: bool = True
) -> tuple[dict[str, tuple[str, bytes]], list[tuple[str, str]], list[Problem]]:
    """``build``, plus the stat fingerprint of every input for the state file.

    Company certificate files are fingerprinted *before* they are read, so a
    change during the rebuild causes another rebuild rather than a stale state.
    """
    _, watched, _ = _sources.discover(certs_env)
    pre = {p: _layout.fingerprint(p) for p in watched}
    bundles, inputs, problems, _ = build(bases, certs_env, check_chain)
    fingerprints = [(path, pre.get(path) or _layout.fingerprint(path)) for path in dict.fromkeys(inputs)]
    return bundles, fingerprints, problems


def rebuild(
    config: str, bases: list[tuple[str, str]], certs_env: str, reason: str, check_chain: bool = True
) -> dict[str, str]:
    """The hook's slow path: build, write, report at most one line."""
    bundles, fingerprints, problems = build_fingerprinted(bases, certs_env, check_chain)
    dirs = _cache.writable_dirs()
    exports, note = write(config, reason, bundles, fingerprints, dirs, mark=True)
    # A rebuild is rare: the moment to remove what deleted environments left.
    _cache.prune_environments()
    problem = _cache.primary_problem()
    if problem and exports and note is None:
        where = os.path.dirname(next(iter(exports.values())))
        if problem[1]:
            note = "%s; using %s. Set HOME or CERT_SESSION_CACHE_DIR" % (problem[0], where)
        else:
            _log.debug("%s; using %s" % (problem[0], where))
    if not exports and bundles and note and "cannot write" in note:
        try:
            last = _cache.private_temp_dir()
            exports, _ = write(config, reason, bundles, fingerprints, [(last, True)])
            if exports:
                note = "no usable cache directory; using %s for this process. Set CERT_SESSION_CACHE_DIR to a writable directory you own" % last
                # No later start can find this directory: without this, every
                # start would leave another full bundle in TMPDIR. Children
                # re-derive their own from CERT_SESSION_ORIG_*.
                import atexit

                atexit.register(_cache.remove_tree, last)
            else:  # disk full or file size limit: say so, and leave no empty directory per start
                _cache.remove_tree(last)
        except OSError:
            pass
    report(problems, note)
    return exports


def report(problems: list[Problem], note: str | None) -> None:
    """At most one line on stderr: the worst problem, and how many more."""
    messages = []
    if note:
        messages.append(note)
    errors = [p for p in problems if p.severity == "error"]
    messages.extend(p.message for p in errors + [p for p in problems if p.severity != "error"])
    messages = list(dict.fromkeys(messages))
    if not messages:
        return
    line = messages[0].rstrip(".")
    if len(messages) > 1:
        line += " (and %d more; run `cert-session status`)" % (len(messages) - 1)
    _log.warn(line)
    for extra in messages[1:]:
        _log.debug(extra)


def bundle_for(base_spec: str, extra: list[str]) -> str:
    """A cached bundle of ``base_spec`` + company certificates + ``extra`` files.

    Used by ``Session`` and the verify guard; built and cached exactly like
    the main bundle (content-addressed, atomic, rebuilt when inputs change).
    """
    return watched_bundle_for(base_spec, extra)[0]


def watched_bundle_for(base_spec: str, extra: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """``bundle_for``, and what keeps it fresh: the (path, ``_layout.fingerprint``) of each
    input and bundle its state recorded; [] when it was rebuilt just now (not read from a state).

    While every one of them still has that fingerprint, and ``CERT_SESSION_CERTS``
    is the same, ``bundle_for`` would return the same bundle: the verify guard
    rechecks a tool's own bundle with these stats alone (issue #22).
    """
    configured = _config.absolute_paths(os.environ.get("CERT_SESSION_CERTS", ""))
    certs_env = os.pathsep.join([e for e in [configured] if e] + [os.path.abspath(p) for p in extra])
    config = "\x1f".join([_defaults.__version__, certs_env, _layout.HERE, "explicit=" + base_spec])
    exports, why, found = _cache.fresh_state(config)
    watch = [] if found is None else list(found[1][2])
    if exports is None:
        exports = rebuild(config, [("requests", base_spec)], certs_env, why, check_chain=False)
    path = exports.get(_config.TARGETS["requests"])
    if path is None:
        base = resolve_base(base_spec)
        if base.path is None:
            raise RuntimeError("no CA bundle: %s" % base.problem)
        return base.path, []
    return path, watch
