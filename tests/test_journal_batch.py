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
