"""The prometheus source against a real loopback server answering in Prometheus' shapes."""

from __future__ import annotations

import time

import pytest

from cockpit.clock import ManualClock
from cockpit.config.sources import PrometheusSource, Signal
from cockpit.signals.loaders import make_source
from cockpit.signals.prometheus import PrometheusClient
from tests.fixtures.httpserver import Reply, Request

QUERY = 'sum(rate(ehr_login_total{result="success"}[5m])) / sum(rate(ehr_login_total[5m]))'
TOKEN = "prom-token-9f8e7d"


def ok(result_type: str, result) -> Reply:
    return Reply.json({"status": "success", "data": {"resultType": result_type, "result": result}})


def sample(value: str, **labels) -> dict:
    return {"metric": labels, "value": [1_800_000_000.123, value]}


def failed(status: int, kind: str, error: str) -> Reply:
    return Reply.json({"status": "error", "errorType": kind, "error": error}, status=status)


async def read(url: str, query: str = QUERY, redact=lambda s: s, **extra):
    cfg = PrometheusSource.model_validate({"type": "prometheus", "url": url, **extra})
    client = make_source("prometheus", cfg, ManualClock(), redact)
    assert isinstance(client, PrometheusClient)
    try:
        return await client.read("login_success_rate", Signal(source="prometheus", query=query))
    finally:
        await client.close()


async def test_scalar(http_server):
    http_server.route("/api/v1/query", ok("scalar", [1_800_000_000, "0.9975"]))
    r = await read(http_server.url)
    assert r.value == 0.9975 and r.error is None


async def test_one_sample_vector_and_the_query_is_sent_verbatim(http_server):
    http_server.route("/api/v1/query", ok("vector", [sample("42", job="ehr")]))
    r = await read(http_server.url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.value == 42.0
    seen = http_server.seen("/api/v1/query")[0]
    assert seen.method == "GET"
    assert seen.arg("query") == QUERY
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"


async def test_url_with_a_path_prefix(http_server):
    http_server.route("/prom/api/v1/query", ok("scalar", [0, "1"]))
    assert (await read(http_server.url + "/prom/")).value == 1.0


@pytest.mark.parametrize(("reply", "error"), [
    (ok("vector", []), "empty result: no series match"),
    (ok("vector", [sample("1", pod="a"), sample("2", pod="b"), sample("3", pod="c")]),
     "3 series: the query must return one"),
    (ok("vector", [sample("NaN")]), "value is not a finite number"),
    (ok("vector", [sample("+Inf")]), "value is not a finite number"),
    (ok("scalar", [0, "-Inf"]), "value is not a finite number"),
    (ok("vector", [sample("twelve")]), "not a Prometheus query answer (bad sample value)"),
    (ok("vector", [{"metric": {}, "value": [0, 12]}]), "not a Prometheus query answer (bad sample value)"),
    (ok("matrix", [{"metric": {}, "values": [[0, "1"]]}]),
     "range vector (matrix) result: the query must return one instant value"),
    (ok("string", [0, "hello"]), "string result, not a number"),
    (failed(400, "bad_data", 'invalid parameter "query": 1:5: parse error: unexpected "}"'),
     'query failed: bad_data: invalid parameter "query": 1:5: parse error: unexpected "}"'),
    (failed(422, "execution", "many-to-many matching not allowed"),
     "query failed: execution: many-to-many matching not allowed"),
    (failed(503, "timeout", "query timed out in expression evaluation"),
     "query failed: timeout: query timed out in expression evaluation"),
    (Reply(502, "<html>bad gateway</html>"), "HTTP 502 Bad Gateway"),
    (Reply(200, "<html>login</html>"), "not JSON"),
    (Reply.json(["success"]), "not a Prometheus query answer"),
    (Reply.json({"status": "success"}), "not a Prometheus query answer"),
])
async def test_bad_answers(http_server, reply, error):
    http_server.route("/api/v1/query", reply)
    r = await read(http_server.url)
    assert r.value is None
    assert r.error == error


async def test_error_text_is_cleaned_and_redacted(http_server):
    def reflect(req: Request) -> Reply:
        return failed(400, "bad_data", f"\x1b[31m[bold red]token {req.headers['authorization']}[/]\x1b[0m\nline2")
    http_server.route("/api/v1/query", reflect)
    r = await read(http_server.url, headers={"Authorization": f"Bearer {TOKEN}"},
                   redact=lambda s: s.replace(TOKEN, "***"))
    assert r.error == "query failed: bad_data: [bold red]token Bearer ***[/] line2"


async def test_hung_prometheus_times_out(http_server):
    http_server.hang("/api/v1/query")
    started = time.monotonic()
    r = await read(http_server.url, timeout="250ms")
    assert r.error == "timed out after 250ms (timeout: 250ms)"
    assert time.monotonic() - started < 5  # ended by the timeout, not by the server


async def test_refused(refused_url):
    assert (await read(refused_url)).error == "connection refused"


async def test_tls_verified_by_default(https_server, tls_files):
    https_server.route("/api/v1/query", ok("scalar", [0, "3"]))
    assert (await read(https_server.url)).error.startswith("TLS error: certificate verify failed")
    assert (await read(https_server.url, ca_file=str(tls_files.cert))).value == 3.0


async def test_error_body_over_the_cap_reports_the_status(http_server):
    http_server.route("/api/v1/query", Reply(500, b"x" * 5000))
    assert (await read(http_server.url, max_bytes=4096)).error == "HTTP 500 Internal Server Error"
