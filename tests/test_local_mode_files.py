"""The local-mode journal file read back (a trust boundary: someone with write access to the
journal's folder may edit it), and the local-mode words drawn from untrusted entries. No
database: these are the file and the view rules alone."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.clock import ManualClock
from cockpit.journal import Actor, JournalError
from cockpit.journal.entry import build
from cockpit.journal.local import LocalJournal, local_path, mark, pending
from cockpit.runbook.state import LocalMerge
from cockpit.tui.panels.audit import entry_line
from cockpit.tui.panels.header import merge_notice

ACTOR = Actor(operator="lead1", os_user="lead1", host="jump1", ssh_client=None, pid=7, session="s1")
HEAD = (3, "a" * 64)


def _made(tmp_path, notes=("one", "two")) -> tuple:
    copy = tmp_path / "copy.jsonl"
    lm = LocalJournal.start(copy, cutover_id="t-cut", clock=ManualClock(), actor=ACTOR,
                            reason_code="KNOWN_ISSUE", note="db down", shared_head=HEAD)
    for n in notes:
        lm.journal.append("note", actor=ACTOR, note=n)
    lm.close()
    return copy, local_path(copy).read_bytes()


def test_a_local_journal_resumes_with_its_entries_and_a_second_start_is_refused(tmp_path):
    copy, _ = _made(tmp_path)
    lm = LocalJournal.resume(copy, cutover_id="t-cut", clock=ManualClock())
    assert lm is not None and lm.problem is None and lm.resumed
    assert lm.shared_head == HEAD and [e.note for e in lm.actions] == ["one", "two"]
    assert pending(copy) is not None and "\n" not in pending(copy)
    lm.close()
    try:
        LocalJournal.start(copy, cutover_id="t-cut", clock=ManualClock(), actor=ACTOR,
                           reason_code=None, note=None, shared_head=HEAD)
        raise AssertionError("a second local journal was started")
    except JournalError as exc:
        assert "already exists" in str(exc) and "\n" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.integers(min_value=0, max_value=10_000), byte=st.integers(0, 255),
       how=st.sampled_from(["flip", "cut", "append", "insert"]))
def test_a_hostile_local_journal_is_never_merged_and_kept_as_it_is(tmp_path_factory, where, byte,
                                                                   how):
    tmp = tmp_path_factory.mktemp("lm")
    copy, good = _made(tmp)
    i = where % len(good)
    if how == "flip":
        bad = good[:i] + bytes([good[i] ^ (byte or 1)]) + good[i + 1:]
    elif how == "cut":
        bad = good[:i]
    elif how == "append":
        bad = good + bytes([byte]) * (1 + where % 40)
    else:
        bad = good[:i] + bytes([byte]) + good[i:]
    path = local_path(copy)
    path.write_bytes(bad)
    lm = None
    try:
        lm = LocalJournal.resume(copy, cutover_id="t-cut", clock=ManualClock())
    except JournalError as exc:  # refused to open: one line, and the file left
        assert "\n" not in str(exc)
        assert path.read_bytes() == bad
        return
    finally:
        if lm is not None:
            lm.close()
    assert lm is not None
    # Nothing lost: the file as it was, or its acknowledged part with the unacknowledged tail
    # moved aside by the journal's own rule (a .broken-* file, shown until acknowledged).
    kept = path.read_bytes()
    aside = b"".join(p.read_bytes() for p in sorted(tmp.glob("copy.jsonl.local.jsonl.broken-*")))
    assert kept == bad or kept + aside == bad
    if lm.problem is not None:
        assert "\n" not in lm.problem and "NOT merged" in lm.problem
    else:  # accepted only as the genuine journal or an acknowledged prefix of it
        assert good.startswith(kept) and lm.start_entry.action == "local.start"


WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(who=WORDS, code=st.none() | WORDS, note=st.none() | WORDS, conflict=WORDS,
       count=st.integers(0, 10_000), conflicts=st.integers(0, 10_000))
def test_local_mode_words_from_untrusted_entries_are_one_line_of_text(who, code, note, conflict,
                                                                      count, conflicts):
    m = LocalMerge(9, 1_800_000_000.0, who, code, note, "2026-11-28T22:14:00.000Z",
                   "2026-11-28T22:31:00.000Z", count, conflicts)

    class S:
        local_merges = (m,)

    line = merge_notice(S(), 1_800_000_010.0)
    assert line is not None and line.startswith("merged ")
    entry = build(4, 1_800_000_000.0, "t-cut", ACTOR, "note", subject=None, reason_code=code,
                  note=note, prev="b" * 64,
                  data={"local": {"seq": 2, "hash": "c" * 64, "ts": "2026-11-28T22:15:00.000Z",
                                  "conflict": conflict}})
    marked = mark(entry)
    assert marked is not None and marked.startswith("LOCAL #2 22:15:00Z")
    drawn = entry_line(entry)
    assert "\n" not in drawn.plain and "\x1b" not in drawn.plain
    with contextlib.suppress(Exception):
        drawn.markup  # noqa: B018 - rendering as markup must not be where text came from
    assert all(not isinstance(s.style, str) or "[" not in s.style for s in drawn.spans)
