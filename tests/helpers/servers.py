"""Real HTTPS servers on 127.0.0.1 that send only their leaf certificate."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
from pathlib import Path
from typing import Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"hello from %s\n" % self.server.server_name.encode()  # type: ignore[attr-defined]
        if getattr(self.server, "client_ca", None) is not None:
            # Which client certificate this connection presented, if any.
            peer = self.connection.getpeercert() or {}  # type: ignore[attr-defined]
            names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
            body = b"client=%s\n" % (",".join(names) or "none").encode()
        directory = getattr(self.server, "directory", None)
        if directory is not None:
            target = Path(directory, self.path.lstrip("/").split("?")[0])
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                self.send_response(404)
                self.end_headers()
                return
            body = target.read_bytes()
        self.send_response(200)
        if directory is not None and (self.path.endswith("/") or self.path.endswith(".html")):
            self.send_header("Content-Type", "text/html")  # pip ignores index pages without it
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - uv asks for a wheel's size first
        self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


class _KeepAliveHandler(_Handler):
    # HTTP/1.1: the connection stays open between requests (every answer has a Content-Length).
    protocol_version = "HTTP/1.1"
    # One write per answer (headers and body buffered, flushed after each
    # request), sent at once: a client then reads each answer the same way
    # every time, which keeps per-request system-call counts exact.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True


@contextlib.contextmanager
def serve_https(
    leaf_pem: Path,
    leaf_key: Path,
    directory: Path | None = None,
    client_ca: Path | None = None,
    require_client_cert: bool = True,
    keep_alive: bool = False,
) -> Iterator[str]:
    """Serve on an ephemeral port; yield ``https://localhost:PORT/``.

    ``load_cert_chain`` gets the leaf file alone, so the handshake carries
    exactly one certificate: the situation cert-session exists for.

    With ``client_ca``, the server asks for a client certificate issued under
    it (and refuses clients without one if ``require_client_cert``), and
    answers ``client=<commonName>`` or ``client=none``. With ``keep_alive``
    it speaks HTTP/1.1 and keeps connections open between requests.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(leaf_pem), str(leaf_key))
    if client_ca is not None:
        ctx.load_verify_locations(str(client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    handler = _KeepAliveHandler if keep_alive else _Handler
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.directory = directory  # type: ignore[attr-defined]
    server.client_ca = client_ca  # type: ignore[attr-defined]
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with running(server) as port:
        yield "https://localhost:%d/" % port


@contextlib.contextmanager
def running(server: http.server.ThreadingHTTPServer) -> Iterator[int]:
    """Serve in a daemon thread; yield the port; shut down on exit."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def tls_proxy(leaf_pem: Path, leaf_key: Path, upstream: tuple[str, int]) -> Iterator[str]:
    """A loopback TLS front for a plain HTTP server (a company index behind the company chain).

    Each connection's handshake sends the leaf alone; the bytes inside go to
    ``upstream`` unchanged. Yields ``https://localhost:PORT/``: a name, as a
    company index has; pip 24.2 (ensurepip's on 3.13.0) cannot reach an index
    by IP address with its default truststore (pypa/pip#12906).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(leaf_pem), str(leaf_key))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def serve(raw: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            stack.callback(raw.close)
            try:
                raw.settimeout(60)
                tls = ctx.wrap_socket(raw, server_side=True)
                stack.callback(tls.close)
                back = socket.create_connection(upstream, timeout=60)
                stack.callback(back.close)
            except OSError:  # the client refused our chain, or upstream is gone: what a client sees
                return
            other = threading.Thread(target=pipe, args=(back, tls), daemon=True)
            other.start()
            pipe(tls, back)
            other.join(60)

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield "https://localhost:%d/" % listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
