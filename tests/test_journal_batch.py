"""Batched appends: many entries, one write and one fsync, chained like single appends."""

from __future__ import annotations

import pytest

import cockpit.journal.file as journal_file
from cockpit.journal import Actor, Journal, JournalWriteFailed, verify


def _actor() -> Actor:
    return Actor(operator="ann", os_user="ann", host="jump1", ssh_client=None, pid=1, session="s1")


def test_batch_is_chained_and_verifies(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    fsyncs = []
    real = journal_file._fsync
    monkeypatch.setattr(journal_file, "_fsync", lambda fd: (fsyncs.append(fd), real(fd))[1])
    with Journal.open(path, cutover_id="c1") as j:
        j.append("note", actor=_actor(), note="before")
        fsyncs.clear()
        items = [{"action": "exception.open", "subject": f"rx-{i:04d}", "data": {"kind": "missing"}}
                 for i in range(500)]
        items.append({"action": "recon.run", "data": {"mismatched_rows": 500}})
        written = j.append_many(_actor(), items)
        assert len(fsyncs) == 1  # one durable write for the whole run
        assert [e.seq for e in written] == list(range(2, 503))
        assert written[0].prev == j.entries[0].hash
        assert j.head == (502, written[-1].hash)
    result = verify(path)
    assert result.ok and result.count == 502
    with Journal.open(path, cutover_id="c1", readonly=True) as again:
        assert [e.subject for e in again.entries[1:4]] == ["rx-0000", "rx-0001", "rx-0002"]


def test_failed_batch_records_nothing(tmp_path, monkeypatch):
    """An fsync failure cannot be made on demand here, so it is injected at the fsync hook."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id="c1") as j:
        j.append("note", actor=_actor(), note="before")
        head = j.head

        def broken(fd):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(journal_file, "_fsync", broken)
        with pytest.raises(JournalWriteFailed, match="2 entries were"):
            j.append_many(_actor(), [{"action": "note", "note": "a"}, {"action": "note", "note": "b"}])
        assert j.head == head and len(j.entries) == 1
        assert j.readonly
    with Journal.open(path, cutover_id="c1", readonly=True) as again:
        assert len(again.entries) == 1  # the batch was taken back out of the file


def test_batch_refuses_a_secret_before_writing_anything(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id="c1") as j:
        with pytest.raises(Exception, match="never stores secrets"):
            j.append_many(_actor(), [{"action": "note", "note": "fine"},
                                     {"action": "note", "note": "dsn host=x password=hunter2"}])
        assert j.entries == []
    assert path.read_bytes() == b""


# -- the batch mark: a batch counts only when it is all there ---------------------------------

import json  # noqa: E402

from cockpit.clock import ManualClock  # noqa: E402
from cockpit.journal import GENESIS, canonical, chain_hash  # noqa: E402
from cockpit.journal.entry import FIELDS as FIELDS_OF_AN_ENTRY  # noqa: E402
from cockpit.journal.entry import build  # noqa: E402

CUT = "c1"


def _rows(path):
    return path.read_bytes().splitlines(keepends=True)


def _three_then_batch(path, n=4):
    """3 single entries, then a batch of ``n``; returns the journal's bytes before the batch."""
    with Journal.open(path, cutover_id=CUT) as j:
        for i in range(3):
            j.append("note", actor=_actor(), note=f"single {i}")
        before = path.read_bytes()
        j.append_many(_actor(), [{"action": "exception.open", "subject": f"X{i}"} for i in range(n)])
    return before


def test_single_appends_keep_the_old_format_and_batches_carry_their_place(tmp_path):
    path = tmp_path / "j.jsonl"
    clock = ManualClock(1_800_000_000.0)
    with Journal.open(path, cutover_id=CUT, clock=clock) as j:
        j.append("note", actor=_actor(), note="one")
        j.append_many(_actor(), [{"action": "note", "note": "a"}, {"action": "note", "note": "b"},
                                 {"action": "note", "note": "c"}])
        j.append_many(_actor(), [{"action": "note", "note": "alone"}])
        clock.set_wall(1_800_000_000.0 - 60)  # the clock steps back: a warning joins the append
        j.append("note", actor=_actor(), note="after the step back")
    rows = [json.loads(r) for r in _rows(path)]
    assert set(rows[0]) == set(FIELDS_OF_AN_ENTRY)  # no batch key: old journals stay valid
    assert [r.get("batch") for r in rows] == [None, [1, 3], [2, 3], [3, 3], None, [1, 2], [2, 2]]
    assert rows[5]["action"] == "clock.warning"
    with Journal.open(path, cutover_id=CUT, readonly=True) as again:
        assert [e.batch for e in again.entries] == [None, (1, 3), (2, 3), (3, 3), None, (1, 2), (2, 2)]
    assert verify(path).ok


def test_a_batch_cut_after_whole_lines_is_never_acknowledged(tmp_path):
    """What a kill -9 during the batch's write(2) leaves: whole lines of it, then a cut one."""
    path = tmp_path / "j.jsonl"
    before = _three_then_batch(path, n=4)
    rows = _rows(path)
    cut = b"".join(rows[:5]) + rows[5][:40]  # 2 of 4 batch entries whole, the third cut
    path.write_bytes(cut)
    watcher = Journal.open(path, cutover_id=CUT, readonly=True)
    assert [e.seq for e in watcher.entries] == [1, 2, 3] and watcher.damage is None
    assert "unfinished batch at seq 4: 2 of 4 entries and a cut line" in watcher.warnings[0]
    result = verify(path)
    assert not result.ok and result.count == 3 and result.bad_seq == 4 and result.line == 4
    assert "never acknowledged" in result.problem
    with Journal.open(path, cutover_id=CUT) as j:
        assert not j.readonly and j.head == watcher.head
        assert j.quarantined.read_bytes() == cut[len(before):]
        assert path.read_bytes() == before
        [q] = j.unacknowledged_quarantines()
        assert [(e.seq, e.action, e.subject) for e in q.set_aside] == [
            (4, "exception.open", "X0"), (5, "exception.open", "X1")]
        assert "entries #4-#5 (2 exception.open) of an unfinished batch" in q.describe()
        e = j.append("note", actor=_actor(), note="carries on")
    assert e.seq == 4 and verify(path).intact


def test_a_batch_missing_only_its_last_line_is_never_acknowledged(tmp_path):
    path = tmp_path / "j.jsonl"
    before = _three_then_batch(path, n=3)
    rows = _rows(path)
    path.write_bytes(b"".join(rows[:-1]))  # every line whole, the batch one line short
    assert [e.seq for e in Journal.open(path, cutover_id=CUT, readonly=True).entries] == [1, 2, 3]
    assert verify(path).bad_seq == 4
    with Journal.open(path, cutover_id=CUT) as j:
        assert j.head[0] == 3 and path.read_bytes() == before
        assert j.quarantined.read_bytes() == b"".join(rows[3:-1])


def _craft(tmp_path, batches):
    """A journal whose entries carry the given ``batch`` values, each properly chained."""
    path = tmp_path / "crafted.jsonl"
    prev, out = GENESIS, []
    for seq, b in enumerate(batches, 1):
        e = build(seq, 1_800_000_000.0 + seq, CUT, _actor(), "note", subject=None, reason_code=None,
                  note=f"n{seq}", data=None, prev=prev, batch=b)
        out.append(e.line())
        prev = e.hash
    path.write_bytes(b"".join(out))
    return path


@pytest.mark.parametrize(("batches", "bad", "words"), [
    ([None, (1, 3), (2, 3), None], 4, "the batch begun at seq 2 stops after 2 of 3 entries"),
    ([(1, 2), (1, 2), (2, 2)], 2, "entry 1 of a batch of 2 where entry 2 of 2"),
    ([None, (2, 3), (3, 3)], 2, "whose first entries are missing"),
    ([(1, 3), (2, 2), None], 2, "entry 2 of a batch of 2 where entry 2 of 3"),
    ([(1, 1)], 1, "field 'batch' is not"),
    ([(0, 2), (1, 2)], 1, "field 'batch' is not"),
    ([(3, 2)], 1, "field 'batch' is not"),
])
def test_an_unfinished_or_malformed_batch_before_the_tail_is_damage(tmp_path, batches, bad, words):
    path = _craft(tmp_path, batches)
    data = path.read_bytes()
    j = Journal.open(path, cutover_id=CUT)
    assert j.readonly and j.damage.seq == bad and words in j.damage.problem, j.damage
    assert all(e.batch is None for e in j.entries)  # only whole batches are kept, never a part
    assert path.read_bytes() == data  # never repaired
    result = verify(path)
    assert not result.ok and result.bad_seq == bad and result.count == len(j.entries)


def test_a_malformed_batch_field_is_damage(tmp_path):
    path = tmp_path / "j.jsonl"
    for bad in ('"x"', "[1]", "[1,2,3]", "[true,2]", "[1,2.0]", "{}", "null"):
        body = build(1, 1_800_000_000.0, CUT, _actor(), "note", subject=None, reason_code=None,
                     note="n", data=None, prev=GENESIS).body()
        body["batch"] = json.loads(bad)
        body["hash"] = chain_hash(GENESIS, canonical(body))
        path.write_bytes(canonical(body) + b"\n")
        j = Journal.open(path, cutover_id=CUT, readonly=True)
        assert j.damage is not None and j.damage.seq == 1 and "batch" in j.damage.problem, bad
        assert verify(path).bad_seq == 1


def test_a_watcher_takes_a_batch_only_once_it_is_all_there(tmp_path):
    source = tmp_path / "source.jsonl"
    with Journal.open(source, cutover_id=CUT) as s:
        s.append("note", actor=_actor(), note="first")
        s.append_many(_actor(), [{"action": "note", "note": f"b{i}"} for i in range(3)])
    rows = _rows(source)
    path = tmp_path / "j.jsonl"
    path.write_bytes(rows[0])
    watcher = Journal.open(path, cutover_id=CUT, readonly=True)
    with open(path, "ab") as f:  # what a watcher may see while the writer's write is under way
        f.write(rows[1] + rows[2])
    assert watcher.refresh() == [] and watcher.head[0] == 1
    with open(path, "ab") as f:
        f.write(rows[3])
    assert [e.seq for e in watcher.refresh()] == [2, 3, 4] and watcher.damage is None
