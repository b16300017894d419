"""``cert-session env``: the lines that export the merged bundles, in a shell's syntax.

A tool started from a shell (curl, git, uv, a pipx tool without the
package) never runs the start-up hook. ``eval "$(cert-session env)"`` in a
profile gives that shell the same variables a hooked Python exports: each
selected target's bundle, the value it replaced (``CERT_SESSION_ORIG_*``,
so a hooked Python started there re-derives instead of merging twice) and
``CERT_SESSION_TARGETS`` (so it keeps them). The bundles are the ones the
state of that configuration names, the same paths ``cert-session status``
shows. Their names stay the same through rebuilds (``_rebuild.bundle_name``):
a shell that evaluated these lines a month ago still exports a path that
holds the current bundle after a certifi upgrade.
"""

from __future__ import annotations

import os

from . import _config, _startup
from ._platform import CURRENT

__all__ = ["SHELLS", "default_shell", "set_line", "unset_line", "env_lines"]

SHELLS = ("bash", "zsh", "fish", "powershell", "cmd")


class ShellError(ValueError):
    """A value this shell's syntax cannot carry, or a bad argument."""


def default_shell() -> str:
    """``$SHELL`` on POSIX; PowerShell or cmd on Windows (see ``_platform``)."""
    return CURRENT.default_shell(os.environ)


def _check(shell: str, var: str, value: str) -> None:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ShellError("%s=%r contains a line break; no shell line can carry it" % (var, value))
    if shell == "cmd" and '"' in value:
        raise ShellError('%s=%r contains a double quote, which `set "VAR=..."` in cmd.exe cannot carry' % (var, value))


def set_line(shell: str, var: str, value: str) -> str:
    """One line that sets ``var`` to ``value`` for the shell and its children."""
    _check(shell, var, value)
    if shell in ("bash", "zsh"):
        return "export %s='%s'" % (var, value.replace("'", "'\\''"))
    if shell == "fish":
        return "set -gx %s '%s'" % (var, value.replace("\\", "\\\\").replace("'", "\\'"))
    if shell == "powershell":
        return "$env:%s = '%s'" % (var, value.replace("'", "''"))
    if shell == "cmd":
        # For a batch file (`call`): %% is a literal percent sign there.
        return 'set "%s=%s"' % (var, value.replace("%", "%%"))
    raise ShellError("unknown shell %r; choose from %s" % (shell, ", ".join(SHELLS)))


def unset_line(shell: str, var: str) -> str:
    if shell in ("bash", "zsh"):
        return "unset %s" % var
    if shell == "fish":
        return "set -e %s" % var
    if shell == "powershell":
        return "Remove-Item Env:%s -ErrorAction SilentlyContinue" % var
    if shell == "cmd":
        return 'set "%s="' % var
    raise ShellError("unknown shell %r; choose from %s" % (shell, ", ".join(SHELLS)))


def env_lines(shell: str, targets: str | None = None) -> tuple[list[str], dict[str, str]]:
    """(lines for ``shell``, {VAR: bundle}) for the selected targets, built if needed.

    ``targets`` replaces CERT_SESSION_TARGETS (in this process only).
    """
    if shell not in SHELLS:
        raise ShellError("unknown shell %r; choose from %s" % (shell, ", ".join(SHELLS)))
    environ = os.environ
    if targets is not None:
        chosen = [t.strip().lower() for t in targets.split(",") if t.strip()]
        unknown = [t for t in chosen if t not in _config.TARGETS]
        if unknown or not chosen:
            raise ShellError(
                "--targets %r: unknown target(s) %s; choose from %s"
                % (targets, ", ".join(unknown) or "(none given)", ", ".join(_config.TARGETS))
            )
        environ["CERT_SESSION_TARGETS"] = ",".join(dict.fromkeys(chosen))
    exports = _startup.activate()
    origs = _config.originals()
    sets, unsets = _startup.plan(exports, origs, export=True)
    lines = [set_line(shell, "CERT_SESSION_TARGETS", ",".join(_config.selected_targets()))]
    lines += [set_line(shell, var, value) for var, value in sets]
    lines += [unset_line(shell, var) for var in unsets]
    return lines, exports
