"""The lab's HTTP service: it answers the cockpit's own clients, and no input ends it.

A real server on 127.0.0.1 (the service's ``make_server``, in a thread) and real requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.lab import service
from cockpit.lab.state import SERVICE_FILE, write_json
from cockpit.signals.http import Answer
from cockpit.signals.prometheus import interpret

OK_STATUSES = {200, 400, 401, 404}
NOW = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)
OPEN = "labels = ehr-cutover AND statusCategory != Done"
CHART = 'labels = ehr-cutover AND component = "Chart access" AND statusCategory != Done'


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("svc")
    write_json(folder / SERVICE_FILE, service.baseline_state(NOW))
    server = service.make_server(service.StateFile(folder / SERVICE_FILE))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def client(served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=10) as c:
        yield c


def count(client: httpx.Client, jql: str) -> int:
    r = client.post("/rest/api/3/search/approximate-count", json={"jql": jql})
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


def test_the_plan_queries_count_the_baseline_tickets(client):
    assert count(client, OPEN) == 4
    assert count(client, CHART) == 1
    assert count(client, f"{CHART} ORDER BY created DESC") == 1
    r = client.get("/rest/api/3/search/jql", params={"jql": f"{OPEN} ORDER BY created DESC",
                                                     "maxResults": "2", "fields": "summary,created"})
    issues = r.json()["issues"]
    assert len(issues) == 2 and issues[0]["fields"]["created"] > issues[1]["fields"]["created"]


def test_a_surge_shows_on_the_next_request(served, client):
    folder = served[1]
    state = service.baseline_state(NOW)
    state["tickets"] += service.surge_tickets(len(state["tickets"]) + 1, 12, NOW)
    write_json(folder / SERVICE_FILE, state)
    try:
        assert count(client, CHART) == 13
    finally:
        write_json(folder / SERVICE_FILE, service.baseline_state(NOW))
    assert count(client, CHART) == 1


@pytest.mark.parametrize("name", list(service.PROM_QUERIES))
def test_prometheus_answers_read_as_the_cockpit_reads_them(client, name):
    r = client.get("/api/v1/query", params={"query": service.PROM_QUERIES[name]})
    assert interpret(Answer(r.status_code, r.reason_phrase, r.content)) == service.BASELINE_METRICS[name]


def test_an_unknown_promql_is_a_prometheus_error(client):
    r = client.get("/api/v1/query", params={"query": "up"})
    assert r.status_code == 400 and r.json()["errorType"] == "bad_data"


def test_the_chart_needs_the_session_cookie(client):
    assert client.get(f"/api/charts/{service.TEST_CHART}").status_code == 401
    with httpx.Client(base_url=str(client.base_url), timeout=10) as fresh:
        assert fresh.post("/api/session", json={"user": "synthetic-probe"}).status_code == 200
        assert fresh.get(f"/api/charts/{service.TEST_CHART}").json()["ok"] is True
        assert fresh.get("/api/charts/SOMEONE-ELSE").status_code == 404


def test_jql_outside_the_subset_is_a_jira_400(client):
    for jql in ("assignee = me", "labels = a OR labels = b", "labels =", 'summary = "x"', "labels ~ x"):
        r = client.post("/rest/api/3/search/approximate-count", json={"jql": jql})
        assert r.status_code == 400 and r.json()["errorMessages"], jql


TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
JQLISH = st.lists(st.sampled_from(["labels", "component", "status", "statusCategory", "summary",
                                   "=", "!=", "~", "AND", "OR", "ORDER BY", '"', "\\", "Done",
                                   "ehr-cutover", '"Chart access"', "(", ")"]) | TEXT,
                  max_size=8).map(" ".join)
PATHS = st.sampled_from(["/rest/api/3/search/approximate-count", "/rest/api/3/search/jql",
                         "/rest/api/2/search", "/api/v1/query", "/api/session",
                         f"/api/charts/{service.TEST_CHART}", "/-/healthy", "/nope"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(path=PATHS, method=st.sampled_from(["GET", "POST", "PUT"]), jql=JQLISH, query=TEXT,
       max_results=TEXT | st.integers(-5, 10**12).map(str),
       body=st.binary(max_size=200) | st.builds(lambda j: json.dumps({"jql": j}).encode(), JQLISH)
       | st.builds(lambda v: json.dumps({"jql": v}).encode(), st.integers() | st.none()))
def test_no_query_string_or_body_crashes_the_service(client, path, method, jql, query,
                                                     max_results, body):
    params = {"jql": jql, "query": query, "maxResults": max_results}
    r = client.request(method, path, params=params, content=body if method != "GET" else None)
    assert r.status_code in OK_STATUSES, (r.status_code, r.text)
    doc = r.json()
    if r.status_code == 200 and path.endswith("approximate-count"):
        assert isinstance(doc["count"], int) and doc["count"] >= 0
    if r.status_code == 200 and path == "/api/v1/query":
        assert interpret(Answer(200, "OK", r.content)) >= 0
    assert client.get("/-/healthy").status_code == 200  # still serving
