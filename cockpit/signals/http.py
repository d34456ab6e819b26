"""HTTP sources: extract a number from a JSON answer, or measure a synthetic transaction.

Extract (``json_path``): ``GET {url}{path}``, parse JSON, take the number at the path
(see :mod:`cockpit.jsonpath`). Booleans pass through for success signals.

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
in :meth:`close`). Single-request reads (extraction, Prometheus, help desk) share one long-lived
``httpx.AsyncClient`` over it whose cookie jar never stores anything; a transaction takes its own
light client with a fresh jar for that read only. Either way no cookie reaches another read or
signal.
"""

from __future__ import annotations

import asyncio
import errno
import json
import re
import select
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import httpcore
import httpx

from cockpit import jsonpath
from cockpit.config.sources import Signal
from cockpit.signals.base import SourceClient
from cockpit.signals.reading import Reading
from cockpit.signals.wording import timed_out
from cockpit.text import clean

_REASON_CHARS = 40
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")
_MESSAGE_CHARS = 160

# Per source, keep-alive included. Enough that a few hung requests (each holds a connection for
# its whole timeout) and a burst of signals due together do not queue behind each other, and
# that queued requests stay few (httpcore matches each queued request against every connection
# on every change, so a long queue costs quadratic CPU). A real Prometheus runs at most 20
# queries at once by default (--query.max-concurrency) and queues the rest itself, so more
# connections than that buy nothing there; a help desk API rate-limits far below it.
POOL_CONNECTIONS = 16
# Connections opened for a burst (every signal polls at start) and then left idle close after
# this; one in steady use never idles that long. Below common server and load-balancer idle
# timeouts (60 s and more), so we rarely reuse a connection the server is about to drop.
KEEPALIVE_S = 15.0


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


class _Stream(httpcore.AsyncNetworkStream):
    """A connection whose "is the idle server gone?" check is one poll() on a cached socket.

    httpcore asks that of every idle connection each time a request arrives or finishes; the
    stock anyio stream answers by rebuilding all its socket attributes (getpeername and more)
    per call, which made each request cost more the more connections the pool kept warm.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream):
        self._inner = inner
        self._sock = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._sock is not None:
            return _readable(self._sock)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket) -> bool:
    if sock.fileno() < 0:
        return True  # closed under us: let httpcore drop it
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self):
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _transport(ssl_context: ssl.SSLContext) -> httpx.AsyncHTTPTransport:
    limits = httpx.Limits(max_connections=POOL_CONNECTIONS,
                          max_keepalive_connections=POOL_CONNECTIONS, keepalive_expiry=KEEPALIVE_S)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, retries=0, trust_env=False,
                                         limits=limits)
    # httpx builds its pool without a way to pass httpcore's network_backend: swap in the same
    # pool with ours. Should a future httpx hold something else there, keep its own.
    if isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=POOL_CONNECTIONS,
            max_keepalive_connections=POOL_CONNECTIONS, keepalive_expiry=KEEPALIVE_S,
            retries=0, network_backend=_Backend(),
        )
    return transport


class _OffSite(Exception):
    pass


class _NoCookies(CookieJar):
    """A jar that keeps nothing: for the client shared by every single-request read."""

    def set_cookie(self, cookie) -> None:
        return None

    def extract_cookies(self, response, request) -> None:
        return None


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
        self._shared: httpx.AsyncClient | None = None
        self._headers_ok = False
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
            self._transport = _transport(self._ssl_context())
        return self._transport

    def _check_headers(self) -> None:
        if self._headers_ok:
            return
        for name, value in self.config.headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise FetchError(f"invalid header name {clean(name, 40, single_line=True)!r}")
            if not _HEADER_VALUE.fullmatch(value):
                # The value may be a secret: name the header, never show the value.
                raise FetchError(f"invalid value for header {name}: printable ASCII only, no line breaks")
        self._headers_ok = True

    def _client(self, cookies: CookieJar) -> httpx.AsyncClient:
        if self._origin is None:
            raise FetchError("invalid url: it must start with http:// or https:// and name a host")
        self._check_headers()
        timeout = httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout)
        return httpx.AsyncClient(
            transport=_Borrowed(self._pool()), headers=dict(self.config.headers), timeout=timeout,
            follow_redirects=True, max_redirects=self.max_redirects, trust_env=False,
            event_hooks={"request": [self._same_origin]}, cookies=cookies,
        )

    def session(self) -> httpx.AsyncClient:
        """A client for one read with its own cookie jar (a transaction), over the shared pool.

        Use it as ``async with``: leaving it drops the jar, never the pool.
        """
        return self._client(CookieJar())

    def shared(self) -> httpx.AsyncClient:
        """The source's client for single-request reads: stores no cookies. Do not close it."""
        if self._shared is None:
            self._shared = self._client(_NoCookies())
        return self._shared

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
        shared, self._shared = self._shared, None
        if shared is not None:
            await shared.aclose()  # it only borrows the pool: this leaves the pool to us
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
            raise FetchError(timed_out(self.config.timeout, "timeout")) from None
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
        # A timeout first: a TLS handshake that never got its answer is a connect timeout,
        # whatever the SSL layer's own text ("the operation did not complete (read)").
        if isinstance(exc, httpx.ConnectTimeout):
            return timed_out(self.config.connect_timeout, "connect_timeout", what="connect timed out")
        if isinstance(exc, httpx.TimeoutException) or any(
                isinstance(c, TimeoutError) for c in _chain(exc)):
            return timed_out(self.config.timeout, "timeout")
        for cause in _chain(exc):
            if isinstance(cause, ssl.SSLError):
                return f"TLS error: {_tls_reason(cause)}"
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
            answer = await self.fetch(self.shared(), "GET", signal.path, deadline=self.deadline())
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
