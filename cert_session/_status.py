"""What is trusted here and why: the data behind ``cert-session status``.

``collect()`` returns a dict whose keys are stable (``status --json``);
``render()`` turns it into text for people. Keys never disappear: a value
that does not apply is ``null``.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from typing import Any

from . import _config, _defaults, _layout, _rebuild, _sources, _startup, _startup_files
from ._x509 import CertInfo, iso_time

__all__ = ["collect", "render", "SCHEMA"]

SCHEMA = 1  # bumped only when a key changes meaning or disappears


def _site_dirs() -> list[str]:
    """The directories whose ``.pth`` files site processes at start-up in this interpreter."""
    dirs = [sysconfig.get_paths().get(key) or "" for key in ("purelib", "platlib")]
    dirs += site.getsitepackages()
    if site.ENABLE_USER_SITE:  # False under -s, PYTHONNOUSERSITE and in a venv
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if d]


def _same(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


# The start-up file this Python runs: cert_session_hook.pth, on 3.18 and later cert_session_hook.start.
_STARTUP_FILE = _startup_files.for_version(sys.version_info[:2])[1]


def _pth_locations() -> tuple[list[str], list[str]]:
    """``cert_session_hook.pth`` files (``.start`` from 3.18): (in a directory site processes, elsewhere).

    Looks where the hook really is (``HERE``, the directory of
    ``cert_session_hook``, not imported here because importing it runs the
    hook: ``pip install --user`` puts it in the user site-packages,
    the default for an all-users python.org install on Windows and common
    with Homebrew), in every site-packages directory and in the user
    site-packages even when it is disabled, to say so.
    """
    dirs = _site_dirs()
    processed = {_same(d) for d in dirs}
    candidates = [_layout.HERE] + dirs + [site.getusersitepackages()]
    active: list[str] = []
    elsewhere: list[str] = []
    seen: set[str] = set()
    for directory in candidates:
        key = _same(directory)
        pth = os.path.join(directory, _STARTUP_FILE)
        if key in seen or not os.path.isfile(pth):
            continue
        seen.add(key)
        (active if key in processed else elsewhere).append(pth)
    return active, elsewhere


def _hook_distributions() -> list[str]:
    """Installed distributions that ship the hook (more than one is a conflict)."""
    from importlib import metadata

    names = []
    for dist in metadata.distributions():
        files = dist.files or []
        if any(str(f) == "cert_session_hook.py" for f in files):
            names.append(dist.metadata["Name"])
    return sorted(set(names))


def _count(path: str | None) -> int | None:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read().count(b"-----BEGIN ")
    except OSError:
        return None


def _rebuilt(bundle: str | None) -> dict[str, Any]:
    """When and why the state next to ``bundle`` was written."""
    if not bundle:
        return {"at": None, "reason": None, "state": None}
    directory = os.path.dirname(bundle)
    try:
        names = sorted(n for n in os.listdir(directory) if n.startswith("state-"))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read(1 << 16)
        except OSError:
            continue
        if ("\t%s\t" % bundle) not in text:
            continue
        for line in text.splitlines():
            fields = line.split("\t")
            if fields[0] == "W" and len(fields) >= 3 and fields[1].isdigit():
                return {"at": iso_time(int(fields[1])), "reason": fields[2], "state": path}
    return {"at": None, "reason": None, "state": None}


# How each platform's store is watched (docs: README, "The operating system's trust store").
_REFRESH = {
    "openssl": "watched: a root added to or removed from the CA file or directory is used at the next start",
    "macos": "watched: a change to the keychains or the admin trust settings is used at the next start",
    "windows": "watched: a certificate added to or removed from the stores (their registry keys) is used at the next start",
}


def _os_store_row(origs: dict[str, str]) -> dict[str, Any]:
    """CERT_SESSION_OS_STORE: whether it is on, what it reads and how many certificates it adds."""
    from . import _os_store
    from ._platform import CURRENT

    spec = _config.os_store_spec(origs)
    if spec is None:
        return {"enabled": False, "spec": None, "origin": None, "certificates": None, "problem": None,
                "refresh": None, "_blocks": []}
    store = _os_store.load(spec)
    return {
        "enabled": True,
        "spec": spec,
        "origin": store.origin,
        "certificates": len(store.blocks),
        "problem": store.problem,
        "refresh": _REFRESH[CURRENT.os_store],
        "_blocks": store.blocks,
    }


def _base_row(target: str, spec: str, origs: dict[str, str]) -> dict[str, Any]:
    """The base bundle and where it comes from, for people and for --json."""
    base = _rebuild.resolve_base(spec)
    var = _config.TARGETS[target]
    kind = spec.split(":", 1)[0]
    variable = None
    certifi_version = None
    if kind == "file":
        kind = "preset"
        variable = var if origs.get(var) else "CURL_CA_BUNDLE"
    elif kind == "certifi":
        from importlib import metadata

        try:
            certifi_version = metadata.version("certifi")
        except metadata.PackageNotFoundError:
            certifi_version = None
    origin = base.origin
    if certifi_version:
        origin = "certifi %s (%s)" % (certifi_version, base.path)
    elif variable:
        origin = "%s=%s (preset)" % (variable, spec[5:])
    return {
        "spec": spec,
        "kind": kind,  # preset, certifi, openssl, openssl+certifi or none
        "variable": variable,
        "certifi_version": certifi_version,
        "path": base.path,
        "paths": ([base.path] if base.path else []) + list(base.more),
        "origin": origin,
        "problem": base.problem,
    }


def _problem_row(p: _sources.Problem) -> dict[str, Any]:
    return {"severity": p.severity, "code": p.code, "path": p.path, "sha256": p.sha256 or None, "message": p.message}


def _cert_row(
    path: str,
    origin: str,
    info: CertInfo | None,
    used: bool,
    problems: list[_sources.Problem],
    left_out: dict[str, list[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    fp = info.fingerprint if info is not None else None
    # a file-level problem (no fingerprint) belongs to every certificate of its file
    own = [p for p in problems if p.path == path and (p.sha256 == fp or not p.sha256)]
    return {
        "path": path,
        "source": origin,
        "used": used,
        "subject": info.subject if info else None,
        "issuer": info.issuer if info else None,
        "not_before": iso_time(info.not_before) if info else None,
        "not_after": iso_time(info.not_after) if info else None,
        "sha256": fp,
        # variables whose merged bundle leaves it out: an intermediate whose root is not there
        "left_out_of": list(dict.fromkeys(var for var, _ in (left_out or {}).get(fp or "", []))),
        "problems": [_problem_row(p) for p in own],
    }


def _activate_here(reason_if_inactive: str | None) -> tuple[str | None, dict[str, str]]:
    """Run the hook as start-up would have; return (an error text if it fails, its bundles).

    In a ``cert-session`` process the hook already ran and this is a no-op;
    when ``main()`` is called in a process whose settings changed since
    start-up, it brings the exported variables up to date first. The bundles
    are the ones the hook exports (or, with CERT_SESSION_EXPORT=0, uses in-process).
    """
    if reason_if_inactive is not None:
        return None, {}
    try:
        return None, _startup.activate()
    except Exception as exc:  # noqa: BLE001 - status must report, not crash
        return "the start-up hook fails here (%s: %s); run with CERT_SESSION_DEBUG=1" % (type(exc).__name__, exc), {}


def collect() -> dict[str, Any]:
    """Everything ``status`` shows, with stable keys (``--json``)."""
    environ = os.environ
    disabled = environ.get("CERT_SESSION_DISABLE", "") not in ("", "0")
    pths, elsewhere = _pth_locations()
    inactive: str | None = None
    if sys.flags.no_site:
        inactive = "Python was started with -S, so no .pth file ran; call cert_session.activate()"
    elif disabled:
        inactive = "CERT_SESSION_DISABLE is set"
    elif not pths and elsewhere:
        inactive = (
            "%s is in %s, which this Python does not process at start-up "
            "(user site-packages are off under python -s, PYTHONNOUSERSITE and in a venv); "
            "install cert-session-company into this environment" % (_STARTUP_FILE, " and ".join(elsewhere))
        )
    elif not pths:
        inactive = "%s is not installed in this environment's site-packages" % _STARTUP_FILE
    failure, bundles = _activate_here(inactive)
    export = _config.export_enabled()

    targets = _config.selected_targets()
    origs = _config.originals()
    sources = _sources.load(strict=True)
    problems = list(sources.problems)
    os_store = _os_store_row(origs)
    store_blocks = os_store.pop("_blocks")

    target_rows = []
    chain_bases: list[tuple[str, list[str]]] = []  # (variable, base files) of each target to check
    for target in targets:
        spec = _config.base_spec(target, origs)
        var = _config.TARGETS[target]
        # git through its system config (issue #23): the variable names our
        # GIT_CONFIG_SYSTEM file, which names the bundle.
        shown = _config.GIT_CONFIG if target == "git" and _config.GIT_CONFIG in bundles else var
        value = environ.get(shown)
        exported = bool(value) and _layout.is_ours(value or "")
        # The bundle the hook uses: the exported one, or with CERT_SESSION_EXPORT=0
        # the one requests and pip use in-process (what `cert-session env` prints).
        bundle = value if exported and shown == var else bundles.get(var)
        base = _base_row(target, spec, origs)
        if target != "node" and base["path"]:  # as _rebuild.build
            chain_bases.append((var, base["paths"]))
        if base["problem"] and sources.certs and not store_blocks:
            # Otherwise this target silently exports nothing (Windows, python.org
            # macOS builds before "Install Certificates.command": no OpenSSL CA file).
            problems.append(
                _sources.Problem(
                    "warning", base["path"] or spec, "%s is not exported: %s." % (var, base["problem"]), "base-unusable"
                )
            )
        target_rows.append(
            {
                "target": target,
                "variable": shown,
                "value": value,
                "exported": exported,
                "base": base,
                # The OS store joins this base by default (_config.kept_os_store).
                "os_store_kept": not os_store["enabled"] and _config.kept_os_store(target, origs),
                "bundle": bundle,
                "certificates": _count(bundle) if bundle else None,
                "rebuilt": _rebuilt(bundle),
            }
        )
    checked = _sources.read_bases(chain_bases, [b.cert_der for b in store_blocks])
    problems.extend(_sources.chain_problems(sources.certs, checked))
    # The trust rule: the merged bundles each leave out a company intermediate without a root.
    left_out = _sources.left_out(sources.certs, checked)

    if inactive is not None:
        active, reason = False, inactive
    elif failure is not None:
        active, reason = False, failure
    elif not sources.certs and not store_blocks:
        active, reason = False, (
            "no usable company certificate (cert_session/certs/ in %s is empty and "
            "CERT_SESSION_CERTS names none, or every one was rejected; see below)" % _layout.HERE
        )
    elif not export and any(row["bundle"] for row in target_rows):
        # Only requests and pip use a bundle in-process (through the verify
        # guard); the other targets' clients read their variable, which is not set.
        in_process = [str(r["variable"]) for r in target_rows if r["bundle"] and r["target"] == "requests"]
        active, reason = True, (
            "CERT_SESSION_EXPORT=0: nothing exported; requests and pip here use the %s bundle in-process"
            % ", ".join(in_process)
            if in_process
            else "CERT_SESSION_EXPORT=0: nothing exported, and requests is not a target"
        )
    elif not any(row["exported"] for row in target_rows) and checked and all(
        {v for v, _ in left_out.get(c.info.fingerprint, [])} >= {v for v, _, _ in checked} for c in sources.certs
    ):
        active, reason = False, (
            "no company certificate could be added: each is an intermediate whose root no base "
            "bundle holds, and an intermediate is never trusted on its own; see the warning above"
        )
    elif not any(row["exported"] for row in target_rows):
        active, reason = False, "no target variable was exported; see the problems above"
    else:
        active, reason = True, "exporting " + ", ".join(str(r["variable"]) for r in target_rows if r["exported"])

    certificates = [_cert_row(c.path, c.origin, c.info, True, problems, left_out) for c in sources.certs]
    certificates += [_cert_row(r.path, r.origin, r.info, False, list(r.problems)) for r in sources.rejected]
    dists = _hook_distributions()
    if len(dists) > 1:
        problems.append(
            _sources.Problem(
                "warning",
                os.path.join(_layout.HERE, "cert_session_hook.py"),
                "%s all install the same files (cert_session_hook.py, cert_session/); the "
                "last one installed won, and uninstalling either removes the hook for both. "
                "Uninstall all but one, then reinstall the one you keep." % " and ".join(dists),
                "duplicate-install",
            )
        )
    errors = [p for p in problems if p.severity == "error"]
    from . import _cache

    cache_dirs = [d for d, _ in _cache.writable_dirs()]
    return {
        "schema": SCHEMA,
        "version": _defaults.__version__,
        "python": sys.executable,
        "prefix": sys.prefix,
        "hook": {
            "active": active,
            "reason": reason,
            "installed": bool(pths),
            "pth": pths,
            "disabled": disabled,
            "no_site": bool(sys.flags.no_site),
            "distributions": dists,
            "targets": targets,
            "export": export,
        },
        "targets": target_rows,
        "cache": {"directory": cache_dirs[0], "fallback": cache_dirs[-1], "system": _layout.SYSTEM_CACHE_DIR},
        "os_store": os_store,
        "certificates": certificates,
        "problems": [_problem_row(p) for p in problems],
        "errors": len(errors),
        "warnings": len(problems) - len(errors),
        "ok": not errors,
    }


def _plain_reason(reason: str | None) -> str:
    """Why the bundle was written, in words (``--json`` keeps the state file's own text)."""
    reason = reason or ""
    for prefix, words in (
        ("changed: ", "%s changed"),
        ("bundle missing: ", "the bundle %s had been removed"),
        ("bundle not usable: ", "the bundle %s could not be used"),
    ):
        if reason.startswith(prefix):
            return "because " + words % reason[len(prefix) :]
    if reason == "no state yet":
        return "first use of these settings: nothing was cached for them yet"
    if reason.startswith("asked for"):
        return "`cert-session rebuild` asked for it"
    return "because " + reason if reason else "reason unknown"


def render(data: dict[str, Any]) -> str:
    out = []
    hook = data["hook"]
    out.append("cert-session %s (%s)" % (data["version"], data["python"]))
    out.append("hook: %s: %s" % ("active" if hook["active"] else "inactive", hook["reason"]))
    # Problems first: a missing issuer is what a person running status needs
    # to see (the start-up hook said it once, in whichever tool rebuilt).
    for p in data["problems"]:
        out.append("%s: %s" % (p["severity"].upper(), p["message"]))
    for row in data["targets"]:
        out.append("target %s: %s=%s" % (row["target"], row["variable"], row["value"] or "(unset)"))
        base = row["base"]
        out.append("  base: %s%s" % (base["origin"], " - " + base["problem"] if base["problem"] else ""))
        if row.get("os_store_kept"):
            out.append("  and the operating system's store: clients of %s verify with it here when it is unset" % row["variable"])
        if row["bundle"]:
            note = "" if row["exported"] else ", in-process only: CERT_SESSION_EXPORT=0"
            out.append("  merged bundle: %s (%s certificates%s)" % (row["bundle"], row["certificates"], note))
            if row["rebuilt"]["at"]:
                out.append("  last rebuilt: %s (%s)" % (row["rebuilt"]["at"], _plain_reason(row["rebuilt"]["reason"])))
    store = data["os_store"]
    if store["enabled"]:
        out.append(
            "os store: %s (%s certificates)%s"
            % (store["origin"], store["certificates"], " - " + store["problem"] if store["problem"] else "")
        )
        out.append("  %s" % store["refresh"])
    out.append("cache: %s" % data["cache"]["directory"])
    if not data["certificates"]:
        out.append("company certificates: none")
    for cert in data["certificates"]:
        out.append(
            "company certificate %s [%s]%s" % (cert["path"], cert["source"], "" if cert["used"] else " NOT USED")
        )
        if cert["left_out_of"]:
            out.append("  left out of: %s (no root for it there; see the warning above)" % ", ".join(cert["left_out_of"]))
        if cert["subject"] is not None:
            out.append("  subject: %s" % cert["subject"])
            out.append("  issuer:  %s" % cert["issuer"])
            out.append("  valid:   %s to %s" % (cert["not_before"], cert["not_after"]))
            out.append("  sha256:  %s" % cert["sha256"])
    if data["errors"]:
        out.append("%d error(s): the certificates named above are not used; fix them and run `cert-session status` again." % data["errors"])
    return "\n".join(out)
