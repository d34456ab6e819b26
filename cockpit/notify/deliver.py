"""One delivery attempt to one target, and what it means for the next one.

An attempt never takes longer than about the target's ``timeout``: connecting, sending and
reading the answer are each bounded, and the answer's body is read to a deadline and a size
cap (a trickling server costs the timeout, never the thread). Every error string is redacted
with the plan's secrets (an httpx error quotes the URL, which is the webhook's secret) and
then cut to one line.
"""

from __future__ import annotations

import random
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from cockpit.config.notify import EmailTarget, WebhookTarget
from cockpit.config.plan import Plan
from cockpit.notify.events import Message
from cockpit.notify.format import email_message, webhook_payload
from cockpit.redact import redact
from cockpit.text import clean

MAX_BODY = 64 * 1024
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 300.0
RETRY_AFTER_CAP_S = 3600.0
RETRYABLE = frozenset({408, 429})


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    permanent: bool = False  # a refusal that no retry will change
    error: str = ""
    retry_after: float | None = None  # seconds, from the target's Retry-After


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: exponential, capped,
    with jitter (half to all of it), so cockpits and targets recovering together spread out."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return base * (0.5 + 0.5 * (rng or random).random())


def retry_after(value: str | None, date: str | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP date (taken against the
    answer's own ``Date`` when it has one, so the two clocks are the server's)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP_S)
    try:
        when = parsedate_to_datetime(value).timestamp()
        ref = parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, when - ref), RETRY_AFTER_CAP_S)


def _words(plan: Plan, exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return clean(redact(plan.redact(text)), 300, single_line=True)


class Clients:
    """One httpx client per webhook target, kept by the delivery thread (building one costs
    about 0.1 s: its TLS context), so connections are reused too. Not thread-safe: the
    thread that sends owns it."""

    def __init__(self) -> None:
        self._by_target: dict[str, httpx.Client] = {}

    def get(self, plan: Plan, name: str, target: WebhookTarget) -> httpx.Client:
        client = self._by_target.get(name)
        if client is None:
            client = self._by_target[name] = _client(plan, target)
        return client

    def close(self) -> None:
        for client in self._by_target.values():
            client.close()
        self._by_target.clear()


def _client(plan: Plan, target: WebhookTarget) -> httpx.Client:
    verify: bool | str = target.verify_tls
    if target.verify_tls and target.ca_file:
        verify = str(plan.resolve(target.ca_file))
    return httpx.Client(timeout=httpx.Timeout(target.timeout), verify=verify,
                        follow_redirects=False, trust_env=False)


def send_webhook(plan: Plan, target: WebhookTarget, message: Message, key: str,
                 client: httpx.Client | None = None) -> Outcome:
    body = webhook_payload(target.type, message, key, plan.cutover.timezone)
    deadline = time.monotonic() + target.timeout
    own = client is None
    try:
        if client is None:
            client = _client(plan, target)
        try:
            req = client.build_request("POST", target.url, content=body, headers={
                "Content-Type": "application/json", "Idempotency-Key": key,
                "User-Agent": "cutover-cockpit-notify"})
            resp = client.send(req, stream=True)
            try:
                got = 0
                for chunk in resp.iter_raw():
                    got += len(chunk)
                    if got > MAX_BODY or time.monotonic() > deadline:
                        break
            finally:
                resp.close()
        finally:
            if own:
                client.close()
    except (httpx.HTTPError, OSError, ValueError, ssl.SSLError) as exc:
        return Outcome(False, error=_words(plan, exc))
    status = resp.status_code
    if 200 <= status < 300:
        return Outcome(True)
    words = f"HTTP {status}"
    if status in RETRYABLE or status >= 500:
        dates = resp.headers.get_list("date")
        return Outcome(False, error=words, retry_after=retry_after(
            resp.headers.get("retry-after"), dates[0] if dates else None))
    return Outcome(False, permanent=True, error=f"{words}: refused (not retried)")


def send_email(plan: Plan, target: EmailTarget, message: Message, key: str) -> Outcome:
    msg = email_message(message, key, plan.cutover.timezone, target.from_, target.to)
    try:
        with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
            smtp.ehlo()
            if target.starttls:
                ctx = ssl.create_default_context(
                    cafile=str(plan.resolve(target.ca_file)) if target.ca_file else None)
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if target.user is not None:
                smtp.login(target.user, target.password or "")
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        return Outcome(False, permanent=all(c >= 500 for c in codes),
                       error=f"recipients refused ({', '.join(map(str, sorted(set(codes))))})")
    except smtplib.SMTPResponseException as exc:
        return Outcome(False, permanent=exc.smtp_code >= 500,
                       error=_words(plan, RuntimeError(f"SMTP {exc.smtp_code}")))
    except (smtplib.SMTPException, OSError, ssl.SSLError, ValueError) as exc:
        return Outcome(False, error=_words(plan, exc))
    return Outcome(True)


def send(plan: Plan, name: str, message: Message, key: str,
         clients: Clients | None = None) -> Outcome:
    assert plan.notify is not None
    target = plan.notify.targets[name]
    if isinstance(target, EmailTarget):
        return send_email(plan, target, message, key)
    if isinstance(target, WebhookTarget):
        client = clients.get(plan, name, target) if clients is not None else None
        return send_webhook(plan, target, message, key, client)
    return Outcome(False, permanent=True, error="unknown target type")  # refused at load
