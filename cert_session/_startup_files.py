"""Which start-up file a wheel carries, and for which Pythons (PEP 829).

Python 3.15 reads ``<name>.start`` files (PEP 829) and resolves each entry
point with ``pkgutil.resolve_name``: the mere presence of one imports
pkgutil, re, enum, functools, collections and importlib.util in every
process, about 1.7x the start-up of a bare interpreter. The ``import`` line
of a ``.pth`` file keeps working until 3.17 (a message under ``-v`` only),
is ignored silently on 3.18 and 3.19, and warns from 3.20. So each wheel
carries exactly one start-up file:

- Python 3.8 to 3.17: ``cert_session_hook.pth`` (``import cert_session_hook``),
  in a wheel tagged ``py38.py39...py317``;
- Python 3.18 and later: ``cert_session_hook.start`` (``cert_session_hook:start``),
  in a wheel tagged ``py318``.

Not ``py3`` for the first: pip ranks a wheel by its best tag, and
packaging.tags orders ``py319, py3, py318, ...`` on 3.19, so a ``py3``
wheel would beat the ``py318`` one there. setup.py loads this file by path
(it needs no import of the package).
"""

from __future__ import annotations

__all__ = ["PTH", "START", "VARIANTS", "for_version"]

PTH = "cert_session_hook.pth"
START = "cert_session_hook.start"
FIRST_START_ONLY = (3, 18)  # PEP 829: the first Python that ignores .pth import lines

# (python tag, start-up file name, its contents): for Python 3.8-3.17, then for 3.18 and later
VARIANTS = (
    (".".join("py3%d" % minor for minor in range(8, FIRST_START_ONLY[1])), PTH, b"import cert_session_hook\n"),
    ("py3%d" % FIRST_START_ONLY[1], START, b"cert_session_hook:start\n"),
)


def for_version(version_info: tuple[int, ...]) -> tuple[str, str, bytes]:
    """(python tag, start-up file name, contents) of the wheel for Python ``version_info``."""
    return VARIANTS[1] if tuple(version_info[:2]) >= FIRST_START_ONLY else VARIANTS[0]
