"""Untrusted text in the pack is text (property): any note, operator name, subject or reason
code in a journal gives an index.html whose elements and attributes are exactly those of the
same journal with plain words (html.parser), and an evidence.md with no link, image, raw HTML,
code span, emphasis or extra heading (markdown-it, CommonMark); the JSON keeps the cleaned
text. Built in memory from real journal bytes (``entry.build`` + the reader's one rule)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cockpit.journal import GENESIS, Actor
from cockpit.journal.entry import build
from cockpit.report import html, jsonout, markdown, source
from cockpit.report.render import facts_of
from cockpit.text import clean
from tests.report_support import markup

T0 = 1_800_000_000.0
BAD = ("link_open", "image", "html_inline", "html_block", "code_inline", "em_open", "autolink",
       "s_open")


def _journal(note: str, who: str, subject: str, code: str) -> bytes:
    actor = Actor(who, "u", "h", None, 1, "s1")
    prev, out = GENESIS, []
    items = [("session.start", None, None, None, None),
             ("note", subject, code, note, None),
             ("gate.override", subject, code, note, {"step": subject, "gate": {
                 "state": "NO-GO", "reason": note}}),
             ("exception.open", "rx-1", None, None, {"layer": "content", "table": subject,
                                                    "kind": "missing", "title": note, "keys": []}),
             ("exception.triage", "rx-1", code, note, {"category": "defer"}),
             ("rollback.start", None, code, note, {"phase": subject}),
             ("gate.change", subject, None, None, {"state": "NO-GO"})]
    for i, (action, subj, rc, nt, data) in enumerate(items, 1):
        e = build(i, T0 + 60 * i, "c1", actor, action, subject=subj, reason_code=rc, note=nt,
                  data=data, prev=prev)
        out.append(e.line())
        prev = e.hash
    return b"".join(out)


def _pack(note: str, who: str, subject: str, code: str) -> tuple[str, str, dict]:
    data = _journal(note, who, subject, code)
    result, read = source.verify_and_read(data, None)
    facts = facts_of(read, result, journal_label=note, generated=T0)
    return html.render(facts), markdown.render(facts), json.loads(jsonout.render(facts))


_MD = MarkdownIt("commonmark").enable("table")


def _md_shape(text: str) -> tuple[list[str], list[str], int]:
    tokens = _MD.parse(text)
    inline = [c.type for t in tokens for c in (t.children or [])]
    blocks = [t.type for t in tokens if t.type != "inline"]
    return blocks, inline, sum(1 for t in tokens if t.type == "heading_open")


PLAIN = _pack("plain words", "ann", "B1", "KNOWN_ISSUE")
PLAIN_HTML = markup(PLAIN[0])
PLAIN_MD = _md_shape(PLAIN[1])

hostile = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["<", ">", "&", "\"", "'", "[", "]", "(", ")", "!", "#", "*", "_",
                              "`", "|", "\\", "<script>", "</td>", "<img src=x onerror=y>",
                              "javascript:", "http://evil.example", "\n", "\r\n# h", "-->",
                              "<!--", "&amp;", "&#60;", "www.evil.example", " ", "a", "é"]),
             max_size=40).map("".join),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note=hostile, who=hostile, subject=hostile, code=hostile)
def test_arbitrary_notes_never_become_markup_in_html_or_markdown(note, who, subject, code):
    page, md, ev = _pack(note, who or "x", subject or "y", code or "z")
    m = markup(page)
    assert m.tags == PLAIN_HTML.tags  # the very same elements, in the same order
    assert m.attrs == PLAIN_HTML.attrs  # and the same attributes: none came from the text
    blocks, inline, headings = _md_shape(md)
    assert not [t for t in inline if t in BAD], inline
    assert inline.count("strong_open") == PLAIN_MD[1].count("strong_open")  # only ours
    assert "html_block" not in blocks and headings == PLAIN_MD[2]
    assert blocks == PLAIN_MD[0]  # no list, quote, heading or table row made by the text
    notes = [t["note"] for t in ev["timeline"] if t["action"] == "note"]
    assert notes == [clean(note, 500, single_line=True)]


def _night() -> tuple[object, bytes]:
    import tempfile
    from pathlib import Path

    from tests.timings_night import rehearse, write_plan

    folder = Path(tempfile.mkdtemp(prefix="report-night-"))
    plan, _ = rehearse(write_plan(folder), folder / "night.jsonl")
    return plan, (folder / "night.jsonl").read_bytes()


NIGHT_PLAN, NIGHT = _night()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=st.integers(0, 15), mode=st.sampled_from(["bytes", "field", "drop", "dup"]),
       junk=st.binary(max_size=200), field=st.sampled_from(
           ["data", "subject", "note", "actor", "action", "seq", "ts", "reason_code"]),
       value=json_values)
def test_any_damage_to_the_journal_still_gives_a_report_never_a_traceback(at, mode, junk, field,
                                                                          value):
    lines = NIGHT.splitlines(keepends=True)
    if mode == "bytes":
        lines[at] = junk + b"\n"
    elif mode == "field":
        doc = json.loads(lines[at])
        doc[field] = value
        lines[at] = json.dumps(doc).encode() + b"\n"
    elif mode == "drop":
        del lines[at]
    else:
        lines.insert(at, lines[at])
    data = b"".join(lines)
    result, read = source.verify_and_read(data, None)
    facts = facts_of(read, result, plan=NIGHT_PLAN, generated=T0)  # type: ignore[arg-type]
    page, md, ev = html.render(facts), markdown.render(facts), json.loads(jsonout.render(facts))
    v = ev["summary"]["verification"]
    if data != NIGHT and not (mode == "drop" and at == 15):
        # only a no-op edit still verifies; a cut last entry does too, without --expect-head
        # (test_report_damage.py: the recorded head catches it)
        assert not v["ok"] or v["entries"] == 16
    if not v["ok"]:
        assert page.index("verdict bad") < page.index("<section") and "DOES NOT VERIFY" in md
        assert all(not t["verified"] for t in ev["timeline"][v["verified_entries"]:])
    assert len(ev["timeline"]) == v["entries"]
