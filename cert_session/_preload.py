"""Load each trusted bundle once per process (issue 13).

When requests hands urllib3 a CA *file*, urllib3 builds a new ``SSLContext``
and parses that file for every new connection; under OpenSSL 3 the parse is
most of a new connection (https://github.com/python/cpython/issues/95031).
For the plainest requests only, this module hands urllib3 a context already
loaded from the same file instead, shared by every pool that asks for exactly
the same verification.

It applies only when all of these hold, and otherwise leaves the request to
requests' own code, untouched:

- requests >= 2.32.2, whose pools are keyed by their TLS settings
  (``get_connection_with_tls_context``, the CVE-2024-35195 fix). Older
  requests keys pools by host alone and sets the CA file on a shared pool for
  each request (``cert_verify``), so a context given to one request could
  serve another: there the preload is off.
- ``verify`` is one of our bundles (``cert-session-<hex>.pem``, which the
  verify guard chose) and a regular file; no client certificate (``cert=``);
  an ``https://`` URL; no proxy.
- The adapter is requests' ``HTTPAdapter``, or a subclass that overrides none
  of the methods involved, and its ``PoolManager`` carries no TLS settings of
  its own (a tool's own ``ssl_context`` is left alone).
- urllib3 uses the standard library's ``SSLContext`` (not pyOpenSSL or an
  injected truststore), and is urllib3 itself, which sets nothing on a
  context it is given but what the context already holds; not urllib3-future
  (installed with niquests, it replaces urllib3's files), which sets each
  connection's ALPN list on it (``_known_consumer``).
- ``CERT_SESSION_PRELOAD`` is not ``0``.

The contexts:

- are made by urllib3's own ``create_urllib3_context`` with ``CERT_REQUIRED``
  (the context urllib3 makes for such a connection), then loaded from the
  file: verification is exactly what requests would have done;
- are keyed by (urllib3 package, path, stat fingerprint, SSLKEYLOGFILE). The
  fingerprint is taken before and after the load; a file that changes while
  it is read is not cached. A bundle rewritten in place gets a new context at
  the next request, and so a new pool and a new connection;
- are never changed after creation. urllib3 sets ``verify_mode`` to the value
  it already has (``CERT_REQUIRED``) and the same ALPN list on each new
  connection; our pools have no ``ca_certs`` and no ``cert_file``, so urllib3
  never loads anything else into a shared context;
- go into the pool key as ``ssl_context`` in place of ``ca_certs``: a pool
  made with a context is found only by requests that map to that very
  context, never by ``verify=False``, another bundle or a client certificate;
- are at most ``MAX_CONTEXTS``, least recently used first out.
"""

from __future__ import annotations

import os
import ssl
import stat
import sys
import threading
from collections import OrderedDict
from types import ModuleType
from typing import Any, Callable, Iterable, Tuple

from . import _layout, _log

__all__ = ["MAX_CONTEXTS", "enabled", "install", "cached_contexts"]

MAX_CONTEXTS = 8
_MARK = "__cert_session_preload__"
# requests' methods the preload relies on: an adapter class that overrides
# any of them is a tool's own adapter and is left alone.
_METHODS = (
    "send",
    "get_connection_with_tls_context",
    "build_connection_pool_key_attributes",
    "cert_verify",
    "init_poolmanager",
)
# What requests' own init_poolmanager puts into PoolManager.connection_pool_kw.
_PLAIN_POOL_KW = frozenset(("maxsize", "block"))

_Key = Tuple[str, str, Tuple[int, int, int, int, int], str]
_lock = threading.Lock()
_contexts: OrderedDict[_Key, ssl.SSLContext] = OrderedDict()
# What a published context was loaded from: its own attribute, read at every
# request (a WeakKeyDictionary look-up made a weak reference each time).
_PATH = "_cert_session_bundle"
_NO_KW: dict[str, Any] = {}


def enabled() -> bool:
    """False when ``CERT_SESSION_PRELOAD=0``; read at every request."""
    return _log.getenv("CERT_SESSION_PRELOAD") != "0"


def cached_contexts() -> int:
    """How many preloaded contexts this process holds now."""
    with _lock:
        return len(_contexts)


def install(sessions: ModuleType) -> bool:
    """Preload bundles for the ``HTTPAdapter`` of ``sessions``' requests; True if patched now."""
    package = sessions.__name__.rpartition(".")[0] or sessions.__name__
    adapter_cls = getattr(sessions, "HTTPAdapter", None)
    adapters = sys.modules.get(getattr(adapter_cls, "__module__", ""))
    if adapter_cls is None or adapters is None or any(not hasattr(adapter_cls, m) for m in _METHODS):
        _log.debug("%s: no preloaded CA contexts (they need requests >= 2.32.2)" % package)
        return False
    if getattr(adapter_cls.get_connection_with_tls_context, _MARK, False):
        return False
    pool_manager_cls = getattr(adapters, "PoolManager", None)
    select_proxy = getattr(adapters, "select_proxy", None)
    urllib3 = getattr(pool_manager_cls, "__module__", "").rpartition(".")[0]
    ssl_util = sys.modules.get(urllib3 + ".util.ssl_")
    create = getattr(ssl_util, "create_urllib3_context", None)
    alpn = getattr(ssl_util, "ALPN_PROTOCOLS", None)
    if pool_manager_cls is None or select_proxy is None or ssl_util is None or create is None:
        _log.debug("%s: no preloaded CA contexts (unexpected requests or urllib3 layout)" % package)
        return False
    if not _known_consumer(urllib3, ssl_util):
        _log.debug("%s: no preloaded CA contexts (%s configures the context of each connection)" % (package, urllib3))
        return False
    original_get = adapter_cls.get_connection_with_tls_context
    original_build = adapter_cls.build_connection_pool_key_attributes
    original_verify = adapter_cls.cert_verify

    def context_for(adapter: Any, request: Any, verify: object, proxies: Any, cert: object) -> Any:
        """(host params, context) when this request may use a preloaded context, else None."""
        if cert is not None or not isinstance(verify, str) or not _layout.is_ours(verify):
            return None
        if _log.getenv("CERT_SESSION_PRELOAD") == "0":  # enabled(), inline: this runs at every request
            return None
        cls = type(adapter)
        for m in _METHODS:  # a loop, not any(<generator>): this runs at every request
            if getattr(cls, m, None) is not own[m]:
                return None
        manager: Any = getattr(adapter, "poolmanager", None)
        if type(manager) is not pool_manager_cls or not _PLAIN_POOL_KW.issuperset(manager.connection_pool_kw):
            return None
        url = getattr(request, "url", None)
        if not isinstance(url, str) or url[:8].lower() != "https://" or select_proxy(url, proxies):
            return None
        if getattr(ssl_util, "SSLContext", None) is not ssl.SSLContext:
            return None  # pyOpenSSL or truststore injected: not ours to second-guess
        host_params, pool_kwargs = original_build(adapter, request, verify, cert)
        if host_params.get("scheme") != "https" or pool_kwargs != {"cert_reqs": "CERT_REQUIRED", "ca_certs": verify}:
            return None
        context = _context(urllib3, create, alpn, verify)
        return None if context is None else (host_params, context)

    def get_connection_with_tls_context(
        self: Any, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        try:
            preloaded = context_for(self, request, verify, proxies, cert)
        except Exception as exc:  # noqa: BLE001 - requests' own path reports real errors
            _log.debug("%s: no preloaded context (%s: %s)" % (package, type(exc).__name__, exc))
            preloaded = None
        if preloaded is None:
            return original_get(self, request, verify, proxies=proxies, cert=cert)
        host_params, context = preloaded
        return self.poolmanager.connection_from_host(
            **host_params, pool_kwargs={"cert_reqs": "CERT_REQUIRED", "ssl_context": context}
        )

    def cert_verify(self: Any, conn: Any, url: Any, verify: Any, cert: Any) -> None:
        # urllib3 (1.26 and 2.x) keeps a pool's context in conn_kw, passed to each new connection.
        context = getattr(conn, "conn_kw", _NO_KW).get("ssl_context")
        path = getattr(context, _PATH, None) if type(context) is _SharedContext else None
        if path is None:
            original_verify(self, conn, url, verify, cert)
            return
        # requests' send() passes the same verify and cert as to
        # get_connection_with_tls_context, which chose this pool for them.
        if verify != path or cert is not None or not str(url).lower().startswith("https"):
            raise OSError(
                "cert-session: a pool preloaded for %s was asked for verify=%r, cert=%r; "
                "CERT_SESSION_PRELOAD=0 turns preloading off" % (path, verify, cert)
            )
        # The values the pool was made with: the CAs are in its context. A CA
        # file here would make urllib3 load it into the shared context.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    for function, original in ((get_connection_with_tls_context, original_get), (cert_verify, original_verify)):
        function.__name__ = original.__name__
        function.__qualname__ = original.__qualname__
        function.__doc__ = original.__doc__
        setattr(function, _MARK, True)
    adapter_cls.get_connection_with_tls_context = get_connection_with_tls_context
    adapter_cls.cert_verify = cert_verify
    own: dict[str, Callable[..., Any]] = {m: getattr(adapter_cls, m) for m in _METHODS}
    return True


def _known_consumer(urllib3: str, ssl_util: ModuleType) -> bool:
    """Whether ``urllib3`` is urllib3 itself (1.26 or 2.x), which never changes a context it is given.

    A shared context is safe only with a consumer that sets nothing on it
    but what it already holds (see ``_SharedContext``). urllib3 1.26 and 2.x
    set ``verify_mode`` and the constant ``ALPN_PROTOCOLS``. urllib3-future
    (niquests' urllib3, whose ``.pth`` copies its files over urllib3's, so
    requests uses it too: jawah/urllib3.future) sets the ALPN list each
    connection asks for (``ssl_wrap_socket(alpn_protocols=...)``, h2 and
    http/1.1) on the context it is given, and has a ``backend`` package.
    For it, requests keeps loading the CA file into a context per
    connection, as without us.
    """
    if (urllib3 + ".backend") in sys.modules:
        return False
    wrap = getattr(getattr(ssl_util, "ssl_wrap_socket", None), "__code__", None)
    if wrap is None:
        return False
    return "alpn_protocols" not in wrap.co_varnames[: wrap.co_argcount + wrap.co_kwonlyargcount]


def _descriptor(name: str) -> Any:
    for klass in ssl.SSLContext.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(name)


_VERIFY_MODE = _descriptor("verify_mode")
_CHECK_HOSTNAME = _descriptor("check_hostname")


class _SharedContext(ssl.SSLContext):
    """A loaded context shared by pools and threads, frozen once published.

    urllib3 sets ``verify_mode`` and the ALPN list on the context of every new
    connection. Setting the value a shared context already has is a no-op
    here, so no thread writes to a context another thread is handshaking
    with (OpenSSL's ``SSL_new`` copies the ALPN list without a lock). Anything
    that would change it raises: that request fails rather than change what
    other requests trust. Instances are made by urllib3's own
    ``create_urllib3_context`` and given this class before they are loaded.
    """

    _frozen = False
    _alpn: list[str] | None = None

    def _refuse(self, what: str) -> None:
        if self._frozen:
            raise ValueError(
                "cert-session: %s on a shared, preloaded CA context; "
                "CERT_SESSION_PRELOAD=0 turns preloading off" % what
            )

    @property  # type: ignore[override]
    def verify_mode(self) -> ssl.VerifyMode:
        return _VERIFY_MODE.__get__(self)  # type: ignore[no-any-return]

    @verify_mode.setter
    def verify_mode(self, value: ssl.VerifyMode) -> None:
        if self._frozen and value == self.verify_mode:
            return
        self._refuse("verify_mode=%r" % value)
        _VERIFY_MODE.__set__(self, value)

    @property
    def check_hostname(self) -> bool:
        return _CHECK_HOSTNAME.__get__(self)  # type: ignore[no-any-return]

    @check_hostname.setter
    def check_hostname(self, value: bool) -> None:
        if self._frozen and bool(value) == self.check_hostname:
            return
        self._refuse("check_hostname=%r" % value)
        _CHECK_HOSTNAME.__set__(self, value)

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        protocols = list(alpn_protocols)
        if self._frozen and protocols == self._alpn:
            return
        self._refuse("set_alpn_protocols(%r)" % protocols)
        super().set_alpn_protocols(protocols)
        self._alpn = protocols

    def load_verify_locations(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_verify_locations")
        super().load_verify_locations(*args, **kwargs)

    def load_cert_chain(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_cert_chain")
        super().load_cert_chain(*args, **kwargs)

    def load_default_certs(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_default_certs")
        super().load_default_certs(*args, **kwargs)

    def set_ciphers(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_ciphers")
        super().set_ciphers(*args, **kwargs)


def _fingerprint(path: str) -> tuple[int, int, int, int, int] | None:
    """The bundle's stat identity (``_layout.stat_key``), or None unless it is a regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev  # _layout.stat_key, one call less


def _context(
    urllib3: str, create: Callable[..., ssl.SSLContext], alpn: list[str] | None, path: str
) -> ssl.SSLContext | None:
    """The loaded context for ``path`` as it is now, made once; None to let requests load it."""
    before = _fingerprint(path)
    if before is None:
        return None
    key: _Key = (urllib3, path, before, _log.getenv("SSLKEYLOGFILE"))
    with _lock:
        context = _contexts.get(key)
        if context is not None:
            _contexts.move_to_end(key)
            return context
    # Outside the lock: two threads may both load the file once; the first
    # one stored wins, and nothing else ever sees the other.
    made = create(cert_reqs=ssl.CERT_REQUIRED)
    if type(made) is not ssl.SSLContext:
        return None
    shared = made
    shared.__class__ = _SharedContext
    assert isinstance(shared, _SharedContext)
    shared.load_verify_locations(path)
    if alpn is not None:
        shared.set_alpn_protocols(alpn)  # what urllib3 sets on every connection
    shared._frozen = True
    if _fingerprint(path) != before:
        _log.debug("%s changed while it was read; not preloaded this time" % path)
        return None
    with _lock:
        context = _contexts.setdefault(key, made)
        _contexts.move_to_end(key)
        setattr(context, _PATH, path)
        while len(_contexts) > MAX_CONTEXTS:
            _contexts.popitem(last=False)
    if context is made:
        _log.debug("preloaded %s for new connections (%d cached)" % (path, len(_contexts)))
    return context
