"""Help-desk presets against a real loopback server answering in Jira, ServiceNow and Zendesk shapes."""

from __future__ import annotations

import pytest

from cockpit.clock import ManualClock
from cockpit.config.sources import HelpdeskSource, Signal
from cockpit.signals.helpdesk import HelpdeskClient
from cockpit.signals.loaders import make_source
from tests.fixtures.httpserver import Reply, Request

JQL = "labels = ehr-cutover AND statusCategory != Done"
AUTH = "Basic dXNlcjpzZWNyZXQtYXBpLXRva2Vu"

HOSTILE = [
    "[bold red]ROLLBACK NOW[/]",
    "\x1b[2J\x1b[31mScreen cleared\x1b[0m",
    "\u202eeulav desrever",
    "first line\nsecond line",
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 me",
]
CLEANED = [
    "[bold red]ROLLBACK NOW[/]",
    "Screen cleared",
    "eulav desrever",
    "first line second line",
    "click me",
]


def make(url: str, preset: str, redact=lambda s: s, **extra) -> HelpdeskClient:
    cfg = HelpdeskSource.model_validate({"type": "helpdesk", "preset": preset, "url": url,
                                         "headers": {"Authorization": AUTH}, **extra})
    client = make_source("helpdesk", cfg, ManualClock(), redact)
    assert isinstance(client, HelpdeskClient)
    return client


async def read(url: str, preset: str, query: str = JQL, titles: int = 5, **extra):
    client = make(url, preset, **extra)
    try:
        return await client.read("helpdesk_open", Signal(source="helpdesk", query=query, titles=titles))
    finally:
        await client.close()


# --- Jira -----------------------------------------------------------------------------------------

def jira_cloud(server, count: int = 7, summaries=("Cannot open chart on 4W", "Slow login in ED")) -> None:
    def counter(req: Request) -> Reply:
        return Reply.json({"count": count})

    def search(req: Request) -> Reply:
        n = int(req.arg("maxResults"))
        issues = [{"key": f"HD-{i}", "fields": {"summary": s, "created": "2026-11-25T22:00:00.000+0000"}}
                  for i, s in enumerate(summaries[:n])]
        return Reply.json({"issues": issues, "nextPageToken": None})

    server.route("/rest/api/3/search/approximate-count", counter, method="POST")
    server.route("/rest/api/3/search/jql", search, method="GET")


async def test_jira_cloud_count_and_newest_titles(http_server):
    jira_cloud(http_server)
    r = await read(http_server.url, "jira", titles=3)
    assert r.value == 7 and r.error is None
    assert r.detail == ("Cannot open chart on 4W", "Slow login in ED")
    count_req = http_server.seen("/rest/api/3/search/approximate-count")[0]
    assert count_req.json() == {"jql": JQL}
    assert count_req.headers["authorization"] == AUTH
    search_req = http_server.seen("/rest/api/3/search/jql")[0]
    assert search_req.arg("jql") == f"{JQL} ORDER BY created DESC"
    assert search_req.arg("maxResults") == "3"
    assert search_req.arg("fields") == "summary,created"


async def test_jira_keeps_its_own_order_by_and_drops_it_for_the_count(http_server):
    jira_cloud(http_server)
    await read(http_server.url, "jira", query=f"{JQL} order by priority DESC")
    assert http_server.seen("/rest/api/3/search/jql")[0].arg("jql") == f"{JQL} order by priority DESC"
    assert http_server.seen("/rest/api/3/search/approximate-count")[0].json() == {"jql": JQL}


async def test_jira_titles_zero_skips_the_search(http_server):
    jira_cloud(http_server, count=3)
    r = await read(http_server.url, "jira", titles=0)
    assert r.value == 3 and r.detail == ()
    assert http_server.seen("/rest/api/3/search/jql") == []


async def test_jira_data_center_fallback_is_learned_once(http_server):
    def search(req: Request) -> Reply:
        assert req.arg("jql") == f"{JQL} ORDER BY created DESC"
        return Reply.json({"startAt": 0, "maxResults": 5, "total": 4,
                           "issues": [{"fields": {"summary": "Badge reader down"}}, {"fields": {}}]})
    http_server.route("/rest/api/2/search", search, method="GET")
    client = make(http_server.url, "jira")
    sig = Signal(source="helpdesk", query=JQL)
    for _ in range(2):
        r = await client.read("helpdesk_open", sig)
        assert r.value == 4
        assert r.detail == ("Badge reader down", "(untitled)")
    await client.close()
    assert len(http_server.seen("/rest/api/3/search/approximate-count")) == 1
    assert len(http_server.seen("/rest/api/2/search")) == 2


async def test_jira_error_message_is_reported(http_server):
    http_server.route("/rest/api/3/search/approximate-count", Reply.json(
        {"errorMessages": ["Field 'labelz' does not exist or you do not have permission to view it."],
         "errors": {}}, status=400))
    r = await read(http_server.url, "jira")
    assert r.error == ("HTTP 400 Bad Request: Field 'labelz' does not exist or you do not have "
                       "permission to view it.")


async def test_jira_removed_endpoint_answer_is_an_error_not_a_count(http_server):
    http_server.route("/rest/api/3/search/approximate-count", Reply.json(
        {"errorMessages": ["The requested API has been removed."]}, status=410))
    r = await read(http_server.url, "jira")
    assert r.value is None and r.error == "HTTP 410 Gone: The requested API has been removed."


# --- ServiceNow -----------------------------------------------------------------------------------

SN_QUERY = "active=true^category=chart_access"


def servicenow(server, count="12", titles_reply: Reply | None = None) -> None:
    server.route("/api/now/stats/incident", Reply.json({"result": {"stats": {"count": count}}}))
    server.route("/api/now/table/incident", titles_reply or Reply.json({"result": [
        {"short_description": t} for t in HOSTILE]}))


async def test_servicenow_count_and_titles(http_server):
    servicenow(http_server)
    r = await read(http_server.url, "servicenow", query=SN_QUERY)
    assert r.value == 12
    assert r.detail == tuple(CLEANED)
    stats = http_server.seen("/api/now/stats/incident")[0]
    assert stats.arg("sysparm_query") == SN_QUERY and stats.arg("sysparm_count") == "true"
    table = http_server.seen("/api/now/table/incident")[0]
    assert table.arg("sysparm_query") == f"{SN_QUERY}^ORDERBYDESCsys_created_on"
    assert table.arg("sysparm_limit") == "5"
    assert table.arg("sysparm_fields") == "short_description"


async def test_servicenow_title_failure_keeps_the_count(http_server):
    servicenow(http_server, titles_reply=Reply(500, "oops"))
    r = await read(http_server.url, "servicenow", query=SN_QUERY)
    assert r.value == 12 and r.error is None
    assert r.detail == ("(titles unavailable: HTTP 500 Internal Server Error)",)


async def test_servicenow_hung_titles_keep_the_count(http_server):
    servicenow(http_server, titles_reply=Reply(hang=True))
    r = await read(http_server.url, "servicenow", query=SN_QUERY, timeout="300ms")
    assert r.value == 12
    assert r.detail == ("(titles unavailable: timed out after 300ms (timeout: 300ms))",)


@pytest.mark.parametrize(("count", "error"), [
    ("many", "count at $.result.stats.count is not a whole number"),
    (None, "no count at $.result.stats.count"),
    ("-1", "count at $.result.stats.count is not a whole number"),
    (True, "count at $.result.stats.count is a boolean, not a number"),
])
async def test_servicenow_bad_count(http_server, count, error):
    servicenow(http_server, count=count)
    assert (await read(http_server.url, "servicenow", query=SN_QUERY)).error == error


async def test_servicenow_error_message(http_server):
    http_server.route("/api/now/stats/incident", Reply.json(
        {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
         "status": "failure"}, status=401))
    r = await read(http_server.url, "servicenow", query=SN_QUERY)
    assert r.error == "HTTP 401 Unauthorized: User Not Authenticated"


# --- Zendesk --------------------------------------------------------------------------------------

def zendesk(server, count=5) -> None:
    server.route("/api/v2/search/count.json", Reply.json({"count": count}))
    server.route("/api/v2/search.json", lambda req: Reply.json({"results": [
        {"subject": s, "created_at": "2026-11-25T22:00:00Z"} for s in HOSTILE[: int(req.arg("per_page"))]]}))


async def test_zendesk_count_and_titles(http_server):
    zendesk(http_server)
    r = await read(http_server.url, "zendesk", query="tags:ehr-cutover status<solved", titles=2)
    assert r.value == 5
    assert r.detail == tuple(CLEANED[:2])
    assert http_server.seen("/api/v2/search/count.json")[0].arg("query") == "type:ticket tags:ehr-cutover status<solved"
    search = http_server.seen("/api/v2/search.json")[0]
    assert search.arg("query") == "type:ticket tags:ehr-cutover status<solved"
    assert (search.arg("sort_by"), search.arg("sort_order"), search.arg("per_page")) == ("created_at", "desc", "2")


async def test_zendesk_keeps_an_explicit_type(http_server):
    zendesk(http_server)
    await read(http_server.url, "zendesk", query="type:ticket tags:ehr-cutover")
    assert http_server.seen("/api/v2/search/count.json")[0].arg("query") == "type:ticket tags:ehr-cutover"


async def test_zendesk_error_description(http_server):
    http_server.route("/api/v2/search/count.json", Reply.json(
        {"error": "InvalidSearch", "description": "Invalid search: unbalanced quotes"}, status=422))
    r = await read(http_server.url, "zendesk", query='subject:"oops')
    assert r.error == "HTTP 422 Unprocessable Entity: Invalid search: unbalanced quotes"


async def test_zendesk_titles_not_a_list_keeps_count(http_server):
    http_server.route("/api/v2/search/count.json", Reply.json({"count": 2}))
    http_server.route("/api/v2/search.json", Reply.json({"results": "nope"}))
    r = await read(http_server.url, "zendesk", query="tags:x")
    assert r.value == 2 and r.detail == ("(titles unavailable: no list at $.results)",)


# --- shared behaviour -----------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["jira", "servicenow", "zendesk"])
async def test_not_json_and_refused(http_server, refused_url, preset):
    for path in ("/rest/api/3/search/approximate-count", "/api/now/stats/incident", "/api/v2/search/count.json"):
        http_server.route(path, Reply(200, "<html>SSO login</html>"))
    assert (await read(http_server.url, preset)).error == "not JSON"
    assert (await read(refused_url, preset)).error == "connection refused"


async def test_auth_header_never_in_errors(http_server):
    # A server that echoes the credential back in its error text: redact removes it.
    http_server.route("/api/v2/search/count.json", lambda req: Reply.json(
        {"error": "Unauthorized", "description": f"bad credential {req.headers['authorization']}"}, status=401))
    client = make(http_server.url, "zendesk", redact=lambda s: s.replace(AUTH.split()[1], "***"))
    r = await client.read("x", Signal(source="helpdesk", query="tags:x"))
    await client.close()
    assert r.error == "HTTP 401 Unauthorized: bad credential Basic ***"


async def test_titles_are_capped_in_length(http_server):
    servicenow(http_server, titles_reply=Reply.json({"result": [{"short_description": "A" * 5000}]}))
    r = await read(http_server.url, "servicenow", query=SN_QUERY)
    assert len(r.detail[0]) == 200 and r.detail[0].endswith("…")
