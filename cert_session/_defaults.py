"""What a company wheel may change, and the version: constants only, no imports.

``cert-session package --targets`` rewrites the ``DEFAULT_TARGETS = "..."``
line of this file in the wheel it writes (cert_session/_package.py), so keep
it on one line in exactly that form. The start-up fast path never imports
this module; the general path records this file's stat fingerprint in every
fast state, so installing another version or a company wheel with other
defaults is noticed at the next start.
"""

__all__ = ["__version__", "DEFAULT_TARGETS", "DEFAULT_OS_STORE"]

__version__ = "0.2.0"

# CERT_SESSION_TARGETS overrides it.
DEFAULT_TARGETS = "requests"

# "1": add the operating system's trust store to every target's base
# (`cert-session package --os-store`); CERT_SESSION_OS_STORE overrides it.
DEFAULT_OS_STORE = "0"
