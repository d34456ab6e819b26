"""HTTP sources: extract a number from a JSON answer, or measure a synthetic transaction.

Extract (``json_path``): ``GET {url}{path}``, parse JSON, take the number at the path
(see :mod:`cockpit.signals.jsonpath`). Booleans pass through for success signals.

Measure (``transaction`` + ``measure``): run the steps in order with one cookie jar (so "log in,
then open a test chart" works), each step checking ``expect_status``. ``measure: latency_ms``
reads the total time in ms on the injected clock; a failed step is an error reading naming the
step. ``measure: success`` reads True/False; a failed step (including a refused or timed-out
connection: the synthetic user could not get through) is False with the reason in ``detail``.

Shared by every HTTP-family client (:class:`HttpBase`, also used by prometheus and helpdesk):

- TLS verification on by default (system trust store plus certifi); ``ca_file`` replaces both
  with exactly that bundle; ``verify_tls: false`` turns it off.
- ``connect_timeout`` bounds connecting; ``timeout`` is the budget of the whole read (every
  request, redirect and body byte), so a server that trickles bytes cannot hold a poll forever.
- Redirects followed up to ``max_redirects`` (5 where the source has no such field), and only to
  the same scheme, host and port: configured headers carry credentials and must not be sent on.
- Bodies are streamed and abandoned past ``max_bytes``.
- No proxies or ``.netrc`` from the environment (``trust_env`` off): what the plan says is what
  is used.
- Errors are one line and never echo headers or URLs (which may carry credentials).

Each source keeps one connection pool (an ``httpx.AsyncHTTPTransport``, created lazily and closed
in :meth:`close`); every read takes a light ``httpx.AsyncClient`` over it, so cookies never leak
from one read (or one signal) into the next.
"""

from __future__ import annotations

import asyncio
import errno
import json
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from cockpit.config.sources import Signal
from cockpit.durations import format_duration
from cockpit.signals import jsonpath
from cockpit.signals.base import SourceClient, register
from cockpit.signals.reading import Reading
from cockpit.text import clean

_REASON_CHARS = 40
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")
_MESSAGE_CHARS = 160


class FetchError(Exception):
    """A request did not produce a usable answer; ``str`` is the one-line reason."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes

    def status_text(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()


class _Borrowed(httpx.AsyncBaseTransport):
    """The source's pool lent to a per-read client; closing the client leaves the pool open."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


class _OffSite(Exception):
    pass


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise FetchError("not JSON (nested too deeply)") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise FetchError("not JSON") from None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and members of exception groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 32:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo.extend(e for e in (cur.__cause__, cur.__context__) if e is not None)
        todo.extend(getattr(cur, "exceptions", ()) or ())


def _tls_reason(err: ssl.SSLError) -> str:
    if isinstance(err, ssl.SSLCertVerificationError) and err.verify_message:
        return f"certificate verify failed: {err.verify_message}"
    if err.reason:
        return str(err.reason).replace("_", " ").lower()
    return clean(err.strerror or str(err), 80, single_line=True)


def _phrase(reason: str, status: int) -> str:
    text = clean(reason or "", _REASON_CHARS, single_line=True)
    if not text:
        try:
            text = HTTPStatus(status).phrase
        except ValueError:
            text = ""
    return text


class HttpBase(SourceClient):
    """Connection pool, TLS, timeouts, redirects, capped bodies and error wording."""

    def __init__(self, name, config, clock, redact=lambda s: s):
        super().__init__(name, config, clock, redact)
        self._transport: httpx.AsyncHTTPTransport | None = None
        try:
            base = httpx.URL(config.url)
            self._origin: tuple | None = (base.scheme, base.host, base.port)
        except Exception:  # noqa: BLE001 - reported on each read, not from the constructor
            self._origin = None
        if self._origin is not None and (self._origin[0] not in ("http", "https") or not self._origin[1]):
            self._origin = None

    # --- setup ---------------------------------------------------------------------------------
    @property
    def max_redirects(self) -> int:
        return getattr(self.config, "max_redirects", 5)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._origin is None or self._origin[0] != "https":
            # Never used (redirects stay on the origin), so skip loading trust stores; an
            # empty verifying context fails closed if that ever changes.
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if not self.config.verify_tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if self.config.ca_file:
            path = Path(self.config.ca_file).expanduser()
            try:
                return ssl.create_default_context(cafile=str(path))
            except ssl.SSLError:
                raise FetchError(f"cannot load ca_file {path.name}: not a PEM CA bundle") from None
            except OSError as exc:
                why = exc.strerror or "cannot read it"
                raise FetchError(f"cannot load ca_file {path.name}: {why}") from None
        ctx = ssl.create_default_context()
        try:
            import certifi

            ctx.load_verify_locations(certifi.where())
        except (ImportError, OSError, ssl.SSLError):
            pass  # the system store alone still verifies
        return ctx

    def _pool(self) -> httpx.AsyncHTTPTransport:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(
                verify=self._ssl_context(), retries=0, trust_env=False,
                limits=httpx.Limits(max_connections=8, max_keepalive_connections=4, keepalive_expiry=30),
            )
        return self._transport

    def _check_headers(self) -> None:
        for name, value in self.config.headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise FetchError(f"invalid header name {clean(name, 40, single_line=True)!r}")
            if not _HEADER_VALUE.fullmatch(value):
                # The value may be a secret: name the header, never show the value.
                raise FetchError(f"invalid value for header {name}: printable ASCII only, no line breaks")

    def session(self) -> httpx.AsyncClient:
        """A client for one read (one cookie jar) over the source's shared pool."""
        if self._origin is None:
            raise FetchError("invalid url: it must start with http:// or https:// and name a host")
        self._check_headers()
        timeout = httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout)
        return httpx.AsyncClient(
            transport=_Borrowed(self._pool()), headers=dict(self.config.headers), timeout=timeout,
            follow_redirects=True, max_redirects=self.max_redirects, trust_env=False,
            event_hooks={"request": [self._same_origin]},
        )

    async def _same_origin(self, request: httpx.Request) -> None:
        if (request.url.scheme, request.url.host, request.url.port) != self._origin:
            raise _OffSite()

    def deadline(self) -> float:
        """The loop time by which this read must be done (``timeout`` covers the whole read)."""
        return asyncio.get_running_loop().time() + self.config.timeout

    def url(self, path: str | None) -> str:
        if not path:
            return self.config.url
        if not path.startswith("/"):
            raise FetchError("path must start with '/'")
        return self.config.url.rstrip("/") + path

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    # --- one request ---------------------------------------------------------------------------
    async def fetch(self, client: httpx.AsyncClient, method: str, path: str | None, *,
                    deadline: float, params: dict[str, str] | None = None,
                    json_body: Any = None, expect: int | None = None,
                    error_body: bool = False) -> Answer:
        """One request, body capped. Non-2xx (or not ``expect``) raises unless ``error_body``."""
        try:
            async with asyncio.timeout_at(deadline):
                return await self._fetch(client, method, self.url(path), params, json_body,
                                         expect, error_body)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError(f"timed out after {format_duration(self.config.timeout)}") from None
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            raise FetchError(self.describe(exc)) from None

    async def _fetch(self, client, method, url, params, json_body, expect, error_body) -> Answer:
        cap = self.config.max_bytes
        async with client.stream(method, url, params=params, json=json_body) as resp:
            answer_ok = resp.status_code == expect if expect is not None else resp.is_success
            reason = _phrase(resp.reason_phrase, resp.status_code)
            if not answer_ok and not error_body:
                text = f"HTTP {resp.status_code} {reason}".rstrip()
                raise FetchError(f"{text}, expected {expect}" if expect is not None else text)
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                if not answer_ok:
                    raise FetchError(f"HTTP {resp.status_code} {reason}".rstrip())
                raise FetchError(f"response larger than {cap} bytes")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > cap:
                    if not answer_ok:
                        raise FetchError(f"HTTP {resp.status_code} {reason}".rstrip())
                    raise FetchError(f"response larger than {cap} bytes")
            return Answer(resp.status_code, reason, bytes(body))

    def describe(self, exc: BaseException) -> str:
        """One line for a failed request; never the URL or headers."""
        if isinstance(exc, httpx.TooManyRedirects):
            return f"too many redirects (more than {self.max_redirects})"
        if isinstance(exc, _OffSite):
            return "redirected to another host, scheme or port: refused (headers carry credentials)"
        for cause in _chain(exc):
            if isinstance(cause, ssl.SSLError):
                return f"TLS error: {_tls_reason(cause)}"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timed out after {format_duration(self.config.connect_timeout)}"
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {format_duration(self.config.timeout)}"
        for cause in _chain(exc):
            if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
                return "connection refused"
            if isinstance(cause, socket.gaierror):
                return "cannot resolve the host name"
            if isinstance(cause, ConnectionResetError):
                return "connection reset by the server"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"bad HTTP answer: {clean(str(exc), 100, single_line=True)}"
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return "invalid URL (check the source's url and path)"
        if isinstance(exc, httpx.DecodingError):
            return "could not decode the response body (Content-Encoding)"
        for cause in _chain(exc):
            if isinstance(cause, OSError) and cause.strerror:
                return f"connection failed: {clean(cause.strerror, 80, single_line=True)}"
        # Other exception texts may quote a header value or a URL: name the kind only.
        return f"request failed ({type(exc).__name__})"

    def note(self, text: str) -> str:
        """Text for ``detail`` (the base class cleans detail but does not redact it)."""
        return self.redact(text)


@register("http")
class HttpClient(HttpBase):
    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        if signal.transaction:
            return await self._transaction(signal_name, signal, started)
        if not signal.json_path:
            return self.error(signal_name, "an http signal needs 'json_path' or 'transaction'", started)
        try:
            steps = jsonpath.parse(signal.json_path)
        except jsonpath.PathSyntaxError as exc:
            return self.error(signal_name, f"bad json_path: {exc}", started)
        try:
            async with self.session() as client:
                answer = await self.fetch(client, "GET", signal.path, deadline=self.deadline())
            value = jsonpath.number_at(parse_json(answer.body), steps)
        except (FetchError, jsonpath.ExtractError) as exc:
            return self.error(signal_name, str(exc), started)
        return self.value(signal_name, value, started)

    async def _transaction(self, signal_name: str, signal: Signal, started: float) -> Reading:
        deadline = self.deadline()
        failure: str | None = None
        try:
            async with self.session() as client:
                for number, step in enumerate(signal.transaction or (), 1):
                    try:
                        await self.fetch(client, step.method, step.path, deadline=deadline,
                                         json_body=step.json_body, expect=step.expect_status)
                    except FetchError as exc:
                        failure = f"step {number} {step.method} {step.path}: {exc}"
                        break
        except FetchError as exc:  # the pool itself could not be set up (e.g. ca_file)
            return self.error(signal_name, str(exc), started)
        elapsed_ms = (self.clock.monotonic() - started) * 1000.0
        if signal.measure == "success":
            if failure:
                return self.value(signal_name, False, started, detail=(self.note(failure),))
            return self.value(signal_name, True, started)
        if failure:
            return self.error(signal_name, failure, started)
        return self.value(signal_name, elapsed_ms, started)
