"""Each target's payload, with untrusted text escaped so the target shows it as text.

The rule per format (the property tests in ``tests/test_notify_format.py`` assert it):

- every text is first one cleaned line (``cockpit.text.clean``: no controls, no escapes);
- chat targets (Slack, Mattermost, Teams): ``@`` becomes the fullwidth ``＠`` (U+FF20), so no
  ``@channel``, ``@here``, ``@all`` or ``@user`` can ping anyone; ``&``, ``<`` and ``>`` become
  ``&amp;``, ``&lt;``, ``&gt;`` (Slack's own escaping: ``<!channel>``, ``<@U1>`` and
  ``<url|text>`` stay text; HTML in a Teams card likewise);
- Slack: ``"mrkdwn": false`` besides, so ``*bold*`` and ``_it_`` stay as typed;
- Mattermost and Teams render Markdown: every other ASCII punctuation character is
  backslash-escaped (CommonMark lets any ASCII punctuation be escaped), so no link, emphasis,
  heading, list, code or table starts from an untrusted title or note;
- generic webhook: JSON only, no markup, the fields as they are (cleaned);
- email: plain text (``text/plain; charset=utf-8``), headers built by ``email.message``
  from one-line values (a CR or LF can never start another header).

Every JSON payload carries the idempotency key (``idempotency_key``; Slack and Teams ignore
unknown keys of a webhook payload); every request carries it as ``Idempotency-Key``.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from cockpit.notify.events import Message
from cockpit.text import clean

HEAD_PREFIX = 12
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PUNCT = frozenset(string.punctuation) - set(_ENTITIES) - {"@"}
AT = "\uff20"


def slack_text(text: str) -> str:
    return "".join(_ENTITIES.get(c, AT if c == "@" else c)
                   for c in clean(text, 2000, single_line=True))


def markdown_text(text: str) -> str:
    out = []
    for c in clean(text, 2000, single_line=True):
        if c in _ENTITIES:
            out.append(_ENTITIES[c])
        elif c == "@":
            out.append(AT)
        elif c in _PUNCT:
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def when(m: Message, timezone: str | None) -> str:
    """``2026-11-28 22:00:00 UTC (23:00 CET)``: UTC always, the plan's zone when it has one."""
    utc = datetime.fromtimestamp(m.wall, tz=UTC)
    words = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    if timezone:
        local = utc.astimezone(ZoneInfo(timezone))
        words += f" ({local.strftime('%H:%M')} {local.tzname() or timezone})"
    return words


def lines(m: Message, timezone: str | None) -> tuple[str, list[str]]:
    """(headline, detail lines) in plain words, before any escaping."""
    head = f"[{m.name}] {m.event}: {m.title}"
    where = f"journal seq {m.seq}, hash {m.hash[:HEAD_PREFIX]}" if m.seq else "no journal entry"
    detail = [f"by {m.who} at {when(m, timezone)}", where]
    if m.note:
        detail.append(f"note: {m.note}")
    return head, detail


def webhook_payload(kind: str, m: Message, key: str, timezone: str | None) -> bytes:
    """The body for a ``slack``, ``mattermost``, ``teams`` or ``webhook`` target."""
    head, detail = lines(m, timezone)
    if kind == "slack":
        body: dict = {"text": "\n".join(slack_text(x) for x in [head, *detail]),
                      "mrkdwn": False, "idempotency_key": key}
    elif kind == "mattermost":
        body = {"text": "\n".join(markdown_text(x) for x in [head, *detail]),
                "idempotency_key": key}
    elif kind == "teams":
        body = {"type": "message", "idempotency_key": key, "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.4",
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "body": [{"type": "TextBlock", "wrap": True,
                                  "weight": "Bolder" if i == 0 else "Default",
                                  "text": markdown_text(x)}
                                 for i, x in enumerate([head, *detail])]}}]}
    else:
        body = {"idempotency_key": key, "cutover": clean(m.cutover, 64, single_line=True),
                "name": clean(m.name, 200, single_line=True), "event": m.event,
                "title": clean(m.title, 500, single_line=True), "who": m.who,
                "ts": datetime.fromtimestamp(m.wall, tz=UTC).isoformat().replace("+00:00", "Z"),
                "when": when(m, timezone), "seq": m.seq, "hash": m.hash,
                "note": None if m.note is None else clean(m.note, 500, single_line=True)}
    return json.dumps(body, ensure_ascii=True, sort_keys=True).encode("ascii")


def email_message(m: Message, key: str, timezone: str | None, sender: str,
                  to: list[str]) -> EmailMessage:
    head, detail = lines(m, timezone)
    msg = EmailMessage()
    msg["Subject"] = clean(head, 200, single_line=True)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.fromtimestamp(m.wall, tz=UTC))
    msg["Message-ID"] = make_msgid(idstring=_token(key), domain="cockpit.invalid")
    msg["Idempotency-Key"] = _token(key)
    msg.set_content("\n".join(clean(x, 2000, single_line=True) for x in [head, *detail]) + "\n")
    return msg


def _token(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.:" else "_" for c in key)[:200]
