"""cert-session: trust your company's CA chain on top of the public roots.

Importing this package does no work. See README.md.
"""

from __future__ import annotations

# Not `from typing import ...`: importing typing costs ~9 ms, and the hook's
# rebuild path imports this package. mypy treats this constant as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._defaults import __version__
    from .session import Session

__all__ = ["where", "activate", "Session", "__version__"]


def where() -> str:
    """Path of the bundle requests should use here, building it if needed.

    The merged bundle (base + company certificates) when there is any
    company certificate; otherwise the base bundle itself.
    """
    from ._api import where as _where

    return _where()


def activate() -> dict[str, str]:
    """Export the merged bundles now (frozen apps, ``python -S``).

    Returns ``{VARIABLE: bundle path}`` of what was exported. Idempotent.
    """
    from . import _startup

    exports: dict[str, str] = _startup.activate()
    return exports


def __getattr__(name: str) -> Any:
    # _defaults on first use: the verify guard imports this package inside
    # `import requests`, where one more module costs about 0.4 million
    # instructions (issue #18).
    if name == "__version__":
        from ._defaults import __version__

        return __version__
    # requests is imported only when Session is used.
    if name == "Session":
        from .session import Session

        return Session
    raise AttributeError("module 'cert_session' has no attribute %r" % name)
