"""The ``cert-session`` command (also ``python -m cert_session``)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import Iterator, Sequence

__all__ = ["main"]


def _where(args: argparse.Namespace) -> int:
    from ._api import where

    print(where())
    return 0


def _status(args: argparse.Namespace) -> int:
    from . import _log
    from . import _status as status

    data = status.collect()
    for problem in data["problems"]:  # shown here: the hook's line would repeat one
        _log.said(problem["message"])
    for row in data["targets"]:  # the hook words an unusable base its own way (_rebuild.build)
        if row["base"]["problem"]:
            _log.said("%s: %s." % (row["variable"], row["base"]["problem"]))
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(status.render(data))
    return 0 if data["ok"] else 1


def _rebuild(args: argparse.Namespace) -> int:
    from . import _startup

    if args.system:
        from ._api import rebuild_system

        exports = rebuild_system()
    else:
        exports = _startup.activate(force=True)
    if not exports:
        # No usable company certificate, or none any bundle could hold (an
        # intermediate whose root no base has): the warning above says which.
        print("nothing exported: no company certificate could be added (see `cert-session status`)")
        return 1
    for var, path in sorted(exports.items()):
        print("%s=%s" % (var, path))
    return 0


def _env(args: argparse.Namespace) -> int:
    from . import _shell

    shell = args.shell or _shell.default_shell()
    try:
        lines, exports = _shell.env_lines(shell, args.targets)
    except _shell.ShellError as exc:
        print("cert-session: error: %s" % exc, file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    if not exports:
        print(
            "cert-session: nothing to export: no usable company certificate here; "
            "`cert-session status` says why",
            file=sys.stderr,
        )
        return 1
    return 0


def _cache(args: argparse.Namespace) -> int:
    from . import _cache as cache

    removed = cache.prune_environments() if args.prune else []
    envs = cache.environments()
    if args.json:
        rows = [dict(env._asdict(), removed=False) for env in envs]
        rows += [dict(env._asdict(), removed=True) for env in removed]
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    for env in removed:
        print("removed %s  %s  (its environment %s no longer exists)" % (env.directory, _kib(env.size), env.prefix))
    for env in envs:
        if env.prefix is None:
            what = "environment unknown (no marker: made by an older version or not by cert-session; left alone)"
        elif env.current:
            what = "%s (this environment)" % env.prefix
        elif env.exists:
            what = env.prefix
        else:
            what = "%s NO LONGER EXISTS (`cert-session cache --prune` removes this directory)" % env.prefix
        print("%s  %s  %s" % (env.directory, _kib(env.size), what))
    if not envs and not removed:
        print("no cache directory yet")
    return 0


def _kib(size: int) -> str:
    return "%.1f KiB" % (size / 1024.0)


def _check(args: argparse.Namespace) -> int:
    from ._check import check

    return check(args.url, timeout=args.timeout, fetch=args.fetch_issuer)


def _package(args: argparse.Namespace) -> int:
    from ._package import package

    return package(
        args.name, args.cert or [], args.output, targets=args.targets, version=args.version, export=args.export,
        os_store=args.os_store,
    )


def _demo(args: argparse.Namespace) -> int:
    from ._demo import demo

    return demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cert-session",
        description="Trust your company's CA chain on top of the public roots, in every Python process.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("where", help="print the bundle requests uses here")
    p.set_defaults(func=_where)
    p = sub.add_parser("status", help="show what is trusted and why")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_status)
    p = sub.add_parser("rebuild", help="rebuild the merged bundles now")
    p.add_argument(
        "--system",
        action="store_true",
        help="prebuild into the environment (for read-only container images)",
    )
    p.set_defaults(func=_rebuild)
    p = sub.add_parser(
        "env",
        help="print shell lines exporting the merged bundles, for tools started from a shell",
        description='Print the lines that export the merged bundles, e.g. eval "$(cert-session env)" '
        "in ~/.bashrc. The shell is detected from $SHELL (POSIX) or PowerShell vs cmd (Windows).",
    )
    p.add_argument("--shell", choices=["bash", "zsh", "fish", "powershell", "cmd"], help="syntax (default: detected)")
    p.add_argument("--targets", help="comma-separated targets (default: CERT_SESSION_TARGETS or the wheel's default)")
    p.set_defaults(func=_env)
    p = sub.add_parser(
        "cache",
        help="list each environment's cache directory, its size and whether the environment still exists",
    )
    p.add_argument("--prune", action="store_true", help="remove the directories of environments that no longer exist")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cache)
    p = sub.add_parser("check", help="connect to URL and explain whether its chain verifies here")
    p.add_argument("url", help="https://host[:port]/ or host[:port]")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per connection (default 10)")
    p.add_argument(
        "--fetch-issuer",
        action="store_true",
        help="download the issuer named in the certificate's AIA URL for you to compare (never trusted)",
    )
    p.set_defaults(func=_check)
    p = sub.add_parser("package", help="build a company wheel embedding validated CA certificates")
    p.add_argument("--name", required=True, help="distribution name of the wheel, e.g. acme-certs")
    p.add_argument("--cert", action="append", metavar="FILE", help="a CA certificate (repeatable)")
    p.add_argument(
        "--targets", help="comma-separated default targets of the wheel (default requests,ssl; any of requests,ssl,curl,aws,git,node)"
    )
    p.add_argument(
        "--export",
        choices=["0", "1"],
        help="default of CERT_SESSION_EXPORT: 1 exports the variables to child processes, 0 exports nothing",
    )
    p.add_argument(
        "--os-store", action="store_true", help="add the operating system's trust store by default (CERT_SESSION_OS_STORE=1)"
    )
    p.add_argument("--version", help="wheel version (default: this cert-session's); bump it when certificates change")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory for the wheel")
    p.set_defaults(func=_package)
    p = sub.add_parser("demo", help="show the whole story on throwaway certificates (needs the [demo] extra)")
    p.set_defaults(func=_demo)
    return parser


class _Discard(io.TextIOBase):
    """Where output goes when there is no console (pythonw.exe sets sys.stdout and sys.stderr to None)."""

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def _printable_streams() -> Iterator[None]:
    """stdout and stderr that can print any certificate subject, for the duration of main().

    A redirected stream on Windows encodes with the ANSI code page (cp1252),
    which cannot hold a Cyrillic or Japanese subject: print escapes such
    characters (backslashreplace) instead of raising UnicodeEncodeError.
    A missing stream is replaced by one that discards. Both are restored.
    """
    saved = {name: getattr(sys, name) for name in ("stdout", "stderr")}
    errors: dict[str, str] = {}
    for name, stream in saved.items():
        if stream is None:
            setattr(sys, name, _Discard())
            continue
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            errors[name] = stream.errors
            reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            errors.pop(name, None)  # not a TextIOWrapper, or already written to in another way
    try:
        yield
    finally:
        for name, stream in saved.items():
            if name in errors:
                with contextlib.suppress(AttributeError, ValueError, OSError):
                    stream.reconfigure(errors=errors[name])
            setattr(sys, name, stream)


def main(argv: Sequence[str] | None = None) -> int:
    from . import _log

    with _printable_streams():
        args = build_parser().parse_args(argv)
        # The hook's one line (at start-up or when the command rebuilds) waits:
        # status and check print the same problems themselves, each once.
        _log.hold()
        try:
            return int(args.func(args))
        except KeyboardInterrupt:
            return 130
        except (OSError, RuntimeError) as exc:
            print("cert-session: error: %s" % exc, file=sys.stderr)
            return 2
        finally:
            _log.release()
