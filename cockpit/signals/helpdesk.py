"""Help-desk presets: the count of open tickets matching a query, plus the newest titles.

The reading's value is the count; ``detail`` holds up to ``titles`` ticket titles, newest first
(untrusted text: cleaned by the base class, shown as plain text by the views). If the titles
request fails while the count works, the count is kept and ``detail`` says why there are no
titles ("(titles unavailable: HTTP 500 ...)"). ``titles: 0`` skips the titles request.

``preset: jira`` (Jira Cloud and Jira Service Management Cloud; Jira Data Center as fallback)
    ``query`` is JQL, e.g. ``labels = ehr-cutover AND statusCategory != Done``.
    count:  ``POST /rest/api/3/search/approximate-count`` with ``{"jql": query}`` -> ``count``
            (any trailing ``ORDER BY`` is dropped for the count).
    titles: ``GET /rest/api/3/search/jql?jql=<query ORDER BY created DESC>&maxResults=<titles>
            &fields=summary,created`` -> ``issues[].fields.summary``.
    ``ORDER BY created DESC`` is appended only when the JQL has no ORDER BY of its own.
    Atlassian removed ``GET /rest/api/3/search`` from Jira Cloud (it answers 410 Gone); Jira
    Data Center never had the v3 API. When the count endpoint answers 404 the source switches,
    for the rest of the run, to Data Center's ``GET /rest/api/2/search?jql=...&maxResults=
    <titles>&fields=summary,created`` -> ``total`` and ``issues[].fields.summary`` (one request).

``preset: servicenow`` (incident table)
    ``query`` is an encoded query, e.g. ``active=true^category=chart_access``.
    count:  ``GET /api/now/stats/incident?sysparm_query=<query>&sysparm_count=true``
            -> ``result.stats.count`` (a string holding a number).
    titles: ``GET /api/now/table/incident?sysparm_query=<query>^ORDERBYDESCsys_created_on
            &sysparm_limit=<titles>&sysparm_fields=short_description``
            -> ``result[].short_description``.

``preset: zendesk``
    ``query`` is Zendesk search syntax, e.g. ``tags:ehr-cutover status<solved``; ``type:ticket``
    is prepended when the query names no ``type:`` (search also finds users and organisations).
    count:  ``GET /api/v2/search/count.json?query=<query>`` -> ``count``.
    titles: ``GET /api/v2/search.json?query=<query>&sort_by=created_at&sort_order=desc
            &per_page=<titles>`` -> ``results[].subject``.

Error answers from these APIs carry a message (Jira ``errorMessages``, ServiceNow
``error.message``, Zendesk ``description``/``error``); it is appended to the HTTP status.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from cockpit.config.sources import Signal
from cockpit.signals.http import Answer, FetchError, HttpBase, parse_json
from cockpit.signals.reading import Reading
from cockpit.text import clean

_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_TRAILING_ORDER_BY = re.compile(r"\s*\border\s+by\b.*$", re.IGNORECASE | re.DOTALL)
_ZENDESK_TYPE = re.compile(r"(?:^|\s)type:", re.IGNORECASE)

Titles = list[str]


def _api_message(doc: Any) -> str:
    """The first human message in a Jira, ServiceNow or Zendesk error body, or ''."""
    if not isinstance(doc, dict):
        return ""
    candidates: list[Any] = []
    msgs = doc.get("errorMessages")
    if isinstance(msgs, list):
        candidates += msgs
    errors = doc.get("errors")
    if isinstance(errors, dict):
        candidates += list(errors.values())
    err = doc.get("error")
    if isinstance(err, dict):
        candidates += [err.get("message"), err.get("detail"), err.get("title")]
    candidates += [doc.get("description"), err if isinstance(err, str) else None]
    for item in candidates:
        if isinstance(item, str) and item.strip():
            return clean(item, 160, single_line=True)
    return ""


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise FetchError(f"count at {where} is a boolean, not a number")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if value is None:
        raise FetchError(f"no count at {where}")
    raise FetchError(f"count at {where} is not a whole number")


def _title(value: Any) -> str:
    if value is None:
        return "(untitled)"
    return value if isinstance(value, str) else str(value)


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _list_at(doc: Any, key: str) -> list:
    items = _dig(doc, key)
    if not isinstance(items, list):
        raise FetchError(f"no list at $.{key}")
    return items


def _jira_issue_titles(doc: Any) -> Titles:
    return [_title(_dig(issue, "fields", "summary")) for issue in _list_at(doc, "issues")]


class HelpdeskClient(HttpBase):
    def __init__(self, name, config, clock, redact=lambda s: s):
        super().__init__(name, config, clock, redact)
        self._jira_data_center = False  # learned from a 404 on the Cloud count endpoint

    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        if not signal.query:
            return self.error(signal_name, "a helpdesk signal needs a 'query'", started)
        preset: Callable[..., Awaitable[tuple[int, Titles, str]]] = getattr(self, f"_{self.config.preset}")
        try:
            count, titles, note = await preset(self.shared(), signal.query, signal.titles,
                                               self.deadline())
        except FetchError as exc:
            return self.error(signal_name, str(exc), started)
        detail = [self.note(t) for t in titles[: signal.titles]]
        if note:
            detail.append(self.note(f"(titles unavailable: {note})"))
        return self.value(signal_name, count, started, detail=tuple(detail))

    async def _json(self, client: httpx.AsyncClient, method: str, path: str, deadline: float, *,
                    params: dict[str, str] | None = None, body: Any = None,
                    allow: tuple[int, ...] = ()) -> tuple[int, Any]:
        """(status, parsed JSON); a non-2xx status not in ``allow`` raises with the API's message."""
        answer: Answer = await self.fetch(client, method, path, deadline=deadline, params=params,
                                          json_body=body, error_body=True)
        if answer.status in allow:
            return answer.status, None
        if not 200 <= answer.status < 300:
            try:
                message = _api_message(parse_json(answer.body))
            except FetchError:
                message = ""
            raise FetchError(f"{answer.status_text()}: {message}" if message else answer.status_text())
        return answer.status, parse_json(answer.body)

    async def _titles(self, fetch: Awaitable[Titles]) -> tuple[Titles, str]:
        try:
            return await fetch, ""
        except FetchError as exc:
            return [], str(exc)

    # --- presets -------------------------------------------------------------------------------
    async def _jira(self, client, query: str, n: int, deadline: float) -> tuple[int, Titles, str]:
        ordered = query if _ORDER_BY.search(query) else f"{query} ORDER BY created DESC"
        if not self._jira_data_center:
            status, doc = await self._json(client, "POST", "/rest/api/3/search/approximate-count",
                                           deadline, body={"jql": _TRAILING_ORDER_BY.sub("", query)},
                                           allow=(404,))
            if status != 404:
                count = _count(_dig(doc, "count"), "$.count")
                if n == 0:
                    return count, [], ""
                titles, note = await self._titles(self._jira_titles(client, "/rest/api/3/search/jql", ordered, n, deadline))
                return count, titles, note
            self._jira_data_center = True
        _, doc = await self._json(client, "GET", "/rest/api/2/search", deadline,
                                  params={"jql": ordered, "maxResults": str(n), "fields": "summary,created"})
        count = _count(_dig(doc, "total"), "$.total")
        try:
            return count, _jira_issue_titles(doc), ""
        except FetchError as exc:
            return count, [], str(exc)

    async def _jira_titles(self, client, path: str, jql: str, n: int, deadline: float) -> Titles:
        _, doc = await self._json(client, "GET", path, deadline,
                                  params={"jql": jql, "maxResults": str(n), "fields": "summary,created"})
        return _jira_issue_titles(doc)

    async def _servicenow(self, client, query: str, n: int, deadline: float) -> tuple[int, Titles, str]:
        _, doc = await self._json(client, "GET", "/api/now/stats/incident", deadline,
                                  params={"sysparm_query": query, "sysparm_count": "true"})
        count = _count(_dig(doc, "result", "stats", "count"), "$.result.stats.count")
        if n == 0:
            return count, [], ""
        titles, note = await self._titles(self._servicenow_titles(client, query, n, deadline))
        return count, titles, note

    async def _servicenow_titles(self, client, query: str, n: int, deadline: float) -> Titles:
        _, doc = await self._json(client, "GET", "/api/now/table/incident", deadline, params={
            "sysparm_query": f"{query}^ORDERBYDESCsys_created_on", "sysparm_limit": str(n),
            "sysparm_fields": "short_description"})
        return [_title(_dig(row, "short_description")) for row in _list_at(doc, "result")]

    async def _zendesk(self, client, query: str, n: int, deadline: float) -> tuple[int, Titles, str]:
        if not _ZENDESK_TYPE.search(query):
            query = f"type:ticket {query}"
        _, doc = await self._json(client, "GET", "/api/v2/search/count.json", deadline,
                                  params={"query": query})
        count = _count(_dig(doc, "count"), "$.count")
        if n == 0:
            return count, [], ""
        titles, note = await self._titles(self._zendesk_titles(client, query, n, deadline))
        return count, titles, note

    async def _zendesk_titles(self, client, query: str, n: int, deadline: float) -> Titles:
        _, doc = await self._json(client, "GET", "/api/v2/search.json", deadline, params={
            "query": query, "sort_by": "created_at", "sort_order": "desc", "per_page": str(n)})
        return [_title(_dig(row, "subject")) for row in _list_at(doc, "results")]
