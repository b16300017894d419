"""``cert-session demo``: the whole story, locally, on throwaway certificates.

Needs the ``[demo]`` extra (trustme, requests). A loopback HTTPS server
sends only its leaf, as many company servers do; a second one, under another
root in the "public" bundle, stands in for a public site. Child interpreters
run the same unmodified ``requests.get``: with the public bundle alone, with
the intermediate alone, and with the public bundle while cert-session's
start-up hook adds the intermediate. The last one shows the hook itself:
the child's code does not mention cert-session. Another runs
``urllib.request.urlopen`` (the ``ssl`` target, on by default) the same way.

What the intermediate alone does depends on the Python: 3.13+ (and urllib3
>= 2.4 there) set VERIFY_X509_PARTIAL_CHAIN, so it verifies the company
server on its own; older ones want the root. The demo reads the flag from the
context requests would use and expects what this Python really does; on
every Python the intermediate alone loses the public sites.
"""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from typing import Any

from . import _config

__all__ = ["demo"]

_GET = r"""
import sys, requests
try:
    requests.get(sys.argv[1], timeout=20)
    print("OK")
except requests.exceptions.SSLError as exc:
    reason = str(exc)
    for marker in ("certificate verify failed: ", "SSLError("):
        if marker in reason:
            reason = reason.split(marker, 1)[1]
    print("FAIL " + reason.split(" (_ssl")[0].strip(" '\")"))
"""

# The ssl module's defaults: what urllib, aiohttp, httpx and uv use (the ssl target).
_URLOPEN = r"""
import ssl, sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=20).read()
    print("OK")
except Exception as exc:
    reason = getattr(exc, "reason", exc)
    print("FAIL " + str(getattr(reason, "verify_message", None) or reason))
"""


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"hello from a server that sends only its leaf\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _child_env(work: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CERT_SESSION_") and k not in _config.TARGETS.values() and k != "PYTHONPATH"
    }
    env["CERT_SESSION_CACHE_DIR"] = os.path.join(work, "cache")
    env.update(extra)
    return env


def _get(url: str, work: str, env: dict[str, str], code: str = _GET) -> str:
    # cwd=work: never import a package from wherever the user stands.
    proc = subprocess.run(
        [sys.executable, "-c", code, url], env=env, cwd=work, capture_output=True, text=True, timeout=60
    )
    lines = (proc.stdout.strip() or proc.stderr.strip() or "no output").splitlines()
    return lines[-1]


def _serve(leaf: Any, work: str, name: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A loopback HTTPS server sending only ``leaf`` (a trustme LeafCert), and its URL."""
    leaf_file = os.path.join(work, name + ".pem")
    key_file = os.path.join(work, name + ".key")
    leaf.cert_chain_pems[0].write_to_path(leaf_file)  # the leaf alone
    leaf.private_key_pem.write_to_path(key_file)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf_file, key_file)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "https://localhost:%d/" % server.server_address[1]


def _partial_chain() -> bool:
    """Whether the context requests makes here takes every CA-file certificate as an anchor.

    Python 3.13's ssl.create_default_context() sets VERIFY_X509_PARTIAL_CHAIN
    (https://github.com/python/cpython/issues/107361) and urllib3 >= 2.4 does
    the same in create_urllib3_context, which requests uses.
    """
    flag = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    try:
        from urllib3.util.ssl_ import create_urllib3_context
    except ImportError:
        return False
    return bool(flag) and bool(create_urllib3_context().verify_flags & flag)


def demo() -> int:
    """Run the demo; return 0 when every step turned out as the story says."""
    try:
        import certifi
        import requests  # noqa: F401 - the children need it; fail early here
        import trustme
    except ImportError as exc:
        print(
            "cert-session demo needs the demo extra (%s): pip install 'cert-session-company[demo]'" % exc.name,
            file=sys.stderr,
        )
        return 2
    anchors = _partial_chain()
    steps: list[tuple[str, bool]] = []  # (outcome, as this Python should do)

    def step(got: str, expect_ok: bool) -> bool:
        print("   %s" % got)
        steps.append((got, (got == "OK") == expect_ok))
        return got == "OK"

    with tempfile.TemporaryDirectory(prefix="cert-session-demo-") as work:
        print("Working in %s (removed at the end).\n" % work)
        root = trustme.CA(organization_name="Demo Corp Root CA")
        intermediate = root.create_child_ca()
        public_root = trustme.CA(organization_name="Demo Public Root CA")
        public = os.path.join(work, "public-bundle.pem")
        with open(certifi.where(), "rb") as src, open(public, "wb") as dst:
            dst.write(src.read() + b"\n" + root.cert_pem.bytes() + public_root.cert_pem.bytes())
        issuer = os.path.join(work, "Issuer.crt")
        intermediate.cert_pem.write_to_path(issuer)

        company, url = _serve(intermediate.issue_cert("localhost", "127.0.0.1"), work, "company")
        site, site_url = _serve(public_root.issue_cert("localhost", "127.0.0.1"), work, "public-site")
        try:
            print("1. A company server at %s sends only its leaf certificate." % url)
            print("   Its chain: Demo Corp Root CA (in the public bundle here, as in most system")
            print("   stores) -> intermediate (Issuer.crt, sent by nobody) -> leaf.")
            print("   A public site at %s: Demo Public Root CA (in the public bundle) -> leaf.\n" % site_url)

            print("2. Plain requests.get with the public bundle (REQUESTS_CA_BUNDLE=%s):" % public)
            step(_get(url, work, _child_env(work, REQUESTS_CA_BUNDLE=public, CERT_SESSION_DISABLE="1")), False)
            print("   The root is trusted, but nobody supplies the intermediate between it and the leaf.\n")

            print("3. Plain requests.get with the intermediate alone (REQUESTS_CA_BUNDLE=%s):" % issuer)
            alone = _child_env(work, REQUESTS_CA_BUNDLE=issuer, CERT_SESSION_DISABLE="1")
            step(_get(url, work, alone), anchors)
            if anchors:
                print("   This Python takes every certificate of a CA file as a trust anchor")
                print("   (VERIFY_X509_PARTIAL_CHAIN: Python 3.13+, urllib3 2.4+), so the intermediate")
                print("   alone verifies the company server. Then it is all this client trusts:")
            else:
                print("   An intermediate is not a trust anchor on this Python: OpenSSL still wants")
                print("   the root. And a CA file replaces the public roots:")
            print("   the public site, with the same intermediate alone:")
            step(_get(site_url, work, alone), False)
            print("   A trust file holding only Issuer.crt loses every public site, on every Python.\n")

            print("4. The same unmodified requests.get, with the public bundle and")
            print("   CERT_SESSION_CERTS=%s; cert-session's start-up hook merges them:" % issuer)
            env = _child_env(work, REQUESTS_CA_BUNDLE=public, CERT_SESSION_CERTS=issuer)
            if step(_get(url, work, env), True):
                print("   The merged bundle (public roots + Issuer.crt) completes the chain; the root")
                print("   it reaches is there, so every Python agrees. And the public site still works:")
            else:
                print(
                    "   Expected OK. Is cert-session installed in %s (its .pth file runs at start-up)?"
                    " Run `cert-session status` there." % sys.prefix
                )
                print("   The public site:")
            step(_get(site_url, work, env), True)
            print()

            print("5. urllib.request.urlopen, the ssl module's defaults (as aiohttp, httpx and uv use),")
            print("   with SSL_CERT_FILE=%s and the same hook (targets requests,ssl by default):" % public)
            if step(_get(url, work, _child_env(work, SSL_CERT_FILE=public, CERT_SESSION_CERTS=issuer), _URLOPEN), True):
                print("   The hook appended Issuer.crt to a copy of SSL_CERT_FILE; the file itself is unchanged.\n")
        finally:
            for server in (company, site):
                server.shutdown()
                server.server_close()
    summary = ", ".join("OK" if got == "OK" else "fail" for got, _ in steps)
    if all(ok for _, ok in steps):
        print("Demo finished as expected on Python %d.%d: %s. With your real Issuer.crt:" % (sys.version_info[:2] + (summary,)))
        print("  CERT_SESSION_CERTS=/path/to/Issuer.crt python your_script.py")
        print("or build a wheel for everyone: cert-session package --name acme-certs --cert Issuer.crt -o dist/")
        return 0
    print("Demo did NOT go as expected (see the steps above): %s." % summary, file=sys.stderr)
    return 1
