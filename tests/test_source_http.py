"""The http source against a real loopback server: good JSON, every bad answer, TLS, transactions."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest

from cockpit import jsonpath
from cockpit.clock import ManualClock
from cockpit.config.sources import HttpSource, Signal
from cockpit.signals.http import POOL_CONNECTIONS, HttpClient
from cockpit.signals.loaders import make_source
from tests.fixtures.httpserver import Reply, Request

SECRET = "s3cr3t-token-value"


def source(url: str, **extra) -> HttpSource:
    return HttpSource.model_validate({"type": "http", "url": url, **extra})


def signal(**fields) -> Signal:
    return Signal.model_validate({"source": "portal", **fields})


async def read(url: str, sig: Signal, clock=None, redact=lambda s: s, **extra):
    client = make_source("portal", source(url, **extra), clock or ManualClock(), redact)
    try:
        return await client.read("sig", sig)
    finally:
        await client.close()


async def test_make_source_builds_the_http_client():
    client = make_source("portal", source("http://127.0.0.1:1"), ManualClock())
    assert isinstance(client, HttpClient)
    await client.close()


async def test_good_json_number_at_path(http_server):
    http_server.json("/metrics", {"data": {"latency": {"p95": 182.5}}, "items": [{"value": 7}]})
    clock = ManualClock()
    r = await read(http_server.url, signal(path="/metrics", json_path="$.data.latency.p95"), clock)
    assert r.ok and r.value == 182.5 and r.error is None
    assert r.ts == clock.now() and r.latency_ms == 0.0
    r = await read(http_server.url, signal(path="/metrics", json_path="$.items[0].value"))
    assert r.value == 7


async def test_boolean_passes_for_success_signals(http_server):
    http_server.json("/health", {"ok": True})
    r = await read(http_server.url, signal(path="/health", json_path="ok"))
    assert r.value is True


async def test_headers_are_sent(http_server):
    http_server.json("/m", {"v": 1})
    await read(http_server.url, signal(path="/m", json_path="$.v"), headers={"Authorization": f"Bearer {SECRET}"})
    assert http_server.seen("/m")[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(("reply", "path", "error"), [
    (Reply(200, "<html>oops</html>"), "$.v", "not JSON"),
    (Reply(200, b"\xff\xfe{"), "$.v", "not JSON"),
    (Reply(200, "[" * 100_000 + "]" * 100_000), "$.v", "not JSON (nested too deeply)"),
    (Reply.json({"data": {}}), "$.data.latency.p95", "no value at $.data.latency"),
    (Reply.json({"items": []}), "$.items[0].value", "no value at $.items[0]"),
    (Reply.json({"v": "12"}), "$.v", "value at $.v is a string, not a number"),
    (Reply.json({"v": None}), "$.v", "value at $.v is null, not a number"),
    (Reply.json({"v": {"a": 1}}), "$.v", "value at $.v is an object, not a number"),
    (Reply(200, '{"v": NaN}'), "$.v", "value is not a finite number"),
    (Reply(200, '{"v": Infinity}'), "$.v", "value is not a finite number"),
    (Reply(200, '{"v": 1e999}'), "$.v", "value is not a finite number"),
    (Reply(200, '{"v": 1' + "0" * 400 + "}"), "$.v", "value is not a finite number"),
    (Reply(500, "boom"), "$.v", "HTTP 500 Internal Server Error"),
    (Reply(503, "", headers={}), "$.v", "HTTP 503 Service Unavailable"),
    (Reply(404, "nope"), "$.v", "HTTP 404 Not Found"),
])
async def test_bad_answers_are_one_line_errors(http_server, reply, path, error):
    http_server.route("/m", reply)
    r = await read(http_server.url, signal(path="/m", json_path=path))
    assert r.value is None
    assert r.error == error


async def test_reason_phrase_from_server_is_cleaned_and_short(http_server):
    def handler(req: Request) -> Reply:
        return Reply(502, "x")
    http_server.route("/m", handler)
    r = await read(http_server.url, signal(path="/m", json_path="$.v"))
    assert r.error == "HTTP 502 Bad Gateway"


async def test_redirect_followed_within_limit(http_server):
    http_server.redirect("/old", "/new")
    http_server.json("/new", {"v": 3})
    r = await read(http_server.url, signal(path="/old", json_path="$.v"))
    assert r.value == 3


async def test_redirect_loop_is_too_many_redirects(http_server):
    http_server.redirect_loop("/loop")
    r = await read(http_server.url, signal(path="/loop", json_path="$.v"), max_redirects=3)
    assert r.error == "too many redirects (more than 3)"
    assert len(http_server.seen("/loop")) == 4


async def test_redirect_to_another_host_is_refused_and_headers_not_sent(http_server):
    with type(http_server)() as other:
        other.json("/m", {"v": 1})
        http_server.redirect("/m", other.url.replace("127.0.0.1", "localhost") + "/m")
        r = await read(http_server.url, signal(path="/m", json_path="$.v"),
                       headers={"X-Api-Key": SECRET})
        assert r.error.startswith("redirected to another host")
        assert other.requests == []


async def test_body_over_the_cap_streamed_is_refused(http_server):
    http_server.huge("/big", 50_000_000)
    started = time.monotonic()
    r = await read(http_server.url, signal(path="/big", json_path="$.v"), max_bytes=4096)
    assert r.error == "response larger than 4096 bytes"
    assert time.monotonic() - started < 5  # stopped reading, did not swallow 50 MB


async def test_body_over_the_cap_declared_is_refused_before_reading(http_server):
    http_server.route("/big", Reply(200, b"1" * 5000))
    r = await read(http_server.url, signal(path="/big", json_path="$.v"), max_bytes=4096)
    assert r.error == "response larger than 4096 bytes"


async def test_body_at_the_cap_is_fine(http_server):
    body = b'{"v": 5}' + b" " * (4096 - 8)
    http_server.route("/m", Reply(200, body))
    r = await read(http_server.url, signal(path="/m", json_path="$.v"), max_bytes=4096)
    assert r.value == 5


async def test_refused_connection(refused_url):
    r = await read(refused_url, signal(path="/m", json_path="$.v"))
    assert r.error == "connection refused"


async def test_hung_connection_times_out_within_the_configured_timeout(http_server):
    http_server.hang("/m")
    started = time.monotonic()
    r = await read(http_server.url, signal(path="/m", json_path="$.v"), timeout="300ms")
    took = time.monotonic() - started
    assert r.error == "timed out after 300ms (timeout: 300ms)"
    assert 0.25 <= took < 5  # the timeout ended it (a loaded machine is slower, not a hang)


async def test_trickling_body_cannot_outlast_the_timeout(http_server):
    # Each byte arrives well within a per-read timeout; only a whole-read budget stops it.
    http_server.trickle("/m", interval=0.05)
    started = time.monotonic()
    r = await read(http_server.url, signal(path="/m", json_path="$.v"), timeout="400ms")
    assert r.error == "timed out after 400ms (timeout: 400ms)"
    assert time.monotonic() - started < 5  # ended by the timeout, not by the server


async def test_tls_verification_is_on_by_default(https_server):
    https_server.json("/m", {"v": 1})
    r = await read(https_server.url, signal(path="/m", json_path="$.v"))
    assert r.error.startswith("TLS error: certificate verify failed")
    assert https_server.seen("/m") == []


async def test_ca_file_makes_tls_pass(https_server, tls_files):
    https_server.json("/m", {"v": 1})
    r = await read(https_server.url, signal(path="/m", json_path="$.v"), ca_file=str(tls_files.cert))
    assert r.value == 1


async def test_verify_off_is_explicit(https_server):
    https_server.json("/m", {"v": 2})
    r = await read(https_server.url, signal(path="/m", json_path="$.v"), verify_tls=False)
    assert r.value == 2


async def test_bad_ca_file_is_an_error_reading(https_server, tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    r = await read(https_server.url, signal(path="/m", json_path="$.v"), ca_file=str(bad))
    assert r.error == "cannot load ca_file ca.pem: not a PEM CA bundle"
    r = await read(https_server.url, signal(path="/m", json_path="$.v"), ca_file=str(tmp_path / "nope.pem"))
    assert r.error == "cannot load ca_file nope.pem: No such file or directory"


async def test_https_to_a_plain_http_server_is_a_tls_error(http_server):
    r = await read(http_server.url.replace("http://", "https://"), signal(path="/m", json_path="$.v"))
    assert r.error.startswith("TLS error: ")


async def test_secrets_never_in_errors(http_server, refused_url):
    # The server reflects the header value in its reason phrase; redact must still remove it,
    # and no error may carry the URL's credentials.
    def reflect(req: Request) -> Reply:
        return Reply(500, req.headers.get("x-api-key", ""))
    http_server.route("/m", reflect)

    def redact(text: str) -> str:
        return text.replace(SECRET, "***")
    hdr = {"X-Api-Key": SECRET}
    for url in (http_server.url, refused_url, http_server.url.replace("//", f"//user:{SECRET}@")):
        client = make_source("portal", source(url, headers=hdr, timeout="300ms"), ManualClock(), redact)
        for sig in (signal(path="/m", json_path="$.v"), signal(path="/nowhere", json_path="$.v"),
                    signal(transaction=[{"path": "/m"}], measure="success"),
                    signal(transaction=[{"path": "/m"}], measure="latency_ms")):
            r = await client.read("sig", sig)
            text = f"{r.error} {r.detail}"
            assert SECRET not in text and "user:" not in text, text
        await client.close()


async def test_path_must_be_relative_to_the_source(http_server):
    r = await read(http_server.url, signal(path="http://evil.example/m", json_path="$.v"))
    assert r.error == "path must start with '/'"


async def test_bad_json_path_is_an_error_reading(http_server):
    r = await read(http_server.url, signal(path="/m", json_path="$.a[?(@.x)]"))
    assert r.error.startswith("bad json_path: ")


async def test_client_reused_across_reads_and_closed(http_server):
    http_server.json("/m", {"v": 1})
    client = make_source("portal", source(http_server.url), ManualClock())
    for _ in range(3):
        assert (await client.read("sig", signal(path="/m", json_path="$.v"))).value == 1
    pool = client._transport
    assert pool is not None
    await client.close()
    assert client._transport is None
    # A read after close re-opens lazily rather than failing.
    assert (await client.read("sig", signal(path="/m", json_path="$.v"))).value == 1
    await client.close()


async def test_extraction_reads_keep_no_cookies(http_server):
    # Extraction reads share one client: a cookie set by one answer must not ride on any later
    # request, of the same signal, another signal, or a transaction.
    http_server.route("/m", Reply.json({"v": 1}, headers={"Set-Cookie": "session=abc123; Path=/"}))
    client = make_source("portal", source(http_server.url), ManualClock())
    assert (await client.read("a", signal(path="/m", json_path="$.v"))).value == 1
    assert (await client.read("b", signal(path="/m", json_path="$.v"))).value == 1
    tx = await client.read("c", signal(transaction=[{"method": "GET", "path": "/m"}], measure="success"))
    assert tx.value is True
    await client.close()
    assert [r.headers.get("cookie") for r in http_server.seen("/m")] == [None, None, None]


async def test_pool_keeps_every_connection_of_a_burst(http_server):
    # Every signal polls at start: a burst. Connections opened for it are all kept, so the next
    # burst reuses them instead of reconnecting (the pool used to keep fewer than it opened).
    burst = 12
    assert burst <= POOL_CONNECTIONS
    arrived = threading.Barrier(burst, timeout=5)  # all of a burst are in flight at once

    def together(req: Request) -> Reply:
        arrived.wait()
        return Reply.json({"v": 1})

    http_server.route("/m", together)
    client = make_source("portal", source(http_server.url, timeout="10s"), ManualClock())
    sig = signal(path="/m", json_path="$.v", timeout="10s")
    try:
        for _ in range(2):
            readings = await asyncio.gather(*(client.read(f"s{i}", sig) for i in range(burst)))
            assert [r.value for r in readings] == [1] * burst
            assert http_server.connections_opened == burst
    finally:
        await client.close()


async def test_pool_is_bounded(http_server):
    http_server.json("/m", {"v": 1})
    client = make_source("portal", source(http_server.url), ManualClock())
    readings = await asyncio.gather(*(client.read(f"s{i}", signal(path="/m", json_path="$.v"))
                                      for i in range(3 * POOL_CONNECTIONS)))
    await client.close()
    assert all(r.value == 1 for r in readings)
    assert http_server.connections_opened <= POOL_CONNECTIONS


class _ImportSpy:
    def __init__(self):
        self.names: list[str] = []

    def find_spec(self, name, path=None, target=None):
        self.names.append(name)
        return None


async def test_reads_do_not_search_for_missing_modules(http_server):
    # httpcore imports the optional sniffio for every lock and event it makes; were that a
    # sys.path search each time, it would be a third of the CPU of a read.
    http_server.json("/m", {"v": 1})
    client = make_source("portal", source(http_server.url), ManualClock())
    assert (await client.read("sig", signal(path="/m", json_path="$.v"))).value == 1
    spy = _ImportSpy()
    sys.meta_path.insert(0, spy)
    try:
        for _ in range(3):
            assert (await client.read("sig", signal(path="/m", json_path="$.v"))).value == 1
    finally:
        sys.meta_path.remove(spy)
        await client.close()
    assert spy.names == []


# --- synthetic transactions ----------------------------------------------------------------------

def portal(server, clock: ManualClock, step_s: float = 0.1, chart_status: int = 200) -> None:
    """Log in (sets a cookie), then open a chart only with that cookie; each hop costs step_s."""
    def login(req: Request) -> Reply:
        clock.advance_sync(step_s)
        if req.json() != {"user": "synthetic-probe"}:
            return Reply(400, "bad login")
        return Reply.json({"ok": True}, headers={"Set-Cookie": "session=abc123; Path=/; HttpOnly"})

    def chart(req: Request) -> Reply:
        clock.advance_sync(step_s)
        if req.cookie("session") != "abc123":
            return Reply(401, "no session")
        return Reply.json({"chart": "TEST-PATIENT-0001"}, status=chart_status)

    server.route("/api/session", login, method="POST")
    server.route("/api/charts/TEST-PATIENT-0001", chart, method="GET")


TX = [
    {"method": "POST", "path": "/api/session", "json": {"user": "synthetic-probe"}},
    {"method": "GET", "path": "/api/charts/TEST-PATIENT-0001"},
]


async def test_transaction_latency_with_login_cookie(http_server):
    clock = ManualClock()
    portal(http_server, clock, step_s=0.125)
    r = await read(http_server.url, signal(transaction=TX, measure="latency_ms"), clock)
    assert r.error is None
    assert r.value == pytest.approx(250.0)
    assert http_server.seen("/api/charts/TEST-PATIENT-0001")[0].cookie("session") == "abc123"


async def test_transaction_success_true(http_server):
    clock = ManualClock()
    portal(http_server, clock)
    r = await read(http_server.url, signal(transaction=TX, measure="success"), clock)
    assert r.value is True and r.detail == ()


async def test_cookies_do_not_leak_between_reads(http_server):
    clock = ManualClock()
    portal(http_server, clock)
    client = make_source("portal", source(http_server.url), clock)
    assert (await client.read("a", signal(transaction=TX, measure="success"))).value is True
    # The chart alone, in a later read, must not ride on the earlier login.
    r = await client.read("b", signal(transaction=TX[1:], measure="success"))
    assert r.value is False
    assert r.detail == ("step 1 GET /api/charts/TEST-PATIENT-0001: HTTP 401 Unauthorized, expected 200",)
    await client.close()


async def test_failing_step_latency_mode_is_an_error_naming_the_step(http_server):
    clock = ManualClock()
    portal(http_server, clock, chart_status=404)
    r = await read(http_server.url, signal(transaction=TX, measure="latency_ms"), clock)
    assert r.value is None
    assert r.error == "step 2 GET /api/charts/TEST-PATIENT-0001: HTTP 404 Not Found, expected 200"


async def test_failing_step_success_mode_is_false_with_detail(http_server):
    clock = ManualClock()
    portal(http_server, clock, chart_status=404)
    r = await read(http_server.url, signal(transaction=TX, measure="success"), clock)
    assert r.value is False and r.error is None
    assert r.detail == ("step 2 GET /api/charts/TEST-PATIENT-0001: HTTP 404 Not Found, expected 200",)


async def test_expect_status_other_than_200(http_server):
    clock = ManualClock()
    http_server.route("/api/session", Reply(201, "created"), method="POST")
    sig = signal(transaction=[{"method": "POST", "path": "/api/session", "expect_status": 201}],
                 measure="success")
    assert (await read(http_server.url, sig, clock)).value is True


async def test_hung_step_times_out_and_names_the_step(http_server):
    clock = ManualClock()
    portal(http_server, clock)
    http_server.route("/api/charts/TEST-PATIENT-0001", Reply(hang=True), method="GET")
    started = time.monotonic()
    r = await read(http_server.url, signal(transaction=TX, measure="latency_ms"), clock, timeout="300ms")
    assert r.error == "step 2 GET /api/charts/TEST-PATIENT-0001: timed out after 300ms (timeout: 300ms)"
    assert time.monotonic() - started < 5  # ended by the timeout, not by the server


async def test_refused_transaction_success_mode_is_false(refused_url):
    r = await read(refused_url, signal(transaction=TX, measure="success"))
    assert r.value is False
    assert r.detail == ("step 1 POST /api/session: connection refused",)


# --- the path parser ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "steps"), [
    ("$.data.latency.p95", ("data", "latency", "p95")),
    ("$.items[0].value", ("items", 0, "value")),
    ("data.p95", ("data", "p95")),
    ("$", ()),
    ("$.series[-1][1]", ("series", -1, 1)),
    ("$['p95 ms']", ("p95 ms",)),
    ('$["a.b"].c', ("a.b", "c")),
    ("$.__class__", ("__class__",)),
])
def test_path_parses(text, steps):
    assert jsonpath.parse(text) == steps


@pytest.mark.parametrize("text", [
    "", "   ", "$..a", "$.a[*]", "$.a[?(@.x>1)]", "$.a[0:2]", "$.a()", "$.a[1e3]",
    "$.a['x\\'y']", "$.a[", "$.a]", "__import__('os').system('x')", "$.a;b", "$ .a",
    "$.a[9999999]", "$" + ".a" * 40, "$.a." , "$.a[\"b]", "$.ä",
])
def test_hostile_or_bad_paths_are_refused(text):
    with pytest.raises(jsonpath.PathSyntaxError):
        jsonpath.parse(text)


def test_path_cannot_reach_attributes():
    # Only dict keys and list indices are followed.
    with pytest.raises(jsonpath.ExtractError, match=r"no value at \$\.__class__"):
        jsonpath.number_at({"a": 1}, jsonpath.parse("$.__class__"))
    with pytest.raises(jsonpath.ExtractError, match=r"no value at \$\.a\.real"):
        jsonpath.number_at({"a": 1}, jsonpath.parse("$.a.real"))
    with pytest.raises(jsonpath.ExtractError, match=r"no value at \$\.a\[0\]"):
        jsonpath.number_at({"a": "xyz"}, jsonpath.parse("$.a[0]"))
    with pytest.raises(jsonpath.ExtractError, match=r"no value at \$\.a\[0\]"):
        jsonpath.number_at({"a": {"0": 1}}, jsonpath.parse("$.a[0]"))


@pytest.mark.parametrize("value", [f"{SECRET}\r\nX-Evil: 1", f"tök-{SECRET}", f"{SECRET}\x00"])
async def test_bad_header_value_names_the_header_not_the_value(http_server, value):
    http_server.json("/m", {"v": 1})
    r = await read(http_server.url, signal(path="/m", json_path="$.v"), headers={"X-Api-Key": value})
    assert r.error == "invalid value for header X-Api-Key: printable ASCII only, no line breaks"
    assert http_server.requests == []


async def test_a_hung_signal_does_not_hold_up_others_on_the_same_source(http_server):
    http_server.hang("/slow")
    http_server.json("/fast", {"v": 1})
    client = make_source("portal", source(http_server.url, timeout="2s"), ManualClock())
    slow = asyncio.create_task(client.read("slow", signal(path="/slow", json_path="$.v")))
    fast = [await client.read("fast", signal(path="/fast", json_path="$.v")) for _ in range(10)]
    assert all(r.value == 1 for r in fast)
    assert not slow.done()  # every fast read answered while the slow one still hangs
    slow.cancel()  # what the engine's backstop does; must not break the source
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert (await client.read("fast", signal(path="/fast", json_path="$.v"))).value == 1
    await client.close()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "127.0.0.1:8080", "http://[::1", "https://"])
async def test_bad_url_is_an_error_reading_not_a_crash(url):
    r = await read(url, signal(path="/m", json_path="$.v"))
    assert r.error in ("invalid url: it must start with http:// or https:// and name a host",
                       "invalid URL (check the source's url and path)")
