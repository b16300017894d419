"""Issue 13: each trusted bundle is loaded once per process, and every call still
gets exactly the verification it asked for.

Real requests (2.28.2, where the preload is off, and the newest, where it is
on) in venvs with the company wheel, against loopback HTTPS servers that send
only their leaf. Each scenario runs in one process (``PROBE``), which reports
every call's outcome and how many preloaded contexts it holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme

from cert_session import _verify_rule
from tests.conftest import World
from tests.helpers import pki, servers
from tests.helpers.env import clean_env
from tests.helpers.venvs import Venv

# Runs ``steps`` (each [label, how, url, verify, cert]) in one process and
# prints one JSON object: every outcome, the preloaded context count, and
# whether requests keys pools by TLS settings (>= 2.32.2).
#   how:    "get" (requests.get: a new session each) or "session" (one
#           requests.Session shared by every step, and every thread)
#   verify: "default", "false" or a path; cert: null or [cert, key]
# Steps whose how is "rewrite:<src>:<dst>" replace <dst> with <dst>+<src>
# at the same path (a new inode, like our atomic writes; "$bundle" is the
# merged bundle exported at start-up); "copy:<src>:<dst>" copies a file;
# "sleep:<seconds>:" waits.
PROBE = r"""
import json, os, shutil, sys, threading, time, warnings
import requests
warnings.simplefilter("ignore")  # verify=False warns; the outcome is what counts here
config = json.loads(sys.argv[1])
session = requests.Session()
keyed = hasattr(requests.adapters.HTTPAdapter, "get_connection_with_tls_context")

def call(how, url, verify, cert):
    kwargs = {"timeout": 20}
    if verify != "default":
        kwargs["verify"] = False if verify == "false" else verify
    if cert is not None:
        kwargs["cert"] = tuple(cert)
    if how == "session" and not keyed:
        # requests < 2.32 keeps one pool per host whatever verify says, so a
        # connection made with verify=False is reused by a later verified call
        # (CVE-2024-35195, requests' own bug, with or without cert-session).
        how = "get"
    get = session.get if how == "session" else requests.get
    try:
        return "OK " + get(url, **kwargs).text.strip()
    except requests.exceptions.SSLError as e:
        return "verify-failed" if "CERTIFICATE_VERIFY_FAILED" in str(e) else "tls-error"
    except requests.exceptions.ConnectionError:
        return "tls-error"  # TLS 1.3: a refused client certificate shows up after the handshake

def run(steps):
    out = []
    for label, how, url, verify, cert in steps:
        if how.startswith("sleep:"):
            time.sleep(float(how.split(":")[1]))
            out.append([label, "done"])
            continue
        if how.startswith("rewrite:") or how.startswith("copy:"):
            op, src, dst = how.split(":", 2)
            dst = os.environ["REQUESTS_CA_BUNDLE"] if dst == "$bundle" else dst
            data = open(src, "rb").read()
            if op == "rewrite":
                data = open(dst, "rb").read() + data
            with open(dst + ".tmp", "wb") as f:
                f.write(data)
            os.replace(dst + ".tmp", dst)
            out.append([label, "done"])
            continue
        out.append([label, call(how, url, verify, cert)])
    return out

threads = config.get("threads", 0)
if threads:
    barrier = threading.Barrier(threads)
    results = [None] * threads
    def worker(i):
        steps = config["steps"]
        k = (i * 5) % len(steps)
        barrier.wait()
        results[i] = run(steps[k:] + steps[:k])  # each thread its own order
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool: t.start()
    for t in pool: t.join()
    outcomes = [r for rs in results for r in rs]
else:
    outcomes = run(config["steps"])
preload = sys.modules.get("_cert_session._preload")
print(json.dumps({
    "outcomes": outcomes,
    "contexts": None if preload is None else preload.cached_contexts(),
    "keyed": keyed,
    "bundle": os.environ.get("REQUESTS_CA_BUNDLE"),
}))
"""


def run_probe(venv: Venv, env: dict[str, str], steps: list[list[Any]], threads: int = 0) -> dict[str, Any]:
    proc = venv.run(env, "-c", PROBE, json.dumps({"steps": steps, "threads": threads}), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def outcomes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(label, out.split()[0]) for label, out in result["outcomes"]]


def expected_contexts(result: dict[str, Any], newest: int) -> int | None:
    """The preload is on where requests keys pools by TLS settings; before, it is never even loaded (None)."""
    return newest if result["keyed"] else None


@pytest.fixture(scope="module")
def extra(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A self-signed server, a server that wants a client certificate, and one under a late root."""
    base = tmp_path_factory.mktemp("preload")
    self_cert, self_key = pki.self_signed_server(base)
    clients = trustme.CA(organization_name="cert-session test client CA")
    clients.cert_pem.write_to_path(str(base / "client-ca.pem"))
    client = clients.issue_cert("tool@example.test", common_name="tool@example.test")
    client.cert_chain_pems[0].write_to_path(str(base / "client.pem"))
    client.private_key_pem.write_to_path(str(base / "client.key"))
    late = pki.make_chain(base, "late", intermediate=False)  # the company's new root, added mid-process
    own = base / "own.pem"
    own.write_bytes(world.private.root_pem.read_bytes())
    company = world.company
    wrong_cert, wrong_key = pki.leaf_for(company.intermediate, base, "wrong-host", "wrong.example")
    with servers.serve_https(self_cert, self_key) as self_signed, servers.serve_https(
        wrong_cert, wrong_key
    ) as wrong_host, servers.serve_https(
        company.leaf_pem, company.leaf_key, client_ca=base / "client-ca.pem"
    ) as mtls, servers.serve_https(
        company.leaf_pem, company.leaf_key, client_ca=base / "client-ca.pem", require_client_cert=False
    ) as optional_mtls, servers.serve_https(late.leaf_pem, late.leaf_key) as late_url:
        yield {
            "self_signed": self_signed,
            "wrong_host": wrong_host,  # the company chain, issued for another name
            "mtls": mtls,
            "optional_mtls": optional_mtls,
            "late": late_url,
            "late_root": late.root_pem,
            "client": [str(base / "client.pem"), str(base / "client.key")],
            "own": str(own),
        }


def mixed_steps(world: World, extra: dict[str, Any]) -> list[list[Any]]:
    """Every verification setting, to hosts that pass or fail it, through both APIs."""
    company, private, self_signed = world.urls["company"], world.urls["private"], extra["self_signed"]
    steps: list[list[Any]] = []
    for how in ("get", "session"):
        steps += [
            ["company default %s" % how, how, company, "default", None],
            ["self-signed verify=False %s" % how, how, self_signed, "false", None],
            ["self-signed default %s" % how, how, self_signed, "default", None],
            ["private verify=False %s" % how, how, private, "false", None],
            ["private default %s" % how, how, private, "default", None],
            ["company verify=False %s" % how, how, company, "false", None],
            ["private own.pem %s" % how, how, private, extra["own"], None],
            ["company own.pem %s" % how, how, company, extra["own"], None],
            ["company default again %s" % how, how, company, "default", None],
        ]
    return steps


def expected_outcome(label: str) -> str:
    passes = ("company default", "verify=False", "private own.pem")
    return "OK" if any(p in label for p in passes) else "verify-failed"


# ---------------------------------------------------------------- tests


def test_verified_then_verify_false_then_unknown_root_each_get_what_they_asked_for(
    requests_venv: Venv, world: World, extra: dict[str, Any], tmp_path: Path
) -> None:
    company, private, self_signed = world.urls["company"], world.urls["private"], extra["self_signed"]
    steps: list[list[Any]] = []
    for how in ("get", "session"):
        steps += [["company %s %d" % (how, i), how, company, "default", None] for i in range(3)]
        steps += [
            ["self-signed verify=False %s" % how, how, self_signed, "false", None],
            # The same host right after an unverified connection to it was pooled.
            ["self-signed verified %s" % how, how, self_signed, "default", None],
            ["private (unknown root) verified %s" % how, how, private, "default", None],
            ["private (unknown root) verified again %s" % how, how, private, "default", None],
            ["company after all that %s" % how, how, company, "default", None],
            ["wrong hostname verified %s" % how, how, extra["wrong_host"], "default", None],
        ]
    result = run_probe(requests_venv, clean_env(tmp_path / "home"), steps)
    want = [(s[0], "verify-failed" if ("verified" in s[0]) else "OK") for s in steps]
    got = outcomes(result)
    for i, (label, out) in enumerate(got):
        if label.startswith("wrong hostname") and out == "tls-error":
            got[i] = (label, "verify-failed")  # urllib3 1.26 matches names itself: CertificateError
    assert got == want
    assert result["contexts"] == expected_contexts(result, 1)


def test_eight_threads_at_once_every_call_gets_exactly_its_verification(
    requests_venv: Venv, world: World, extra: dict[str, Any], tmp_path: Path
) -> None:
    steps = mixed_steps(world, extra)
    result = run_probe(requests_venv, clean_env(tmp_path / "home"), steps, threads=8)
    got = outcomes(result)
    assert len(got) == 8 * len(steps)
    wrong = [(label, out) for label, out in got if out != expected_outcome(label)]
    assert wrong == []
    # The merged bundle only: own.pem holds no root for the company intermediate,
    # so the trust rule (issue #22) adds nothing and requests loads own.pem itself.
    assert result["contexts"] == expected_contexts(result, 1)


def test_client_certificate_is_sent_and_never_shares_a_pool_with_plain_calls(
    requests_venv: Venv, world: World, extra: dict[str, Any], tmp_path: Path
) -> None:
    client = extra["client"]
    optional, required = extra["optional_mtls"], extra["mtls"]
    steps: list[list[Any]] = []
    for how in ("get", "session"):
        steps += [
            ["optional, no cert %s" % how, how, optional, "default", None],
            ["optional, cert= %s" % how, how, optional, "default", client],
            ["optional, no cert again %s" % how, how, optional, "default", None],
            ["required, cert= %s" % how, how, required, "default", client],
            ["required, no cert %s" % how, how, required, "default", None],
            ["required, cert= again %s" % how, how, required, "default", client],
        ]
    result = run_probe(requests_venv, clean_env(tmp_path / "home"), steps)
    got = dict(result["outcomes"])
    for how in ("get", "session"):
        # The server says which client certificate each connection presented.
        assert got["optional, no cert %s" % how] == "OK client=none"
        assert got["optional, cert= %s" % how] == "OK client=tool@example.test"
        assert got["optional, no cert again %s" % how] == "OK client=none"
        assert got["required, cert= %s" % how] == "OK client=tool@example.test"
        assert got["required, no cert %s" % how] == "tls-error"
        assert got["required, cert= again %s" % how] == "OK client=tool@example.test"
    assert result["contexts"] == expected_contexts(result, 1)  # the calls without cert=


def test_own_bundle_call_keeps_its_roots_with_a_context_of_its_own(
    requests_venv: Venv, world: World, extra: dict[str, Any], tmp_path: Path
) -> None:
    # A tool's own bundle with the company root (so the trust rule adds the
    # intermediate to it: issue #22) and a private root no other bundle has.
    own = tmp_path / "own-with-company-root.pem"
    own.write_bytes(Path(extra["own"]).read_bytes() + world.company.root_pem.read_bytes())
    before = own.read_bytes()
    steps = [
        ["private own.pem", "get", world.urls["private"], str(own), None],
        ["private own.pem again", "session", world.urls["private"], str(own), None],
        ["company own.pem", "get", world.urls["company"], str(own), None],  # completed by the intermediate
        ["company default", "get", world.urls["company"], "default", None],
        ["private default", "session", world.urls["private"], "default", None],
    ]
    result = run_probe(requests_venv, clean_env(tmp_path / "home"), steps)
    assert outcomes(result) == [
        ("private own.pem", "OK"),
        ("private own.pem again", "OK"),
        ("company own.pem", "OK"),
        ("company default", "OK"),
        ("private default", "verify-failed"),
    ]
    assert result["contexts"] == expected_contexts(result, 2)
    assert own.read_bytes() == before


def test_bundle_rebuilt_mid_process_is_used_by_the_next_new_connection(
    requests_venv: Venv, world: World, extra: dict[str, Any], tmp_path: Path
) -> None:
    certs = tmp_path / "company-certs"
    certs.mkdir()
    env = clean_env(tmp_path / "home", CERT_SESSION_CERTS=str(certs))
    late, late_root, own = extra["late"], str(extra["late_root"]), extra["own"]
    steps: list[list[Any]] = [
        ["company", "session", world.urls["company"], "default", None],
        ["late, default", "get", late, "default", None],
        ["late, own.pem", "get", late, own, None],
        ["late, own.pem, session", "session", late, own, None],
        # A new company certificate in the CERT_SESSION_CERTS directory: the
        # verify guard rebuilds own.pem + company certificates at the first
        # call once its merge of own.pem is RECHECK_SECONDS old (issue #18:
        # checking the company certificates at every call cost 13 system calls).
        ["add the late root", "copy:%s:%s" % (late_root, certs / "late-root.pem"), "", "", None],
        ["wait for the recheck", "sleep:%.2f:" % (_verify_rule.RECHECK_SECONDS + 0.1), "", "", None],
        ["late, own.pem after", "get", late, own, None],
        ["late, own.pem after, session", "session", late, own, None],
        # Then the merged bundle itself is rewritten at the same path (the
        # stat fingerprint changes, the name does not).
        ["late, default before", "get", late, "default", None],
        ["rewrite the merged bundle", "rewrite:%s:$bundle" % late_root, "", "", None],
        ["late, default after", "get", late, "default", None],
        ["late, default after, session", "session", late, "default", None],
        ["company after", "session", world.urls["company"], "default", None],
    ]
    result = run_probe(requests_venv, env, steps)
    assert Path(result["bundle"]).name.startswith("cert-session-")
    assert outcomes(result) == [
        ("company", "OK"),
        ("late, default", "verify-failed"),
        ("late, own.pem", "verify-failed"),
        ("late, own.pem, session", "verify-failed"),
        ("add the late root", "done"),
        ("wait for the recheck", "done"),
        ("late, own.pem after", "OK"),
        ("late, own.pem after, session", "OK"),
        ("late, default before", "verify-failed"),  # the process's merged bundle was built at start-up
        ("rewrite the merged bundle", "done"),
        ("late, default after", "OK"),
        ("late, default after, session", "OK"),
        ("company after", "OK"),
    ]
    # merged before/after the rewrite, own.pem appended after the new certificate
    # (before it, the trust rule adds nothing to own.pem: it holds no root for
    # the company intermediate, so requests loads own.pem itself, issue #22)
    assert result["contexts"] == expected_contexts(result, 3)


TOOL_ADAPTER = r"""
import json, ssl, sys, warnings
import requests
from requests.adapters import HTTPAdapter
warnings.simplefilter("ignore")
private_root, private, company = sys.argv[1:4]

# The tool's own context: the private root only, hostname checks off.
tool_context = ssl.create_default_context(cafile=private_root)
tool_context.check_hostname = False

class PoolManagerAdapter(HTTPAdapter):  # the classic recipe
    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = tool_context
        return super().init_poolmanager(*args, **kwargs)

class KeyAdapter(HTTPAdapter):  # the requests >= 2.32.2 recipe
    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        pool["ssl_context"] = tool_context
        return host, pool

out = {}
for name, cls in (("init_poolmanager", PoolManagerAdapter), ("pool_key", KeyAdapter)):
    if name == "pool_key" and not hasattr(HTTPAdapter, "build_connection_pool_key_attributes"):
        continue
    s = requests.Session()
    s.mount("https://", cls())
    r = s.get(private, timeout=20)
    pools = list(s.get_adapter(private).poolmanager.pools._container.values())
    # urllib3 2 keeps the pool's context in .ssl_context, urllib3 1.26 in .conn_kw.
    used = [getattr(p, "ssl_context", None) or p.conn_kw.get("ssl_context") for p in pools]
    out[name] = [r.status_code, all(c is tool_context for c in used), len(pools)]
preload = sys.modules.get("_cert_session._preload")
out["contexts"] = None if preload is None else preload.cached_contexts()
print(json.dumps(out))
"""


def test_tool_adapter_with_its_own_ssl_context_is_left_alone(
    requests_venv: Venv, world: World, tmp_path: Path
) -> None:
    proc = requests_venv.run(
        clean_env(tmp_path / "home"),
        "-c", TOOL_ADAPTER, str(world.private.root_pem), world.urls["private"], world.urls["company"],
    )
    out = json.loads(proc.stdout)
    # The tool's context served its pools, and no context of ours was made.
    assert out["init_poolmanager"] == [200, True, 1]
    if "pool_key" in out:
        assert out["pool_key"] == [200, True, 1]
    assert out["contexts"] in (0, None)


POOLS = r"""
import json, ssl, sys, requests
url = sys.argv[1]

def frozen(context):
    # A shared context takes the values it has and refuses anything else.
    if context is None:
        return None
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    refused = []
    for change in (
        lambda: setattr(context, "verify_mode", ssl.CERT_NONE),
        lambda: setattr(context, "check_hostname", False),
        lambda: context.load_verify_locations(sys.argv[2]),
        lambda: context.load_cert_chain(sys.argv[2]),
        lambda: context.load_default_certs(),
        lambda: context.set_alpn_protocols(["h2"]),
    ):
        try:
            change()
        except ValueError:
            refused.append(True)
    stats = context.cert_store_stats()["x509"]
    return [len(refused), context.verify_mode == ssl.CERT_REQUIRED, context.check_hostname, stats]
s = requests.Session()
s.get(url, timeout=20)
pools = s.get_adapter(url).poolmanager.pools._container
print(json.dumps({
    "preload_imported": "_cert_session._preload" in sys.modules,
    "pool_has_context": [k.key_ssl_context is not None for k in pools],
    "pool_has_ca_file": [k.key_ca_certs is not None for k in pools],
    # What urllib3 will load into the context of the pool's next new connection.
    "ca_file_for_next_connection": [p.ca_certs is not None for p in pools.values()],
    "frozen": [frozen(p.conn_kw.get("ssl_context")) for p in pools.values()],
}))
"""


SHOW_BUNDLE = "import os; print(os.environ['REQUESTS_CA_BUNDLE'])"


def test_preload_on_by_default_and_off_with_cert_session_preload_0(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    args = ("-c", POOLS, world.urls["company"], str(world.private.root_pem))
    on = json.loads(installed.run(clean_env(tmp_path / "home"), *args).stdout)
    merged = Path(installed.run(clean_env(tmp_path / "home"), "-c", SHOW_BUNDLE).stdout.strip())
    cas = merged.read_text().count("BEGIN CERTIFICATE")  # certifi's roots + the company intermediate
    assert on == {
        "preload_imported": True,
        "pool_has_context": [True],
        "pool_has_ca_file": [False],
        "ca_file_for_next_connection": [False],  # the shared context is never loaded into
        "frozen": [[6, True, True, cas]],  # every change refused, nothing added
    }
    env = clean_env(tmp_path / "home", CERT_SESSION_PRELOAD="0")
    off = json.loads(installed.run(env, *args).stdout)
    assert off == {
        "preload_imported": False,
        "pool_has_context": [False],
        "pool_has_ca_file": [True],
        "ca_file_for_next_connection": [True],
        "frozen": [None],
    }


def test_preload_loads_at_the_first_connection_not_at_import_requests(
    installed: Venv, world: World, tmp_path: Path
) -> None:
    # Issue #18: a process that imports requests and never connects (most
    # command-line tools' --help) does not pay for the preload.
    code = r"""
import sys, urllib.request, ssl, http.client, json
state = lambda: [m in sys.modules for m in ("requests", "_cert_session._verify_guard", "_cert_session._preload")]
before = state()
import requests
imported = state()
requests.get(sys.argv[1], timeout=20).raise_for_status()
print(json.dumps([before, imported, state()]))
"""
    proc = installed.run(clean_env(tmp_path / "home"), "-c", code, world.urls["company"])
    assert json.loads(proc.stdout) == [[False, False, False], [True, True, False], [True, True, True]]
    assert proc.stderr == ""


def test_oldest_requests_says_why_it_is_not_preloaded(
    oldest_requests_venv: Venv, world: World, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home", CERT_SESSION_DEBUG="1")
    proc = oldest_requests_venv.run(env, "-c", "import requests; requests.get(%r, timeout=20)" % world.urls["company"])
    assert "requests: no preloaded CA contexts (they need requests >= 2.32.2)" in proc.stderr
