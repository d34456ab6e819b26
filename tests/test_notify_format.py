"""Untrusted text (ticket and exception titles, operator notes, names) in a message is shown as
text by every target: hypothesis property tests per format. The promise: the payload is valid
JSON (or a well-formed e-mail), no mention can ping anyone (no ``@`` survives; ``<!channel>``
is escaped), no markup is live (Slack: only ``&amp;`` ``&lt;`` ``&gt;`` entities and no raw
``<>&``; Markdown targets: every ASCII punctuation character is escaped), and the text reads
back as it was (cleaned)."""

from __future__ import annotations

import json
import string
from email import message_from_bytes, policy

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.notify.events import Message
from cockpit.notify.format import AT, email_message, markdown_text, slack_text, webhook_payload
from cockpit.text import clean

HOSTILE = ["@channel", "@here", "@everyone", "@all", "<!channel>", "<!here|here>", "<@U123>",
           "[click](http://evil.example)", "**bold**", "_it_", "~strike~", "`code`", "# head",
           "<script>alert(1)</script>", "&lt;", "\\*", "> quote", "| a | b |", "- list",
           "![img](http://x/y.png)", "\r\nBcc: victim@example.com", "\x1b[31mred", "\u202egnp."]
texts = st.one_of(st.text(max_size=200),
                  st.lists(st.sampled_from(HOSTILE) | st.text(max_size=10), max_size=8).map("".join))


def _message(title: str, note: str, who: str = "lead1") -> Message:
    return Message("t-cut", "cutover " + title[:20], "step.fail", 7, "ab" * 32, 1_800_000_000.0,
                   who, title, note or None)


def _slack_inert(text: str) -> bool:
    i = 0
    while i < len(text):
        if text[i] == "&":
            if not any(text.startswith(e, i) for e in ("&amp;", "&lt;", "&gt;")):
                return False
            i = text.index(";", i) + 1
            continue
        if text[i] in "<>@":
            return False
        i += 1
    return True


def _markdown_inert(text: str) -> bool:
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in string.punctuation:
                return False
            i += 2
            continue
        if c == "&":
            if not any(text.startswith(e, i) for e in ("&amp;", "&lt;", "&gt;")):
                return False
            i = text.index(";", i) + 1
            continue
        if c in string.punctuation:
            return False
        i += 1
    return True


def _unslack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace(AT, "@")


def _unmarkdown(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return _unslack("".join(out))


@settings(max_examples=300, deadline=None)
@given(texts)
def test_slack_text_never_pings_nor_renders_markup_and_reads_back(text):
    out = slack_text(text)
    assert _slack_inert(out)
    assert _unslack(out) == clean(text, 2000, single_line=True).replace(AT, "@")


@settings(max_examples=300, deadline=None)
@given(texts)
def test_markdown_text_never_pings_nor_renders_markup_and_reads_back(text):
    out = markdown_text(text)
    assert _markdown_inert(out)
    assert _unmarkdown(out) == clean(text, 2000, single_line=True).replace(AT, "@")


@settings(max_examples=150, deadline=None)
@given(texts, texts, texts)
def test_every_chat_payload_is_json_with_inert_text(title, note, who):
    m = _message(title, note, who)
    slack = json.loads(webhook_payload("slack", m, "t-cut:7:chat", "Europe/Stockholm"))
    assert slack["mrkdwn"] is False and slack["idempotency_key"] == "t-cut:7:chat"
    assert all(_slack_inert(line) for line in slack["text"].split("\n"))
    mattermost = json.loads(webhook_payload("mattermost", m, "t-cut:7:mm", None))
    assert all(_markdown_inert(line) for line in mattermost["text"].split("\n"))
    teams = json.loads(webhook_payload("teams", m, "t-cut:7:teams", None))
    blocks = teams["attachments"][0]["content"]["body"]
    assert blocks and all(_markdown_inert(b["text"]) for b in blocks)
    assert len(slack["text"].split("\n")) == len(blocks)  # one line per line: no injected lines


@settings(max_examples=150, deadline=None)
@given(texts, texts)
def test_the_generic_webhook_payload_is_json_with_cleaned_one_line_fields(title, note):
    m = _message(title, note)
    body = json.loads(webhook_payload("webhook", m, "t-cut:7:hook", None))
    assert body["title"] == clean(title, 500, single_line=True)
    assert body["seq"] == 7 and body["idempotency_key"] == "t-cut:7:hook"
    for value in body.values():
        if isinstance(value, str):
            assert "\n" not in value and "\r" not in value and "\x1b" not in value


@settings(max_examples=150, deadline=None)
@given(texts, texts)
def test_an_email_is_plain_text_whose_headers_cannot_be_injected(title, note):
    m = _message(title, note)
    msg = email_message(m, "t-cut:7:mail", None, "cockpit@example.org", ["bridge@example.org"])
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.SMTP)
    assert sorted(parsed.keys()) == sorted(["Subject", "From", "To", "Date", "Message-ID",
                                            "Idempotency-Key", "Content-Type",
                                            "Content-Transfer-Encoding", "MIME-Version"])
    assert parsed["To"] == "bridge@example.org" and parsed.get_all("Bcc") is None
    assert parsed.get_content_type() == "text/plain"
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    body = parsed.get_content()
    assert "\x1b" not in body and "\u202e" not in body


def test_the_local_time_of_the_plan_is_given_beside_utc():
    m = _message("t", "")
    body = json.loads(webhook_payload("webhook", m, "k", "Europe/Stockholm"))
    assert body["when"] == "2027-01-15 08:00:00 UTC (09:00 CET)"
    assert body["ts"] == "2027-01-15T08:00:00Z"
