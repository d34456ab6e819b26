"""A source that does not answer in time is said in the words of the plan setting that bounded
the wait (issue 10, item 9): ``timed out after 2s (timeout: 2s)``, ``connect timed out after
1s (connect_timeout: 1s)``; for PostgreSQL the configured ``connect_timeout``, never a share of
another budget or libpq's text. Against real sockets on 127.0.0.1 that accept (or sit in the
backlog) and never answer, stopped in teardown."""

from __future__ import annotations

import time

import pytest

from cockpit.clock import ManualClock, RealClock
from cockpit.config.sources import HelpdeskSource, HttpSource, PrometheusSource, Signal
from cockpit.config.sources import PostgresSource as PostgresConfig
from cockpit.signals.loaders import make_source
from cockpit.signals.postgres import PostgresSource
from cockpit.signals.wording import seconds, timed_out
from tests.fixtures.silent import Silent


@pytest.fixture
def silent():
    server = Silent()
    yield server
    server.close()


@pytest.fixture
def blackhole():
    server = Silent(accept=False)  # connections complete in the backlog; nobody reads them
    yield server
    server.close()


def test_the_wording_rule():
    assert timed_out(5, "timeout") == "timed out after 5s (timeout: 5s)"
    assert timed_out(0.3, "timeout") == "timed out after 300ms (timeout: 300ms)"
    assert timed_out(1.6, "timeout", 2, what="could not connect", also="connect_timeout: 5s") == \
        "could not connect after 1.6s (timeout: 2s; connect_timeout: 5s)"
    assert seconds(90) == "1m30s" and seconds(1.04) == "1s" and seconds(2.5) == "2.5s"


async def _http_read(kind: str, url: str, **extra):
    model = {"http": HttpSource, "prometheus": PrometheusSource, "helpdesk": HelpdeskSource}[kind]
    doc = {"type": kind, "url": url, **extra}
    if kind == "helpdesk":
        doc.update(preset="servicenow")
    sig = {"http": {"path": "/m", "json_path": "$.v"}, "prometheus": {"query": "up"},
           "helpdesk": {"query": "active=true"}}[kind]
    client = make_source("src", model.model_validate(doc), ManualClock())
    started = time.monotonic()
    try:
        r = await client.read("s", Signal.model_validate({"source": "src", "timeout": "10s", **sig}))
    finally:
        await client.close()
    return r, time.monotonic() - started


@pytest.mark.parametrize("kind", ["http", "prometheus", "helpdesk"])
async def test_a_server_that_never_answers_is_the_sources_timeout(silent, kind):
    r, took = await _http_read(kind, f"http://127.0.0.1:{silent.port}", timeout="1s",
                               connect_timeout="3s")
    assert r.value is None and r.error == "timed out after 1s (timeout: 1s)"
    assert took < 5


async def test_a_tls_handshake_that_never_answers_is_the_connect_timeout_not_tls_text(silent):
    r, took = await _http_read("http", f"https://127.0.0.1:{silent.port}", timeout="3s",
                               connect_timeout="1s")
    assert r.error == "connect timed out after 1s (connect_timeout: 1s)"
    assert "TLS" not in r.error and "did not complete" not in r.error
    assert took < 5


async def test_a_tls_handshake_cut_by_the_read_budget_is_the_timeout(silent):
    r, _ = await _http_read("http", f"https://127.0.0.1:{silent.port}", timeout="1s",
                            connect_timeout="3s")
    assert r.error == "timed out after 1s (timeout: 1s)"


def _pg(port: int, **extra) -> PostgresSource:
    cfg = PostgresConfig.model_validate({"type": "postgres", "dsn": f"host=127.0.0.1 port={port} "
                                         "user=postgres dbname=x sslmode=disable", **extra})
    return PostgresSource("db", cfg, RealClock())


async def _pg_read(src: PostgresSource, timeout: str):
    started = time.monotonic()
    try:
        r = await src.read("s", Signal.model_validate({"source": "db", "probe": "sql",
                                                        "query": "select 1", "timeout": timeout}))
    finally:
        await src.close()
    return r, time.monotonic() - started


# 2s is also libpq's own smallest connect_timeout: whichever fires first, the same words.
@pytest.mark.parametrize("connect_timeout", ["1s", "2s"])
async def test_postgres_connect_to_a_blackhole_is_the_configured_connect_timeout(blackhole, connect_timeout):
    r, took = await _pg_read(_pg(blackhole.port, connect_timeout=connect_timeout), "8s")
    assert r.value is None
    assert r.error == f"could not connect after {connect_timeout} (connect_timeout: {connect_timeout})"
    assert took < 6


async def test_postgres_connect_cut_by_the_signals_timeout_says_so(blackhole):
    r, took = await _pg_read(_pg(blackhole.port, connect_timeout="5s"), "2s")
    # 80% of the signal's timeout is for the answer; the rest for cancelling on the server
    assert r.error == "could not connect after 1.6s (timeout: 2s; connect_timeout: 5s)"
    assert took < 4
