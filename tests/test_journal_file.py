"""The journal file layer: byte rule, lock, torn tail, damage, clock sanity, watchers, secrets."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

import cockpit.journal as journal_pkg
from cockpit.clock import ManualClock
from cockpit.journal import (
    GENESIS,
    Actor,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalReadOnly,
    verify,
)

CUT = "t-cut"


def _open(path, **kw):
    kw.setdefault("cutover_id", CUT)
    return Journal.open(path, **kw)


@pytest.fixture
def actor():
    return Actor.current("lead1")


def test_append_writes_the_documented_bytes(tmp_path, actor):
    path = tmp_path / "j.jsonl"
    clock = ManualClock(1_800_000_000.25)
    with _open(path, clock=clock) as j:
        e1 = j.append("note", actor=actor, note="first ünïcode", data={"b": 1, "a": (1, 2)})
        e2 = j.append("step.confirm", actor=actor, subject="S1", data={"gates": {}})
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b"" and len(raw) == 3
    prev = GENESIS
    for line, e in zip(raw[:2], (e1, e2), strict=True):
        d = json.loads(line)
        assert line == json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        h = d.pop("hash")
        body = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert h == hashlib.sha256(prev.encode("ascii") + b"\n" + body).hexdigest() == e.hash
        assert d["prev"] == prev
        prev = h
    assert e1.ts == "2027-01-15T08:00:00.250Z"
    assert e1.data == {"b": 1, "a": [1, 2]}  # what is in memory equals what is on disk
    assert set(json.loads(raw[0])["actor"]) == {"operator", "os_user", "host", "ssh_client", "pid", "session"}
    assert "ünïcode".encode() in raw[0]  # ensure_ascii=False: UTF-8 on disk


def test_auditor_script_in_the_docstring_verifies_and_catches_an_edit(tmp_path, actor):
    script = re.search(r"An auditor re-verifies with nothing but Python::\n\n(.*?)\n\n",
                       journal_pkg.__doc__, re.S).group(1)
    script = "\n".join(line[4:] for line in script.splitlines())
    assert len(script.splitlines()) <= 10
    path = tmp_path / "j.jsonl"
    with _open(path) as j:
        for i in range(5):
            j.append("note", actor=actor, note=f"n{i}")
        head = j.head
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"OK: 5 entries, head #5 {head[1]}"
    path.write_bytes(path.read_bytes().replace(b'"n2"', b'"n9"'))
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert run.returncode != 0 and "line 3: altered" in run.stderr


def test_reopen_continues_the_chain(tmp_path, actor):
    path = tmp_path / "sub" / "dir" / "j.jsonl"  # missing folders are created
    with _open(path) as j:
        j.append("session.start", actor=actor)
    with _open(path) as j:
        assert j.head[0] == 1 and not j.readonly and j.warnings == []
        e = j.append("note", actor=actor, note="again")
    assert e.seq == 2 and verify(path).ok


def test_second_writer_is_locked_out_and_may_watch(tmp_path, actor):
    path = tmp_path / "j.jsonl"
    writer = _open(path)
    writer.append("note", actor=actor, note="one")
    with pytest.raises(JournalLocked, match="in use by another cockpit.*read-only"):
        _open(path)
    # Another process, too: the lock is flock(2) on the file, not something in this process.
    code = ("import sys\nfrom cockpit.journal import Journal, JournalLocked\n"
            "try:\n    Journal.open(sys.argv[1], cutover_id='t-cut')\nexcept JournalLocked as e:\n"
            "    print('LOCKED', e); sys.exit(3)\n")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert run.returncode == 3 and "LOCKED" in run.stdout
    watcher = _open(path, readonly=True)
    assert watcher.readonly and watcher.head == writer.head
    with pytest.raises(JournalReadOnly):
        watcher.append("note", actor=actor, note="no")
    e2 = writer.append("note", actor=actor, note="two")
    assert watcher.refresh() == [e2] and watcher.head == writer.head
    assert watcher.refresh() == []
    writer.close()
    with _open(path) as j:  # the lock went with the writer
        assert j.head == (2, e2.hash)


def test_torn_tail_is_quarantined_and_the_journal_continues(tmp_path, actor):
    path = tmp_path / "j.jsonl"
    with _open(path) as j:
        for i in range(3):
            j.append("note", actor=actor, note=f"n{i}")
        good_head = j.head
    torn = b'{"action":"note","actor":{"host":"h"'
    with open(path, "ab") as f:
        f.write(torn)
    watcher = _open(path, readonly=True)  # a watcher never modifies: it reports
    assert watcher.head == good_head and "incomplete" in watcher.warnings[0]
    assert path.read_bytes().endswith(torn)
    assert not verify(path).ok
    with _open(path) as j:
        assert j.head == good_head
        assert j.quarantined is not None and j.quarantined.parent == tmp_path
        assert j.quarantined.name.startswith("j.jsonl.broken-")
        assert j.quarantined.read_bytes() == torn
        assert "cut short" in j.warnings[0] and str(j.quarantined) in j.warnings[0]
        e = j.append("note", actor=actor, note="after")
        [q] = j.unacknowledged_quarantines()  # set aside, but never silently
        assert q.path == j.quarantined and q.size == len(torn) and q.set_aside == ()
    result = verify(path)
    assert e.seq == 4 and result.intact and not result.ok
    with _open(path) as j:
        j.acknowledge_quarantine(q, actor=actor, note="looked at it: a cut line, nothing lost")
        assert j.unacknowledged_quarantines() == []
    assert verify(path).ok


def test_damage_before_the_tail_opens_read_only_and_is_never_repaired(tmp_path, actor):
    path = tmp_path / "j.jsonl"
    with _open(path) as j:
        for i in range(5):
            j.append("note", actor=actor, note=f"n{i}")
    data = path.read_bytes()
    damaged = data.replace(b'"n2"', b'"nX"')
    path.write_bytes(damaged)
    j = _open(path)
    assert j.readonly and j.damage is not None and j.damage.seq == 3 and j.damage.line == 3
    assert "seq 3" in j.readonly_reason and "hash mismatch" in j.readonly_reason
    assert [e.seq for e in j.entries] == [1, 2]
    with pytest.raises(JournalCorrupt, match="seq 3"):
        j.append("note", actor=actor, note="no")
    assert path.read_bytes() == damaged
    # A last line that is complete (newline) but garbage is damage too, not a torn tail.
    path.write_bytes(data + b"garbage\n")
    j = _open(path)
    assert j.readonly and j.damage.seq == 6 and "unparsable" in j.readonly_reason
    assert path.read_bytes() == data + b"garbage\n"


def test_journal_of_another_cutover_is_not_written(tmp_path, actor):
    path = tmp_path / "j.jsonl"
    with _open(path) as j:
        j.append("note", actor=actor, note="x")
    j = _open(path, cutover_id="other")
    assert j.readonly and "belongs to cutover 't-cut'" in j.readonly_reason


def test_clock_going_backwards_is_recorded_never_reordered(tmp_path, actor):
    path = tmp_path / "j.jsonl"
    clock = ManualClock(1_800_000_000.0)
    with _open(path, clock=clock) as j:
        j.append("note", actor=actor, note="a")
        clock.set_wall(1_800_000_000.0 - 90.5)
        e = j.append("note", actor=actor, note="b")
        assert [x.action for x in j.entries] == ["note", "clock.warning", "note"]
        w = j.entries[1]
        assert w.data["behind_s"] == 90.5 and w.actor.operator == "system"
        assert e.seq == 3 and e.ts < j.entries[0].ts  # the true time is kept
        clock.set_wall(1_800_000_000.0 - 80)
        j.append("note", actor=actor, note="c")  # forward again from the last entry: no warning
        assert len(j.entries) == 4
    assert verify(path).ok


def test_readonly_open_of_a_missing_journal_is_empty(tmp_path):
    j = _open(tmp_path / "none.jsonl", readonly=True)
    assert j.entries == [] and j.head == (0, GENESIS) and "no journal yet" in j.warnings[0]
    assert not (tmp_path / "none.jsonl").exists()


def test_a_directory_is_not_a_journal(tmp_path):
    with pytest.raises(JournalError, match="directory"):
        _open(tmp_path, readonly=True)


def test_append_refuses_secrets_and_unknown_actions(tmp_path, actor):
    with _open(tmp_path / "j.jsonl") as j:
        for bad in ("host=db user=x password=hunter2", "postgresql://u:pw@db/ehr",
                    "Authorization: Bearer abcdefghijklmnop"):
            with pytest.raises(JournalError, match="never stores secrets"):
                j.append("note", actor=actor, note=bad)
        with pytest.raises(JournalError, match="never stores secrets"):
            j.append("recon.run", actor=actor, data={"err": ["dsn password=s3cret"]})
        with pytest.raises(JournalError, match="unknown journal action"):
            j.append("step.delete", actor=actor)
        assert j.entries == []
        j.append("note", actor=actor, note="password=*** was redacted")  # redacted is fine
    assert verify(tmp_path / "j.jsonl").count == 1


def test_actor_current_reads_the_ssh_client(monkeypatch):
    monkeypatch.setenv("SSH_CLIENT", "203.0.113.7 51234 22")
    a = Actor.current("lead1")
    assert a.ssh_client == "203.0.113.7" and a.pid == os.getpid() and len(a.session) == 12
    assert a.session == Actor.current("other").session  # one session per process
    monkeypatch.delenv("SSH_CLIENT")
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.2 5000 10.0.0.1 22")
    assert Actor.current("x").ssh_client == "198.51.100.2"
    monkeypatch.delenv("SSH_CONNECTION")
    assert Actor.current("x").ssh_client is None
    assert Actor.system().operator == "system"
