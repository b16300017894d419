"""``cert_session.Session``: the explicit API of the earlier package.

A ``requests.Session`` that trusts certifi + company certificates +
``certs_filepath``. Unlike a plain Session, its bundle also wins over a
preset ``REQUESTS_CA_BUNDLE``, which requests otherwise lets beat
``Session.verify`` (https://github.com/psf/requests/issues/3829).
The bundle lives in the per-user cache, so no temp file is left behind.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from ._rebuild import bundle_for

__all__ = ["Session"]


class Session(requests.Session):
    def __init__(self, certs_filepath: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        extra = [os.fspath(certs_filepath)] if certs_filepath is not None else []
        for path in extra:
            if not os.path.isfile(path):
                raise FileNotFoundError("certs_filepath %s does not exist or is not a file" % path)
        self.certs_filepath = extra[0] if extra else None
        self.verify = bundle_for("certifi:", extra)

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:  # requests' own return type is a private TypedDict of its stubs
        settings: Any = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # A request-level verify= wins; otherwise our bundle beats the
        # environment (psf/requests#3829).
        if (verify is None or verify is True) and self.verify is not True:
            settings["verify"] = self.verify
        return settings
