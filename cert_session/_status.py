"""What is trusted here and why: the data behind ``cert-session status``."""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Any

import cert_session_hook as _hook
from cert_session import _rebuild, _sources
from cert_session._x509 import format_time

__all__ = ["collect", "render"]


def _pth_locations() -> list[str]:
    found = []
    for key in ("purelib", "platlib"):
        d = sysconfig.get_paths().get(key)
        if d and os.path.isfile(os.path.join(d, "cert_session_hook.pth")):
            found.append(os.path.join(d, "cert_session_hook.pth"))
    return sorted(set(found))


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
        names = [n for n in os.listdir(directory) if n.startswith("state-")]
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
                return {"at": format_time(int(fields[1])), "reason": fields[2], "state": path}
    return {"at": None, "reason": None, "state": None}


def collect() -> dict[str, Any]:
    """Everything ``status`` shows, with stable keys (``--json``)."""
    environ = os.environ
    disabled = environ.get("CERT_SESSION_DISABLE", "") not in ("", "0")
    targets = _hook.selected_targets()
    origs = {var: _hook.original_value(var) for var in _hook.TARGETS.values()}
    bases = [(t, _hook.base_spec(t, origs)) for t in targets]
    sources = _sources.load(strict=True)
    problems = list(sources.problems)
    pths = _pth_locations()

    target_rows = []
    first_base = None
    for target, spec in bases:
        var = _hook.TARGETS[target]
        base = _rebuild.resolve_base(spec)
        value = environ.get(var)
        exported = bool(value) and _hook.is_ours(value or "")
        if first_base is None and target != "node":
            first_base = base
        target_rows.append(
            {
                "target": target,
                "variable": var,
                "value": value,
                "exported": exported,
                "base": {"spec": spec, "path": base.path, "origin": base.origin, "problem": base.problem},
                "bundle": value if exported else None,
                "certificates": _count(value) if exported else None,
                "rebuilt": _rebuilt(value if exported else None),
            }
        )
    if first_base is not None and first_base.path:
        from cert_session import _pem

        try:
            with open(first_base.path, "rb") as f:
                ders = b"".join(b.cert_der for b in _pem.iter_blocks(f.read()))
            problems.extend(_sources.chain_problems(sources.certs, ders, first_base.path))
        except OSError:
            pass

    if sys.flags.no_site:
        active, reason = False, "Python was started with -S, so no .pth file ran; call cert_session.activate()"
    elif disabled:
        active, reason = False, "CERT_SESSION_DISABLE is set"
    elif not pths:
        active, reason = False, "cert_session_hook.pth is not installed in this environment's site-packages"
    elif not sources.certs:
        active, reason = False, "no company certificate is configured (cert_session/certs/ is empty and CERT_SESSION_CERTS names none)"
    elif not any(row["exported"] for row in target_rows):
        active, reason = False, "no target variable was exported; see the problems below"
    else:
        active, reason = True, "exporting " + ", ".join(r["variable"] for r in target_rows if r["exported"])

    by_path: dict[str, list[dict[str, str]]] = {}
    for p in problems:
        by_path.setdefault(p.path, []).append({"severity": p.severity, "message": p.message})
    certificates = []
    for cert in sources.certs:
        info = cert.info
        own = [
            {"severity": p.severity, "message": p.message}
            for p in problems
            if p.path == cert.path and (info.subject in p.message or info.fingerprint[:23] in p.message)
        ]
        certificates.append(
            {
                "path": cert.path,
                "source": cert.origin,
                "subject": info.subject,
                "issuer": info.issuer,
                "not_before": format_time(info.not_before),
                "not_after": format_time(info.not_after),
                "sha256": info.fingerprint,
                "problems": own,
            }
        )
    errors = [p for p in problems if p.severity == "error"]
    cache_dirs = [d for d, _ in __import__("cert_session._cache", fromlist=["x"]).writable_dirs()]
    return {
        "version": _hook.__version__,
        "python": sys.executable,
        "hook": {"active": active, "reason": reason, "pth": pths, "disabled": disabled},
        "targets": target_rows,
        "cache": {"directory": cache_dirs[0], "fallback": cache_dirs[-1]},
        "certificates": certificates,
        "problems": [{"severity": p.severity, "path": p.path, "message": p.message} for p in problems],
        "ok": not errors,
    }


def render(data: dict[str, Any]) -> str:
    out = []
    hook = data["hook"]
    out.append("cert-session %s (%s)" % (data["version"], data["python"]))
    out.append("hook: %s: %s" % ("active" if hook["active"] else "inactive", hook["reason"]))
    for row in data["targets"]:
        out.append("target %s: %s=%s" % (row["target"], row["variable"], row["value"] or "(unset)"))
        base = row["base"]
        out.append("  base: %s%s" % (base["origin"], " - " + base["problem"] if base["problem"] else ""))
        if row["bundle"]:
            out.append("  merged bundle: %s (%s certificates)" % (row["bundle"], row["certificates"]))
            if row["rebuilt"]["at"]:
                out.append("  last rebuilt: %s (%s)" % (row["rebuilt"]["at"], row["rebuilt"]["reason"]))
    out.append("cache: %s" % data["cache"]["directory"])
    if not data["certificates"]:
        out.append("company certificates: none")
    for cert in data["certificates"]:
        out.append("company certificate %s [%s]" % (cert["path"], cert["source"]))
        out.append("  subject: %s" % cert["subject"])
        out.append("  issuer:  %s" % cert["issuer"])
        out.append("  valid:   %s to %s" % (cert["not_before"], cert["not_after"]))
        out.append("  sha256:  %s" % cert["sha256"])
    for p in data["problems"]:
        out.append("%s: %s" % (p["severity"].upper(), p["message"]))
    return "\n".join(out)
