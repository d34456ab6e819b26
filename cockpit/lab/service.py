"""The lab's HTTP service: a help desk (Jira search API), Prometheus queries, a clinical portal.

Run as a background process by ``lab up`` (``python -m cockpit.lab.service DIR``), on
127.0.0.1 and a port the kernel picks (written to ``DIR/service.port`` once listening). What it
answers comes from ``DIR/service.json`` (see :mod:`cockpit.lab.state`), re-read whenever the file
changes, so ``lab fault ticket-surge`` shows on the next poll.

Answers, in the shapes the cockpit's clients read (``cockpit.signals.helpdesk`` jira preset,
``cockpit.signals.prometheus``, an HTTP transaction):

- ``POST /rest/api/3/search/approximate-count`` ``{"jql": ...}`` -> ``{"count": n}``
- ``GET /rest/api/3/search/jql?jql=&maxResults=`` -> ``{"issues": [{"key", "fields": {summary,
  created}}]}``, newest first; ``GET /rest/api/2/search`` (Data Center) -> ``total`` + ``issues``
- ``GET /api/v1/query?query=`` -> an instant vector with one sample, for the queries in
  :data:`PROM_QUERIES` (or a bare metric name listed there); others are a Prometheus 400
- ``POST /api/session`` (sets a cookie), ``GET /api/charts/TEST-PATIENT-0001`` (needs it; slow
  while the slow-queries fault is on)

JQL is a small subset: ``field = value`` / ``field != value`` / ``summary ~ text`` joined by
``AND``, an optional ``ORDER BY``; fields ``labels``, ``component``, ``status``,
``statusCategory``, ``project``. Anything else is answered 400 with Jira's ``errorMessages``.
Bad input never ends the service: it answers 400 (or 404), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cockpit.lab.state import SERVICE_FILE, read_json, write_json

PORT_FILE = "service.port"
TEST_CHART = "TEST-PATIENT-0001"
SESSION_COOKIE = "lab_session"
MAX_BODY = 64 * 1024
MAX_RESULTS = 100

# Signal name -> the PromQL the lab plan sends for it; the service answers exactly these.
PROM_QUERIES: dict[str, str] = {
    "login_success_rate":
        'sum(rate(ehr_login_total{result="success"}[5m])) / sum(rate(ehr_login_total[5m]))',
    "order_error_rate": "sum(rate(ehr_order_errors_total[5m])) * 60",
    "pharmacy_queue_depth": "max(ehr_pharmacy_queue_depth)",
}
# Bare metric names answer too (handy with curl).
_BARE = {"ehr_login_success_ratio": "login_success_rate", "ehr_order_errors_per_min": "order_error_rate",
         "ehr_pharmacy_queue_depth": "pharmacy_queue_depth"}

BASELINE_METRICS = {"login_success_rate": 0.995, "order_error_rate": 0.2, "pharmacy_queue_depth": 4}
BASELINE_CHART_MS = 40
SLOW_CHART_MS = 2500
CUTOVER_LABEL = "ehr-cutover"
CHART_ACCESS = "Chart access"


def _squash(query: str) -> str:
    return "".join(query.split())


_PROM_BY_TEXT = {_squash(q): name for name, q in PROM_QUERIES.items()}


def _ticket(n: int, summary: str, component: str, category: str, created: datetime) -> dict[str, Any]:
    status = {"To Do": "Open", "In Progress": "In Progress", "Done": "Resolved"}[category]
    return {"key": f"HD-{n}", "summary": summary, "labels": [CUTOVER_LABEL], "component": component,
            "status": status, "statusCategory": category, "created": created.isoformat()}


def baseline_state(now: datetime) -> dict[str, Any]:
    """A quiet night: a few open tickets, one about chart access, healthy clinical metrics."""
    rows = [
        ("Printer on ward 4B offline after the downtime notice", "Printing", "To Do"),
        ("Downtime procedure binder missing in radiology", "Downtime", "In Progress"),
        ("Badge reader slow at the east entrance", "Access", "To Do"),
        ("Chart opens slowly on the night shift laptop", CHART_ACCESS, "To Do"),
        ("Order set favourites reset", "Orders", "Done"),
        ("Cannot find the downtime phone list", "Downtime", "Done"),
        ("Label printer alignment in pharmacy", "Printing", "Done"),
    ]
    tickets = [_ticket(i + 1, s, c, cat, now - timedelta(minutes=90 - 10 * i))
               for i, (s, c, cat) in enumerate(rows)]
    return {"tickets": tickets, "metrics": dict(BASELINE_METRICS), "chart_ms": BASELINE_CHART_MS}


def surge_tickets(start: int, count: int, now: datetime) -> list[dict[str, Any]]:
    units = ("ED", "ICU", "4B", "5A", "Maternity", "Oncology", "Pharmacy")
    return [_ticket(start + i, f"Cannot open patient chart on unit {units[i % len(units)]} "
                               f"after the cutover (report {i + 1})",
                    CHART_ACCESS, "To Do", now + timedelta(seconds=i)) for i in range(count)]


# -- JQL ------------------------------------------------------------------------------------

class JqlError(ValueError):
    """A query the lab's help desk does not understand; the message is Jira-like."""


_ORDER = re.compile(r"\s+order\s+by\s+.*$|^\s*order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(!=|=|~)|([^\s"=!~]+))')
_FIELDS = ("labels", "component", "status", "statuscategory", "project", "summary")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str

    def matches(self, ticket: dict[str, Any]) -> bool:
        if self.field == "summary":
            return self.value.casefold() in str(ticket.get("summary", "")).casefold()
        if self.field == "labels":
            hit = any(self.value.casefold() == str(x).casefold() for x in ticket.get("labels", []))
        elif self.field == "project":
            hit = str(ticket.get("key", "")).split("-")[0].casefold() == self.value.casefold()
        else:
            key = "statusCategory" if self.field == "statuscategory" else self.field
            hit = str(ticket.get(key, "")).casefold() == self.value.casefold()
        return hit if self.op == "=" else not hit


def parse_jql(jql: str) -> list[Clause]:
    text = _ORDER.sub("", jql).strip()
    tokens: list[tuple[str, str]] = []  # (kind, text): q quoted, o operator, w word
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        pos = m.end()
        if m.group(1) is not None:
            tokens.append(("q", re.sub(r"\\(.)", r"\1", m.group(1))))
        elif m.group(2) is not None:
            tokens.append(("o", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("w", m.group(3)))
    clauses: list[Clause] = []
    i = 0
    while i < len(tokens):
        if clauses:
            if tokens[i][0] != "w" or tokens[i][1].casefold() != "and":
                raise JqlError("Error in the JQL Query: only AND joins clauses here.")
            i += 1
        if i + 3 > len(tokens):
            raise JqlError("Error in the JQL Query: expecting 'field operator value'.")
        (fk, field), (ok, op), (vk, value) = tokens[i:i + 3]
        if fk != "w" or ok != "o" or vk == "o":
            raise JqlError("Error in the JQL Query: expecting 'field operator value'.")
        name = field.casefold()
        if name not in _FIELDS:
            raise JqlError(f"Field '{field[:40]}' does not exist or you do not have permission to view it.")
        if (op == "~") != (name == "summary"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field[:40]}' field.")
        clauses.append(Clause(name, op, value))
        i += 3
    return clauses


def search(tickets: list[dict[str, Any]], jql: str) -> list[dict[str, Any]]:
    """Tickets matching ``jql``, newest first."""
    clauses = parse_jql(jql)
    hits = [t for t in tickets if isinstance(t, dict) and all(c.matches(t) for c in clauses)]
    return sorted(hits, key=lambda t: str(t.get("created", "")), reverse=True)


# -- answers --------------------------------------------------------------------------------

Answer = tuple[int, dict[str, Any]]


def _issues(hits: list[dict[str, Any]], max_results: str | None) -> list[dict[str, Any]]:
    n = 50 if max_results is None else int(max_results)  # ValueError -> 400 (caller)
    n = max(0, min(n, MAX_RESULTS))
    return [{"key": t.get("key"), "fields": {"summary": t.get("summary"), "created": t.get("created")}}
            for t in hits[:n]]


def _jira_error(message: str) -> Answer:
    return 400, {"errorMessages": [message], "errors": {}}


def _prometheus(state: dict[str, Any], query: str | None) -> Answer:
    if query is None or not query.strip():
        return 400, {"status": "error", "errorType": "bad_data", "error": "no query given"}
    squashed = _squash(query)
    name = _PROM_BY_TEXT.get(squashed) or _BARE.get(squashed)
    value = (state.get("metrics") or {}).get(name) if name else None
    if name is None:
        return 400, {"status": "error", "errorType": "bad_data",
                     "error": "the lab answers only the lab plan's queries"}
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
    return 200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [round(time.time(), 3), repr(float(value))]}]}}


def answer(state: dict[str, Any], method: str, path: str, params: dict[str, list[str]],
           body: bytes, cookie: str | None) -> Answer:
    """What the service says to one request (pure but for the chart's simulated latency)."""
    def arg(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    found = state.get("tickets")
    tickets: list[dict[str, Any]] = found if isinstance(found, list) else []
    try:
        if method == "GET" and path == "/-/healthy":
            return 200, {"status": "ok"}
        if method == "POST" and path == "/rest/api/3/search/approximate-count":
            try:
                payload = json.loads(body or b"null")
            except (ValueError, UnicodeDecodeError):
                return _jira_error("Invalid request payload: not JSON.")
            jql = payload.get("jql") if isinstance(payload, dict) else None
            if not isinstance(jql, str):
                return _jira_error("Invalid request payload: 'jql' must be a string.")
            return 200, {"count": len(search(tickets, jql))}
        if method == "GET" and path in ("/rest/api/3/search/jql", "/rest/api/2/search"):
            hits = search(tickets, arg("jql") or "")
            try:
                issues = _issues(hits, arg("maxResults"))
            except ValueError:
                return _jira_error("maxResults must be a whole number.")
            doc: dict[str, Any] = {"issues": issues}
            if path.endswith("/2/search"):
                doc["total"] = len(hits)
            else:
                doc["isLast"] = len(issues) >= len(hits)
            return 200, doc
        if method == "GET" and path == "/api/v1/query":
            return _prometheus(state, arg("query"))
        if method == "POST" and path == "/api/session":
            return 200, {"session": "ok"}
        if method == "GET" and path.startswith("/api/charts/"):
            if cookie != "ok":
                return 401, {"error": "log in first (POST /api/session)"}
            if path != f"/api/charts/{TEST_CHART}":
                return 404, {"error": "no such chart"}
            ms = state.get("chart_ms")
            if isinstance(ms, (int, float)) and not isinstance(ms, bool) and 0 < ms <= 60_000:
                time.sleep(ms / 1000)  # the portal's own latency (slow-queries makes it long)
            return 200, {"chart": TEST_CHART, "ok": True}
    except JqlError as exc:
        return _jira_error(str(exc))
    return 404, {"error": "not found"}


# -- the server -----------------------------------------------------------------------------

class StateFile:
    """``service.json``, re-read when it changes; the last good copy if it is unreadable."""

    def __init__(self, path: Path):
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._state: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any]:
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp != self._stamp:
                    doc = read_json(self.path)
                    if isinstance(doc, dict):
                        self._state, self._stamp = doc, stamp
            except (OSError, ValueError):
                pass
            return self._state


def _cookie(header: str | None) -> str | None:
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return value
    return None


def make_server(state: StateFile, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cockpit-lab"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle plus the client's
            # delayed ACK add ~40 ms to every answer (and to chart_open_ms).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            return  # quiet: the lab's log is for failures

        def _serve(self, method: str) -> None:
            path = ""
            try:
                parts = urlsplit(self.path)
                path = parts.path
                params = parse_qs(parts.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0 or length > MAX_BODY:
                    status, doc = 400, {"error": "body too large"}
                    self.close_connection = True
                else:
                    body = self.rfile.read(length) if length else b""
                    status, doc = answer(state.get(), method, path, params, body,
                                         _cookie(self.headers.get("Cookie")))
            except ValueError:
                status, doc = 400, {"error": "bad request"}
                self.close_connection = True
            except Exception as exc:  # a bug: say so, and keep serving
                status, doc = 500, {"error": f"internal error: {type(exc).__name__}"}
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if method == "POST" and path == "/api/session" and status == 200:
                self.send_header("Set-Cookie", f"{SESSION_COOKIE}=ok; Path=/; HttpOnly")
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's names
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._serve("PUT")

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve("HEAD")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def initial_state(folder: Path, now: datetime | None = None) -> None:
    write_json(folder / SERVICE_FILE, baseline_state(now or datetime.now(UTC)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cockpit.lab.service")
    parser.add_argument("dir", help="the lab folder")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    server = make_server(StateFile(folder / SERVICE_FILE), args.port)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_json(folder / PORT_FILE, {"port": server.server_address[1], "pid": os.getpid()})
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
