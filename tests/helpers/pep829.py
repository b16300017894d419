"""PEP 829's start-up processing of one site-packages directory, written from the PEP's text.

No Python 3.15 is installed here, so the suite runs this in an interpreter
started with ``-S`` (no site processing of its own). Read from the PEP
(https://peps.python.org/pep-0829/), for each site directory:

1. the ``<name>.pth`` files, sorted by name, names starting with "." left out;
2. their path lines (not comments, not ``import`` lines) are collected,
   anchored at the site directory, de-duplicated, and appended to sys.path
   when the directory exists, before any start-up code runs;
3. the ``<name>.start`` files, sorted; a ``.start`` file matching a ``.pth``
   file disables every ``import`` line of that ``.pth`` file;
4. each ``.start`` line (blank lines and ``#`` comments skipped) is a
   ``pkg.mod:callable`` entry point, resolved with ``pkgutil.resolve_name``
   and called with no arguments; an error is printed to stderr and the next
   entry point runs;
5. during the deprecation period (3.15 to 3.17) the ``import`` lines of
   ``.pth`` files without a matching ``.start`` still run; from 3.18 they
   are ignored.

Where the PEP leaves an order open (the remaining ``import`` lines against
the entry points), this runs the entry points first; nothing here depends on it.
This file is sent to the child as source: it uses the standard library only.
"""

import os
import pkgutil
import sys
import traceback

RAN = []  # what ran, in order: ("import", pth name, line) or ("entry", start name, entry point)


def process(sitedir, phase):
    """Process ``sitedir`` as Python ``phase`` ("3.15": deprecation period, "3.18": import lines ignored)."""
    if sitedir not in sys.path:
        sys.path.append(sitedir)  # site.addsitedir adds the directory itself first
    names = sorted(n for n in os.listdir(sitedir) if not n.startswith("."))
    pth = [n for n in names if n.endswith(".pth")]
    start = [n for n in names if n.endswith(".start")]
    imports = []
    for name in pth:
        try:
            with open(os.path.join(sitedir, name), encoding="utf-8-sig") as f:  # what 3.20 requires
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue  # a file that cannot be read is skipped
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith(("import ", "import\t")):
                imports.append((name, line))
                continue
            directory = os.path.join(sitedir, line.rstrip())
            if os.path.exists(directory) and directory not in sys.path:
                sys.path.append(directory)
    matched = {n[: -len(".start")] for n in start}
    entry_points = []
    for name in start:
        try:
            with open(os.path.join(sitedir, name), encoding="utf-8-sig") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        entry_points += [(name, line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    for name, entry_point in entry_points:
        RAN.append(("entry", name, entry_point))
        try:
            pkgutil.resolve_name(entry_point)()
        except Exception:  # noqa: BLE001 - reported, and processing goes on
            traceback.print_exc()
    if phase == "3.15":
        for name, line in imports:
            if name[: -len(".pth")] in matched:
                continue
            RAN.append(("import", name, line))
            try:
                exec(line)  # noqa: S102 - exactly what site does with an import line
            except Exception:  # noqa: BLE001
                traceback.print_exc()
