"""Three cockpit PROCESSES (headless, through the session and Operations, the action API the
TUI uses) race to append 1,000 actions to one shared journal: one chain, no gaps, nothing
lost or doubled, and every process ends with the same replayed state and a byte-identical
local copy."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from pathlib import Path

import pytest

from cockpit.journal import lines
from tests.test_journal_shared import create_table, make_shared_plan, table_lines

TOTAL = 1000
OPERATORS = ("dba1", "lead1", "lead2")  # each may confirm S1 (dba owns it, lead confirms "*")
DEADLINE_S = 120.0


def _cockpit(index: int, plan_path: str, copy_path: str, count: int, start, results, final) -> None:
    from cockpit.config import load_plan
    from cockpit.runbook import Refused
    from cockpit.session import open_session
    from tests.test_runbook_rules import gates

    plan, _ = load_plan(Path(plan_path), for_run=False)
    session = open_session(plan, copy_path, OPERATORS[index])
    acked: list[tuple[int, str, str]] = []
    confirmed = False
    try:
        start.wait(DEADLINE_S)
        for k in range(count):
            while k == count // 2:  # all three race to confirm the same step: one wins
                try:
                    e = session.ops.confirm("S1", gates())
                    acked.append((e.seq, e.hash, e.action))
                    confirmed = True
                    break
                except Refused as exc:
                    if "already done" in str(exc):
                        break
                    # Lost 20 races in a row (a loaded machine): not recorded; ask again.
                    assert "kept appending" in str(exc), str(exc)
            while True:
                try:
                    e = session.ops.note(f"cockpit {index} action {k}")
                    break
                except Refused as exc:  # lost 20 races in a row: the action was not recorded
                    assert "kept appending" in str(exc), str(exc)
            acked.append((e.seq, e.hash, e.action))
        results.put(("acked", index, acked, confirmed))
        target = final.get(timeout=DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while session.journal.head[0] < target and time.monotonic() < deadline:
            time.sleep(0.01)
        state = repr(session.ops.state)
        head = session.journal.head
    finally:
        session.close()
    digest = hashlib.sha256(Path(copy_path).read_bytes()).hexdigest()
    results.put(("final", index, state, head, digest))


def test_three_processes_race_to_append_one_thousand_actions(pg_db, tmp_path):
    create_table(pg_db)
    plan = make_shared_plan(tmp_path, pg_db.dsn)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    final = ctx.Queue()
    counts = [TOTAL // 3 + (1 if i < TOTAL % 3 else 0) for i in range(3)]
    procs = [ctx.Process(target=_cockpit, args=(i, str(plan.path), str(tmp_path / f"copy{i}.jsonl"),
                                                counts[i], start, results, final), daemon=True)
             for i in range(3)]
    for p in procs:
        p.start()
    try:
        start.set()
        acked = {}
        confirmed = 0
        for _ in procs:
            kind, index, entries, won = results.get(timeout=DEADLINE_S * 3)
            assert kind == "acked"
            acked[index] = entries
            confirmed += won
        rows = table_lines(pg_db)
        parsed = lines.parse(rows, cutover=plan.cutover.id)
        assert parsed.damage is None and not parsed.torn
        head = parsed.entries[-1].seq
        for _ in procs:
            final.put(head)
        finals = {}
        for _ in procs:
            kind, index, state, their_head, digest = results.get(timeout=DEADLINE_S)
            finals[index] = (state, their_head, digest)
    finally:
        for p in procs:
            p.join(DEADLINE_S)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    # One chain, no gaps: seq 1..n (parse checks the seq and the chain of every line).
    assert [e.seq for e in parsed.entries] == list(range(1, head + 1))
    notes = [e for e in parsed.entries if e.action == "note"]
    assert len(notes) == TOTAL and len({e.note for e in notes}) == TOTAL
    assert confirmed == 1
    assert [e.subject for e in parsed.entries if e.action == "step.confirm"] == ["S1"]
    # Every acknowledged action is in the table exactly once, as acknowledged.
    by_seq = {e.seq: e for e in parsed.entries}
    all_acked = [a for entries in acked.values() for a in entries]
    assert len(all_acked) == head == TOTAL + 1
    assert sorted(seq for seq, _, _ in all_acked) == list(range(1, head + 1))
    assert all(by_seq[seq].hash == h and by_seq[seq].action == a for seq, h, a in all_acked)
    # Identical replayed state and byte-identical local copies, equal to the table's export.
    table_digest = hashlib.sha256(rows).hexdigest()
    assert {f[1] for f in finals.values()} == {(head, parsed.entries[-1].hash)}
    assert len({f[0] for f in finals.values()}) == 1
    assert {f[2] for f in finals.values()} == {table_digest}



def _losing(pg_db, tmp_path, monkeypatch, losses: int):
    """Cockpit A loses its next ``losses`` races for real: just before each of A's inserts
    cockpit B appends first, so the database refuses A's row (its ``prev`` is no longer the
    head). Where B's append is slipped in is the test's; the refusals are PostgreSQL's."""
    from cockpit.session import open_session

    create_table(pg_db)
    plan_a = make_shared_plan(tmp_path / "a", pg_db.dsn)
    plan_b = make_shared_plan(tmp_path / "b", pg_db.dsn)
    a = open_session(plan_a, tmp_path / "a" / "copy.jsonl", "lead1")
    b = open_session(plan_b, tmp_path / "b" / "copy.jsonl", "lead2")
    left = [losses]
    real_insert = a.journal._insert_locked

    def b_first(actor, items):
        if left[0] > 0:
            left[0] -= 1
            b.ops.note(f"B first {left[0]}")
        return real_insert(actor, items)

    monkeypatch.setattr(a.journal, "_insert_locked", b_first)
    return a, b


def test_an_action_that_loses_some_races_is_checked_again_and_recorded_once(
        pg_db, tmp_path, monkeypatch):
    a, b = _losing(pg_db, tmp_path, monkeypatch, 5)
    try:
        e = a.ops.note("A at last")
        notes = [x.note for x in lines.parse(table_lines(pg_db), cutover="t-cut").entries]
        assert notes == [f"B first {k}" for k in (4, 3, 2, 1, 0)] + ["A at last"]
        assert e.seq == 6 and a.journal.head == (6, e.hash)
    finally:
        a.close()
        b.close()


def test_an_action_that_loses_every_race_is_refused_and_not_recorded(pg_db, tmp_path, monkeypatch):
    from cockpit.runbook import Refused
    from cockpit.runbook.operations import CONFLICT_RETRIES

    a, b = _losing(pg_db, tmp_path, monkeypatch, CONFLICT_RETRIES)
    try:
        with pytest.raises(Refused) as refused:
            a.ops.note("A never")
        assert str(refused.value) == ("not recorded: other cockpits kept appending to the shared "
                                      f"journal first ({CONFLICT_RETRIES} tries); try again")
        rows = table_lines(pg_db)
        assert b"A never" not in rows and rows.count(b"B first") == CONFLICT_RETRIES
        assert a.journal.head[0] == CONFLICT_RETRIES  # A read every row that beat it
    finally:
        a.close()
        b.close()
