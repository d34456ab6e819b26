"""The email target against a real SMTP server on loopback (aiosmtpd) that requires STARTTLS,
with a throwaway self-signed certificate made at test time (openssl): the message arrives
once, as plain text, over TLS, after login; a server refusing the recipient for good makes a
dead letter; a certificate the plan does not trust is an error, never a plain-text fallback."""

from __future__ import annotations

import socket
import ssl

import pytest

from cockpit.notify import Notifier
from tests.notify_support import notify_plan
from tests.test_runbook_rules import Cockpit

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

PASSWORD = "smtp-pa55-Wq81zz"


class Mailbox:
    def __init__(self, refuse: bool = False):
        self.messages: list[tuple[str, list[str], bytes, bool]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        tls = session.ssl is not None
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(tls_files):
    def start(mailbox: Mailbox):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(tls_files.cert), str(tls_files.key))
        controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(),
                                tls_context=ctx, require_starttls=True,
                                authenticator=_authenticator, auth_require_tls=True)
        controller.start()
        started.append(controller)
        return controller

    started: list = []
    yield start
    for c in started:
        c.stop()


def _target(port: int, ca: str, extra: str = "") -> str:
    return (f"    mail:\n      type: email\n      host: 127.0.0.1\n      port: {port}\n"
            f"      from: cockpit@example.org\n      to: [bridge@example.org]\n"
            f"      user: cockpit\n      password: \"${{SMTP_PASSWORD}}\"\n      ca_file: {ca}\n"
            f"      events: [step.fail]\n      timeout: 10s\n{extra}")


def test_a_message_arrives_once_over_starttls_as_plain_text(tmp_path, smtp, tls_files):
    box = Mailbox()
    controller = smtp(box)
    plan = notify_plan(tmp_path, _target(controller.port, str(tls_files.cert)),
                       {"SMTP_PASSWORD": PASSWORD})
    c = Cockpit(plan)
    notifier = Notifier(plan, c.journal, c.clock)
    e = c("dba1").fail("S1", "disk full\r\nBcc: victim@example.org @channel")
    assert notifier.step() == 1
    assert notifier.counts()["sent"] == 1
    assert len(box.messages) == 1
    sender, rcpts, content, tls = box.messages[0]
    assert (sender, rcpts, tls) == ("cockpit@example.org", ["bridge@example.org"], True)
    text = content.decode()
    headers, _, body = text.partition("\r\n\r\n")
    assert f"Idempotency-Key: t-cut:{e.seq}:mail" in headers
    assert "Content-Type: text/plain" in headers and "Bcc:" not in headers
    assert "note: disk full Bcc: victim@example.org @channel" in body  # text, on its line
    assert f"journal seq {e.seq}" in text and PASSWORD not in text
    notifier.stop()


def test_a_recipient_refused_for_good_is_a_dead_letter(tmp_path, smtp, tls_files):
    controller = smtp(Mailbox(refuse=True))
    plan = notify_plan(tmp_path, _target(controller.port, str(tls_files.cert)),
                       {"SMTP_PASSWORD": PASSWORD})
    c = Cockpit(plan)
    notifier = Notifier(plan, c.journal, c.clock)
    c("dba1").fail("S1", "disk full")
    assert notifier.step() == 1
    dead = notifier.dead_letters()
    assert len(dead) == 1 and "recipients refused (550)" in dead[0].error
    notifier.stop()


def test_an_untrusted_certificate_is_an_error_never_a_plain_text_fallback(tmp_path, smtp, tls_files):
    box = Mailbox()
    controller = smtp(box)
    from tests.fixtures.httpserver import make_tls_files

    wrong = make_tls_files(tmp_path)
    plan = notify_plan(tmp_path, _target(controller.port, str(wrong.cert)),
                       {"SMTP_PASSWORD": PASSWORD})
    c = Cockpit(plan)
    notifier = Notifier(plan, c.journal, c.clock)
    c("dba1").fail("S1", "disk full")
    assert notifier.step() == 1
    assert box.messages == [] and notifier.counts()["pending"] == 1
    notifier.stop()


def test_starttls_is_on_unless_the_plan_turns_it_off(tmp_path):
    plan = notify_plan(tmp_path, _target(25, "ca.pem"), {"SMTP_PASSWORD": PASSWORD})
    assert plan.notify.targets["mail"].starttls is True
