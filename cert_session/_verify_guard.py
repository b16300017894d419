"""The requests integration: one rule for every bundle requests uses.

requests lets ``REQUESTS_CA_BUNDLE`` beat ``Session.verify``
(https://github.com/psf/requests/issues/3829). Once the hook exports that
variable, a tool that set ``session.verify = False`` for a dev server would
get verification back, and one that set ``session.verify = "its.pem"`` (pip's
``cert``/``PIP_CERT``, twine, conda, poetry) would get our bundle instead of
its own. This module replaces requests' resolution with one rule
(``cert_session._verify_rule``), in ``Session.merge_environment_settings`` of
requests, of pip's vendored copy and of niquests (which kept requests'
precedence).

It also lets new connections reuse a CA context loaded once per bundle
(``cert_session._preload``, installed by the first connection, not at
import; ``CERT_SESSION_PRELOAD=0`` turns that off).

A finder on ``sys.meta_path`` (the start-up module ``cert_session_hook``
itself in steady state, else ``cert_session._startup.GuardFinder``) imports
this module when ``requests.sessions`` is first imported, so a process that
never imports requests never loads it. A finder has ``pending`` (the module
names still to guard), ``bundle`` (the merged bundle requests gets, or None)
and ``find_spec``.
``merge_environment_settings`` has had the same signature and the same
resolution order from requests 2.28 to today.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

# Nothing of the package is imported here: this module loads inside
# `import requests`, where each module of ours costs about 0.4 million
# instructions (issue #18). The rule itself (cert_session._verify_rule) and
# the preload load at the first request; _log only when there is trouble.

__all__ = ["install", "find_spec", "guard"]

_MARK = "__cert_session_verify_guard__"
# niquests copied requests' merge_environment_settings, and with it the
# precedence of REQUESTS_CA_BUNDLE over Session.verify (psf/requests#3829).
GUARDED_MODULES = ("requests.sessions", "pip._vendor.requests.sessions", "niquests.sessions")
# Where cert_session._preload may hand pools a shared context: requests'
# HTTPAdapter over urllib3. niquests' pools are urllib3-future's, which
# configure the context they are given (ALPN per connection).
_PRELOADED = ("requests", "pip._vendor.requests")
# cert_session._verify_rule.decide, loaded by the first request.
_decide: Callable[[str, object, object, str], object] | None = None


def find_spec(
    finder: Any, name: str, path: Sequence[str] | None, target: ModuleType | None
) -> ModuleSpec | None:
    """The real spec of ``name``, with a loader that runs ``guard`` after the real one.

    Called by a guard finder for a watched name only. Never raises: on any
    trouble of ours the import goes on as if no guard were there.
    """
    for other in list(sys.meta_path):  # the real spec, as if no guard were there
        find = getattr(other, "find_spec", None)
        # Every guard, not just this one: two guards asking each other would never end.
        if other is finder or find is None or getattr(other, "cert_session_guard", False):
            continue
        try:
            spec: ModuleSpec | None = find(name, path, target)
        except Exception:  # noqa: BLE001 - not ours: importlib will meet it when it asks that finder
            return None
        if spec is not None:
            break
    else:
        return None
    try:
        if spec is None or getattr(spec.loader, "exec_module", None) is None:
            return spec
        # A copy of the spec with our loader: the real loader is never
        # modified, so a zipimport loader, which a whole archive shares, and
        # two threads importing at once each keep their own.
        watched: ModuleSpec = object.__new__(type(spec))
        watched.__dict__.update(spec.__dict__)
        watched.loader = _WatchedLoader(spec.loader, finder, name)  # type: ignore[assignment]
        return watched
    except Exception as exc:  # noqa: BLE001 - an import must never fail because of us
        from . import _log

        _log.warn(
            "cannot guard %s (%s: %s); CERT_SESSION_DISABLE=1 turns the hook off"
            % (name, type(exc).__name__, exc)
        )
        return spec


class _WatchedLoader:
    """The real loader, then ``guard``; everything else is the real loader's."""

    def __init__(self, loader: Any, finder: Any, name: str) -> None:
        self._loader = loader
        self._finder = finder
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        made: ModuleType | None = None if create is None else create(spec)
        return made

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._loader.exec_module(module)  # requests' own errors are requests' own
        finally:
            # The module keeps the real loader, as if we had never been there.
            try:
                if getattr(module, "__loader__", None) is self:
                    module.__loader__ = self._loader
                spec = getattr(module, "__spec__", None)
                if getattr(spec, "loader", None) is self:
                    spec.loader = self._loader  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001, S110 - a read-only module: keep ours, it delegates
                pass
        guard(self._finder, self._name, module)


def guard(finder: Any, name: str, module: ModuleType) -> None:
    """Apply the rule to a freshly imported sessions module; never raises.

    The finder stays on ``sys.meta_path`` once nothing is pending (one set
    lookup per import): removing it while another thread's import walks
    that list would make that import skip the finder after it.
    """
    try:
        finder.pending.discard(name)
        install(module, finder)
    except Exception as exc:  # noqa: BLE001 - an import must never fail because of us
        from . import _log

        _log.warn(
            "cannot guard verify= of %s (%s: %s); REQUESTS_CA_BUNDLE may override a "
            "tool's own bundle" % (name, type(exc).__name__, exc)
        )


def install(sessions: ModuleType, finder: Any) -> bool:
    """Guard ``sessions.Session`` (requests' or pip's copy); True if patched now.

    ``finder.bundle`` is the merged bundle the hook exported in this process,
    or None once it no longer exports one (read at every request).
    """
    session_cls = getattr(sessions, "Session", None)
    original = getattr(session_cls, "merge_environment_settings", None)
    if session_cls is None or original is None or getattr(original, _MARK, False):
        return False
    package = sessions.__name__.rpartition(".")[0] or sessions.__name__

    @functools.wraps(original)
    def merge_environment_settings(
        self: Any, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = original(self, url, proxies, stream, verify, cert)
        try:
            bundle = finder.bundle
            if bundle is None or not isinstance(settings, dict):
                return settings
            # requests' own precedence between the two levels: the request's
            # value unless it is None (requests.sessions.merge_setting).
            asked = getattr(self, "verify", True) if verify is None else verify
            resolved = settings.get("verify")
            used = (_decide or _load_rule())(package, asked, resolved, bundle)
        except Exception as exc:  # noqa: BLE001 - a request must never fail because of us
            from . import _log

            _log.debug("%s: verify guard skipped (%s: %s)" % (package, type(exc).__name__, exc))
            return settings
        if used is not resolved and used != resolved:
            settings["verify"] = used
        return settings

    setattr(merge_environment_settings, _MARK, True)
    session_cls.merge_environment_settings = merge_environment_settings
    if package == "niquests":
        session_cls.merge_environment_settings = _os_verifier_default(merge_environment_settings, finder)
    if package in _PRELOADED and os.environ.get("CERT_SESSION_PRELOAD", "") != "0":
        _preload_later(sessions, package)
    return True


def _os_verifier_default(guarded: Callable[..., Any], finder: Any) -> Callable[..., Any]:
    """niquests' default ``verify``: the ``ssl`` target's bundle, which holds the OS store, not requests'.

    Without ``REQUESTS_CA_BUNDLE``, niquests verifies with the operating
    system's store (wassima: the system CA files on Linux, the keychains,
    the Windows stores). Our ``REQUESTS_CA_BUNDLE`` (certifi and the company
    certificates) would replace that store. The exported ``SSL_CERT_FILE``
    holds it: OpenSSL's default file (the system store on Linux), certifi,
    the OS store on Windows and macOS (``_config.kept_os_store``) and the
    company certificates. So a default-verify niquests call gets that bundle,
    unless something niquests would have used instead was preset
    (``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``: then the guard's bundle
    is that file plus the company certificates), or ``SSL_CERT_FILE`` was
    preset (its bundle then holds that file, not the store), or nothing is
    exported (``CERT_SESSION_EXPORT=0``, or no ``ssl`` target).
    """

    @functools.wraps(guarded)
    def merge_environment_settings(self: Any, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = guarded(self, url, proxies, stream, verify, cert)
        try:
            asked = getattr(self, "verify", True) if verify is None else verify
            bundle = finder.bundle
            if (asked is True or asked is None) and bundle is not None and settings.get("verify") == bundle:
                from . import _layout, _log

                environ = os.environ
                store = environ.get("SSL_CERT_FILE", "")
                curl = environ.get("CURL_CA_BUNDLE", "")
                if (
                    _layout.is_ours(store)
                    and not environ.get("CERT_SESSION_ORIG_REQUESTS_CA_BUNDLE")
                    and not environ.get("CERT_SESSION_ORIG_SSL_CERT_FILE")
                    and not environ.get("CERT_SESSION_ORIG_CURL_CA_BUNDLE")
                    and (not curl or _layout.is_ours(curl))
                ):
                    settings["verify"] = store
                    if _log.debugging():
                        _log.debug("niquests: default verify; using %s (with the OS store) instead of %s" % (store, bundle))
        except Exception as exc:  # noqa: BLE001 - a request must never fail because of us
            from . import _log

            _log.debug("niquests: OS store default skipped (%s: %s)" % (type(exc).__name__, exc))
        return settings

    setattr(merge_environment_settings, _MARK, True)
    return merge_environment_settings


def _load_rule() -> Callable[[str, object, object, str], object]:
    global _decide
    from . import _verify_rule

    _decide = _verify_rule.decide
    return _decide


def _preload_later(sessions: ModuleType, package: str) -> None:
    """Install ``cert_session._preload`` when the first connection asks for one, not at ``import requests``.

    Importing and installing it at import cost about 3.5 million instructions
    in every process that imports requests, most of which never connect
    (issue #18). A stand-in for ``get_connection_with_tls_context`` (the
    method every request goes through on requests >= 2.32.2) puts requests'
    own method back, installs the preload, and hands the call to whatever the
    class has then.
    """
    adapter_cls = getattr(sessions, "HTTPAdapter", None)
    original = getattr(adapter_cls, "get_connection_with_tls_context", None)
    if adapter_cls is None or original is None:
        from . import _log

        _log.debug("%s: no preloaded CA contexts (they need requests >= 2.32.2)" % package)
        return
    lock = threading.Lock()

    def get_connection_with_tls_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            if adapter_cls.__dict__.get("get_connection_with_tls_context") is get_connection_with_tls_context:
                adapter_cls.get_connection_with_tls_context = original
                try:
                    from . import _preload

                    _preload.install(sessions)
                except Exception as exc:  # noqa: BLE001 - without it, requests loads the CA file itself
                    from . import _log

                    _log.debug("%s: no preloaded CA contexts (%s: %s)" % (package, type(exc).__name__, exc))
        return adapter_cls.get_connection_with_tls_context(self, *args, **kwargs)

    functools.update_wrapper(get_connection_with_tls_context, original)
    adapter_cls.get_connection_with_tls_context = get_connection_with_tls_context
