"""What a writer sets aside is never silent: listed, described, acknowledged, or verify fails.

The newline is the commit mark: a last line without it was never acknowledged, whatever it
holds. Deleting the final newline of a journal therefore sets its last entry aside (here a
confirmed critical step); the operator must be told exactly which action that was.
"""

from __future__ import annotations

import json
import os

import pytest

from cockpit.cli import main as cli
from cockpit.journal import (
    QUARANTINE_ACK,
    Actor,
    Journal,
    JournalError,
    quarantines,
    unacknowledged_quarantines,
)

CUT = "t-cut"


def _actor() -> Actor:
    return Actor(operator="ann", os_user="ann", host="jump1", ssh_client=None, pid=1, session="s1")


def _run(capsys, *argv):
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="start")
        j.append("step.confirm", actor=_actor(), subject="S4-switch-dns", data={"gates": {}})
        confirmed = j.entries[-1]
    return path, confirmed


def test_a_deleted_final_newline_sets_the_entry_aside_and_says_which(journal, capsys):
    path, confirmed = journal
    path.write_bytes(path.read_bytes()[:-1])  # the last entry loses only its newline
    watcher = Journal.open(path, cutover_id=CUT, readonly=True)
    assert watcher.head[0] == 1 and "never acknowledged" in watcher.warnings[0]
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and "FAILED at seq 2 (line 2): incomplete last line" in out

    with Journal.open(path, cutover_id=CUT) as j:
        assert j.head[0] == 1 and j.quarantined is not None
        # The warning names the very action that was set aside, so it can be redone.
        assert "entry #2 step.confirm S4-switch-dns by ann" in j.warnings[0]
        [q] = j.quarantines()
        assert q.path == j.quarantined and q.name.startswith("j.jsonl.broken-")
        assert q.size == len(confirmed.line()) - 1 and not q.acknowledged
        assert [(e.seq, e.action, e.subject, e.hash) for e in q.set_aside] == [
            (2, "step.confirm", "S4-switch-dns", confirmed.hash)]
        assert j.unacknowledged_quarantines() == [q]
    # The same answer without opening for writing, and from a read-only open.
    assert unacknowledged_quarantines(path) == [q] == quarantines(path)
    assert Journal.open(path, cutover_id=CUT, readonly=True).unacknowledged_quarantines() == [q]

    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED: 1 quarantine file beside the journal not acknowledged")
    assert "the journal itself is intact: 1 entries" in out
    assert f"quarantine {q.name} ({q.size} bytes, NOT acknowledged): entry #2 step.confirm" in out
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"] and report["intact"] and report["unacknowledged"] == 1
    [listed] = report["quarantines"]
    assert (listed["name"], listed["size"], listed["sha256"], listed["acknowledged"]) == (
        q.name, q.size, q.sha256, False)
    assert listed["set_aside"][0]["seq"] == 2 and listed["set_aside"][0]["action"] == "step.confirm"


def test_an_acknowledgement_names_the_file_and_its_content(journal, capsys):
    path, _ = journal
    path.write_bytes(path.read_bytes()[:-1])
    with Journal.open(path, cutover_id=CUT) as j:
        [q] = j.unacknowledged_quarantines()
        ack = j.acknowledge_quarantine(q, actor=_actor(), note="S4 redone at 02:14")
        assert ack.action == QUARANTINE_ACK and ack.subject == q.name
        assert ack.data == {"name": q.name, "size": q.size, "sha256": q.sha256}
        assert j.unacknowledged_quarantines() == [] and j.quarantines()[0].acknowledged
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 0 and f"quarantine {q.name} ({q.size} bytes, acknowledged)" in out
    # Change the quarantined bytes and the acknowledgement no longer covers them.
    with open(q.path, "ab") as f:
        f.write(b"x")
    assert [x.name for x in unacknowledged_quarantines(path)] == [q.name]
    assert _run(capsys, "journal", "verify", str(path))[0] == 1


def test_an_acknowledgement_with_another_hash_acknowledges_nothing(journal):
    path, _ = journal
    path.write_bytes(path.read_bytes()[:-1])
    with Journal.open(path, cutover_id=CUT) as j:
        [q] = j.unacknowledged_quarantines()
        j.append(QUARANTINE_ACK, actor=_actor(), subject=q.name,
                 data={"name": q.name, "size": q.size, "sha256": "0" * 64})
        j.append(QUARANTINE_ACK, actor=_actor(), subject="other",
                 data={"name": "j.jsonl.broken-other", "size": q.size, "sha256": q.sha256})
        assert j.unacknowledged_quarantines() == [q]


def test_an_acknowledgement_after_damage_does_not_count(journal):
    path, _ = journal
    path.write_bytes(path.read_bytes()[:-1])
    with Journal.open(path, cutover_id=CUT) as j:
        [q] = j.unacknowledged_quarantines()
        j.append("note", actor=_actor(), note="before the ack")
        j.acknowledge_quarantine(q, actor=_actor())
    rows = path.read_bytes().splitlines(keepends=True)
    rows[1] = rows[1].replace(b"before the ack", b"before the ACK")
    path.write_bytes(b"".join(rows))  # damage before the acknowledgement: it is not intact
    assert [x.name for x in unacknowledged_quarantines(path)] == [q.name]


def test_quarantine_files_that_are_not_regular_files_are_listed_never_followed(tmp_path, capsys):
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="x")
    secret = tmp_path / "elsewhere"
    secret.write_bytes(b"not yours")
    os.symlink(secret, tmp_path / "j.jsonl.broken-link")
    os.mkfifo(tmp_path / "j.jsonl.broken-fifo")
    (tmp_path / "other.jsonl.broken-1").write_bytes(b"another journal's")
    found = {q.name: q for q in quarantines(path)}
    assert set(found) == {"j.jsonl.broken-link", "j.jsonl.broken-fifo"}
    for q in found.values():
        assert q.size is None and q.sha256 is None and not q.acknowledged and q.problem
        assert "cannot be read" in q.describe()
        with Journal.open(path, cutover_id=CUT) as j, pytest.raises(JournalError, match="remove it"):
            j.acknowledge_quarantine(q, actor=_actor())
    code, out, _ = _run(capsys, "journal", "verify", str(path))  # does not hang on the FIFO
    assert code == 1 and out.count("NOT acknowledged") == 2


def test_a_quarantine_of_another_folder_cannot_be_acknowledged_here(tmp_path, journal):
    path, _ = journal
    path.write_bytes(path.read_bytes()[:-1])
    other = tmp_path / "other" / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        [q] = j.unacknowledged_quarantines()
    with Journal.open(other, cutover_id=CUT) as j2, pytest.raises(JournalError, match="not a quarantine"):
        j2.acknowledge_quarantine(q, actor=_actor())


def test_a_cut_line_holding_no_whole_entry_is_listed_as_such(journal):
    path, _ = journal
    with open(path, "ab") as f:
        f.write(b'{"action":"step.con')
    with Journal.open(path, cutover_id=CUT) as j:
        [q] = j.quarantines()
    assert q.set_aside == () and "no complete entry" in q.describe()


def test_a_whole_entry_that_does_not_chain_is_not_offered_as_set_aside(journal):
    path, _ = journal
    rows = path.read_bytes().splitlines(keepends=True)
    # A complete entry without its newline, but whose bytes were altered: not an entry that
    # was ever written, so nothing is offered to redo.
    path.write_bytes(rows[0] + rows[1][:-1].replace(b"S4-switch-dns", b"S4-switch-dnX"))
    with Journal.open(path, cutover_id=CUT) as j:
        [q] = j.quarantines()
    assert q.set_aside == ()


def test_listing_is_quick_to_repeat_and_sees_changes(journal):
    path, _ = journal
    path.write_bytes(path.read_bytes()[:-1])
    with Journal.open(path, cutover_id=CUT) as j:
        first = j.quarantines()
        assert j.quarantines() == first
        with open(first[0].path, "ab") as f:
            f.write(b"\n")
        [again] = j.quarantines()
        assert again.sha256 != first[0].sha256 and again.size == first[0].size + 1
