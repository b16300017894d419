"""The ``cert-session`` command (also ``python -m cert_session``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

__all__ = ["main"]


def _where(args: argparse.Namespace) -> int:
    from cert_session import where

    print(where())
    return 0


def _status(args: argparse.Namespace) -> int:
    from cert_session import _status as status

    data = status.collect()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(status.render(data))
    return 0 if data["ok"] else 1


def _rebuild(args: argparse.Namespace) -> int:
    import cert_session_hook as hook

    if args.system:
        from cert_session._api import rebuild_system

        exports = rebuild_system()
    else:
        exports = hook.activate(force=True)
    if not exports:
        print("nothing exported: no usable company certificate (see `cert-session status`)")
        return 1
    for var, path in sorted(exports.items()):
        print("%s=%s" % (var, path))
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except (OSError, RuntimeError) as exc:
        print("cert-session: error: %s" % exc, file=sys.stderr)
        return 2
