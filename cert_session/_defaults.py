"""What a company wheel may change, and the version: constants only, no imports.

``cert-session package --targets`` and ``--export`` rewrite the
``DEFAULT_TARGETS = "..."`` and ``DEFAULT_EXPORT = "..."`` lines of this file
in the wheel it writes (cert_session/_package.py), so keep each on one line
in exactly that form. The start-up fast path never imports
this module; the general path records this file's stat fingerprint in every
fast state, so installing another version or a company wheel with other
defaults is noticed at the next start.
"""

__all__ = ["__version__", "DEFAULT_TARGETS", "DEFAULT_EXPORT", "DEFAULT_OS_STORE"]

__version__ = "0.2.0"

# CERT_SESSION_TARGETS overrides it. requests and the ssl module's defaults
# (urllib, aiohttp, httpx, uv, ...) by default (issue #19); "requests" alone
# gives back the earlier requests-only default.
DEFAULT_TARGETS = "requests,ssl"

# CERT_SESSION_EXPORT overrides it. "0": nothing is written to os.environ;
# requests and pip in this environment still use the merged bundle in-process.
DEFAULT_EXPORT = "1"

# "1": add the operating system's trust store to every target's base
# (`cert-session package --os-store`); CERT_SESSION_OS_STORE overrides it.
DEFAULT_OS_STORE = "0"
