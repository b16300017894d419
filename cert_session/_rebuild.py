"""Build the merged bundles and the state file the hook reads.

Runs only when an input changed (first start after a certifi upgrade, a new
company certificate, ...), from the hook or from ``cert-session rebuild``.
It may import more than the hook, but still stays light: no ``ssl`` unless
a target needs OpenSSL's default paths, and certifi is imported only when
its code changed (``_certifi_where`` remembers ``where()``'s answer).
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
    "Base", "resolve_base", "rebuild", "build", "build_fingerprinted", "bundle_name", "git_config_text", "write",
    "report", "bundle_for", "watched_bundle_for",
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
    """certifi's ``where()``: the file requests would have used (issue #23).

    Debian's, Ubuntu's, Fedora's and conda's certifi point ``where()`` at the
    system bundle, and Debian's still ships a ``cacert.pem`` beside it: the
    shipped file is not the base, ``where()``'s is. An IT-installed company
    root or proxy CA (update-ca-certificates) is only in the system bundle.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec("certifi")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        # `pip install --user`, and a venv made with --system-site-packages:
        # site processes those site-packages (and so runs this hook) before
        # it puts the system ones on sys.path.
        for directory in _site_packages_to_come():
            init = os.path.join(directory, "certifi", "__init__.py")
            if os.path.isfile(init):
                return _certifi_at(os.path.dirname(init), init, directory)
        # Watch where pip would put it, so installing it triggers a rebuild.
        return Base(
            "certifi:",
            None,
            "certifi",
            [os.path.join(_layout.HERE, "certifi")],
            "certifi is not installed in this environment (%s); install it with "
            "`python -m pip install certifi`" % _layout.HERE,
        )
    return _certifi_at(os.path.dirname(spec.origin), spec.origin, None)


def _site_packages_to_come() -> list[str]:
    """Every site-packages directory ``site`` puts on ``sys.path`` in this process, including those it has not yet.

    Up to 3.13, ``site.PREFIXES`` already names the base Python while the
    venv's own site-packages (where this hook is) are processed. From 3.14 on,
    ``site.venv`` adds the base prefixes only afterwards, when the venv was
    made with ``--system-site-packages`` (read from its ``pyvenv.cfg``, as
    ``site`` does): Debian's python3-certifi there would look absent.
    """
    import site
    import sys

    if not hasattr(site, "getsitepackages"):
        return []
    prefixes = list(site.PREFIXES)
    if sys.prefix != sys.base_prefix and _includes_system_site_packages(os.path.join(sys.prefix, "pyvenv.cfg")):
        prefixes += [sys.base_prefix, sys.base_exec_prefix]
    return site.getsitepackages(prefixes)  # which skips a prefix it has seen


def _includes_system_site_packages(config: str) -> bool:
    try:
        with open(config, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "include-system-site-packages":
            return value.strip().lower() == "true"
    return False


def _certifi_at(package_dir: str, origin: str, not_on_path: str | None) -> Base:
    pem = os.path.join(package_dir, "cacert.pem")
    # What decides where()'s answer is certifi's code: pip and dpkg replace
    # every file of a package they upgrade (new inode), so the shipped
    # cacert.pem's stat stands for the whole package. Without one (Fedora),
    # the directory and __init__.py. Then where()'s file itself.
    inputs = [pem] if os.path.isfile(pem) else [package_dir, origin]
    where, problem = _certifi_where(package_dir, origin, not_on_path)
    if where is None:
        return Base("certifi:", None, "certifi", inputs, problem)
    inputs = list(dict.fromkeys(inputs + [where]))
    if os.path.normcase(os.path.abspath(where)) == os.path.normcase(pem):
        return Base("certifi:", where, "certifi (%s)" % package_dir, inputs, None)
    return Base("certifi:", where, "certifi.where() %s (certifi in %s)" % (where, package_dir), inputs, None)


_WHERE_MEMO = "certifi-where"


# What upstream certifi's where() uses, in every release since 2016 (the
# importlib.resources, importlib_resources-free and os.path variants): it
# names the cacert.pem beside the package, and nothing else.
_UPSTREAM_WHERE_NAMES = frozenset((
    "_CACERT_PATH", "_CACERT_CTX", "as_file", "files", "joinpath", "get_path", "str", "__enter__",
    "atexit", "register", "exit_cacert_ctx", "os", "path", "dirname", "__file__", "join",
))
_UPSTREAM_WHERE_CONSTANTS = frozenset((None, "certifi", "cacert.pem"))
_UPSTREAM_INIT_NAMES = frozenset(("__doc__", "core", "contents", "where", "__all__", "__version__"))


def _upstream_where(origin: str, core: str) -> bool:
    """Whether certifi's where() is upstream's, read from its code without running it.

    Every ``where`` in core.py may only build the path of ``cacert.pem`` from
    the package, and __init__.py may only re-export it. A distribution's
    patch (Debian's constant, Fedora's literal path, a variable) fails the
    check, and certifi is asked. ``compile`` imports nothing: importing
    certifi costs more than the rest of a rebuild (issue #23).
    """
    import types

    try:
        with open(origin, "rb") as f:
            init = compile(f.read(), origin, "exec", dont_inherit=True)
        with open(core, "rb") as f:
            module = compile(f.read(), core, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return False
    if not set(init.co_names) <= _UPSTREAM_INIT_NAMES or any(isinstance(c, types.CodeType) for c in init.co_consts):
        return False
    wheres = []
    pending = [module]
    while pending:
        code = pending.pop()
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                pending.append(const)
                if const.co_name == "where":
                    wheres.append(const)
    return bool(wheres) and all(
        "cacert.pem" in w.co_consts
        and set(w.co_names) <= _UPSTREAM_WHERE_NAMES
        and all(c in _UPSTREAM_WHERE_CONSTANTS for c in w.co_consts if not isinstance(c, (int, tuple)))
        for w in wheres
    )


def _certifi_where(package_dir: str, origin: str, not_on_path: str | None) -> tuple[str | None, str | None]:
    """(certifi.where(), None), or (None, why it failed).

    Upstream's where() is read from its code (``_upstream_where``). Any other
    is asked: importing certifi costs more than the rest of a rebuild (its
    importlib.resources pulls in pathlib, zipfile, tempfile, typing, ...), so
    the answer is remembered in this environment's cache directory, keyed by
    the stat fingerprints of certifi's __init__.py and core.py: certifi is
    imported once per install or upgrade, not at every rebuild.
    """
    core = os.path.join(package_dir, "core.py")
    pem = os.path.join(package_dir, "cacert.pem")
    if os.path.isfile(pem) and _upstream_where(origin, core):
        return pem, None
    key = "\x1f".join([origin, _layout.fingerprint(origin), core, _layout.fingerprint(core)])
    directory = _cache.fast_dir()
    memo = os.path.join(directory, _WHERE_MEMO) if directory is not None else None
    if memo is not None:
        data = _state.read_file(memo)
        where = _state.parse_where_memo(data, key) if data is not None else None
        if where is not None:
            return where, None
    import sys

    added = not_on_path is not None and not_on_path not in sys.path
    if added:
        sys.path.append(str(not_on_path))  # site puts it there right after this hook anyway
    try:
        import certifi

        where = os.path.abspath(str(certifi.where()))
    except Exception as exc:  # noqa: BLE001 - a broken certifi must not stop the rebuild
        return None, "certifi.where() failed (%s: %s); requests would fail the same way" % (type(exc).__name__, exc)
    finally:
        if added:
            try:
                sys.path.remove(str(not_on_path))
            except ValueError:
                pass
    if memo is not None and directory is not None and _layout.fingerprint(origin) != "-":
        try:
            _cache.ensure_private_dir(directory)
            _cache.write_atomic(directory, _WHERE_MEMO, _state.where_memo_text(key, where), 0o600)
        except (OSError, ValueError) as exc:
            _log.debug("certifi.where() not remembered (%s)" % exc)
    return where, None


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
    chain_bases: list[tuple[str, list[bytes], str]] = []  # (variable, base DERs, base name) for the chain check
    stores: dict[str, _os_store.Store] = {}
    for target, full_spec in bases:
        full_spec, _, git_include = full_spec.partition(_config.GIT_CONFIG_MARK)
        spec, _, store_spec = full_spec.partition(_config.OS_STORE_MARK)
        kept = store_spec.startswith(_config.KEPT)
        if kept:
            store_spec = store_spec[len(_config.KEPT) :]
        base = resolve_base(spec)
        resolved.append(base)
        inputs.extend(base.inputs)
        if kept and not company:
            continue  # kept for what a client verified with before: nothing to add to it
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
        ders = [b.cert_der for b in blocks]
        # The trust rule (_sources.chained): a company intermediate is in a
        # bundle only while a root for it is, for every target (curl and git
        # too: they would take an unrooted intermediate as an anchor on its
        # own). Node appends to its own roots, which we cannot read: its file
        # keeps every company certificate.
        added = company if target == "node" else [c.block for c in _sources.chained(sources.certs, ders)]
        if check_chain and target != "node":
            chain_bases.append((var, ders, " + ".join(paths) or spec))
        elif len(added) < len(company):  # a tool's own bundle: its choice, said on the debug channel only
            _log.debug("%s: %d company intermediate(s) left out: %s holds no root for them"
                       % (var, len(company) - len(added), " + ".join(paths) or spec))
        if not added and not extra:
            # Nothing of ours to add: the base as it is, so leave the variable alone.
            continue
        merged = _pem.merge(blocks, added)
        bundles[var] = (bundle_name(certs_env, full_spec), merged)
        if git_include:
            # Not a bundle: the file git's system config includes. write()
            # makes the GIT_CONFIG_SYSTEM file, which must name the bundle's final path.
            name = bundle_name(certs_env, full_spec + _config.GIT_CONFIG_MARK + git_include)
            bundles[_config.GIT_CONFIG] = (name[:-4] + _layout.GITCONFIG_SUFFIX, git_include.encode("utf-8", "surrogateescape"))
    problems.extend(_sources.chain_problems(sources.certs, chain_bases))
    return bundles, inputs, problems, resolved


def bundle_name(certs_env: str, spec: str) -> str:
    """The bundle's file name: the same for as long as what it merges is the same (issue #23).

    Named by what it is made of (this environment, the company certificates,
    the base spec), not by its content: a path that ``cert-session env``
    printed or a process exported keeps naming the current bundle through
    certifi upgrades and rebuilds, which replace the file atomically. The
    state records each bundle's stat fingerprint, so a file changed by
    anyone else is still noticed. Targets with the same base share one file.
    """
    key = "\x1f".join([_layout.HERE, certs_env, spec]).encode("utf-8", "surrogateescape")
    return "%s%s.pem" % (_layout.BUNDLE_PREFIX, hashlib.sha256(key).hexdigest()[:32])


def git_config_text(bundle: str, include: str) -> bytes:
    """The git target's GIT_CONFIG_SYSTEM file: our CA file, then the system config it replaces.

    git reads the system config first, so the user's own http.sslCAInfo wins
    from anywhere else (``git -c``, ~/.gitconfig, a repository's config), and
    the included file comes after our line, so the administrator's wins too.
    A missing included file is skipped by git.
    """

    def quoted(value: str) -> str:
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')

    lines = [
        "# Written by cert-session (the git target): the company certificates for git,",
        "# at the lowest precedence. Every http.sslCAInfo of yours wins over this one.",
        "[http]",
        "\tsslCAInfo = " + quoted(bundle),
        "[include]",
        "\tpath = " + quoted(include),
        "",
    ]
    return "\n".join(lines).encode("utf-8", "surrogateescape")


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
            written = {}
            for var, (name, data) in bundles.items():
                if var != _config.GIT_CONFIG:
                    path, written[name] = _cache.write_bundle(directory, name, data)
                    exports[var] = (path, len(data))
            if _config.GIT_CONFIG in bundles:
                name, include = bundles[_config.GIT_CONFIG]
                text = git_config_text(exports[_config.TARGETS["git"]][0], include.decode("utf-8", "surrogateescape"))
                path, written[name] = _cache.write_bundle(directory, name, text)
                exports[_config.GIT_CONFIG] = (path, len(text))
            # The hook never reads a bundle: watching each one's stat identity
            # turns any rewrite of it (same size or not) into a rebuild.
            watched = fingerprints + [(path, written[os.path.basename(path)]) for path, _ in sorted(set(exports.values()))]
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
    the main bundle (a stable name, atomic, rebuilt when inputs change).
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
