"""The verified checkpoint (``<journal>.verified``): an open that trusts it reads exactly what
an open without it reads, damage included; ``cockpit journal verify`` never reads it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from cockpit.cli import main as cli
from cockpit.journal import Actor, Journal, checkpoint, lines
from cockpit.journal.entry import parse_ts

CUT = "ck-cut"


def write_journal(path: Path, n: int = 12) -> None:
    """Single appends and a batch, with data of every JSON kind; the writer's close leaves the
    checkpoint."""
    lead, system = Actor.current("lead1"), Actor.system()
    with Journal.open(path, cutover_id=CUT) as j:
        for i in range(n):
            if i == n // 2:
                j.append_many(system, [
                    dict(action="exception.open", subject=f"x{k}",
                         data={"k": k, "f": 0.1 * k, "neg": -1e-7, "big": 2**63 - 1, "u": "é✓"})
                    for k in range(3)] + [dict(action="recon.run", data={"opened": ["x0"]})])
            else:
                j.append("note", actor=lead, note=f"note {i} \u2028 \"q\"", subject=None,
                         data={"i": i, "nested": {"list": [1, 2.5, None, True]}, "s": "a\nb"})


def outcome(j: Journal) -> tuple:
    return (j.entries, [e.wall for e in j.entries], [e.batch for e in j.entries], j.damage,
            j.readonly, j.readonly_reason, j._size, j.warnings)


def open_ro(path: Path) -> tuple:
    j = Journal.open(path, cutover_id=CUT, readonly=True)
    j.close()
    return outcome(j)


def without_checkpoint(path: Path) -> tuple:
    """The open as if no checkpoint were there (it is moved aside and back)."""
    cp = checkpoint.checkpoint_path(path)
    aside = cp.with_name(cp.name + ".aside")
    had = cp.exists() or cp.is_symlink()
    if had:
        os.rename(cp, aside)
    try:
        return open_ro(path)
    finally:
        if had:
            os.rename(aside, cp)


def forge(path: Path, size: int | None = None) -> None:
    """A checkpoint vouching for the file's first ``size`` bytes as they are now (anyone who
    can write the folder can do this: the checkpoint is no signature)."""
    data = path.read_bytes()
    size = len(data) if size is None else size
    prefix = data[:size]
    seq = prefix.count(b"\n")
    head = json.loads(prefix.splitlines()[-1])["hash"]
    cp = checkpoint.Checkpoint(CUT, size, seq, head, hashlib.sha256(prefix).hexdigest())
    checkpoint.checkpoint_path(path).write_bytes(cp.to_json())


@pytest.fixture
def journal(tmp_path) -> Path:
    path = tmp_path / "j.jsonl"
    write_journal(path)
    return path


def test_the_writer_leaves_a_checkpoint_covering_the_whole_journal(journal):
    data = journal.read_bytes()
    cp = checkpoint.load(journal)
    assert cp is not None
    last = json.loads(data.splitlines()[-1])
    assert (cp.cutover, cp.size, cp.seq, cp.head) == (CUT, len(data), last["seq"], last["hash"])
    assert cp.sha256 == hashlib.sha256(data).hexdigest()
    assert open_ro(journal) == without_checkpoint(journal)
    assert len(open_ro(journal)[0]) == 15


def test_parse_verified_returns_what_parse_returns(journal):
    data = journal.read_bytes()
    full = lines.parse(data, cutover=CUT)
    assert full.fast and full.damage is None and not full.torn
    head = (full.entries[-1].seq, full.entries[-1].hash)
    fast = lines.parse_verified(data, len(data), cutover=CUT, head=head)
    assert fast is not None and fast.undecoded() == len(full.entries) - 1  # only the last read
    assert fast == full.entries
    # Only the first ``size`` bytes are read (what follows them is the rule's to check).
    assert lines.parse_verified(data + b"not json\n", len(data), cutover=CUT, head=head) == full.entries
    assert [(e.wall, e.batch, e.actor) for e in fast] == [(e.wall, e.batch, e.actor) for e in full.entries]
    # Anything that does not fit is None, never an exception: another head, another cutover,
    # a cut line, no lines at all.
    n = len(data)
    assert lines.parse_verified(data, n, cutover=CUT, head=(head[0], "0" * 64)) is None
    assert lines.parse_verified(data, n, cutover=CUT, head=(head[0] - 1, head[1])) is None
    assert lines.parse_verified(data, n, cutover="other", head=head) is None
    assert lines.parse_verified(data[:-1], n - 1, cutover=CUT, head=head) is None
    assert lines.parse_verified(data, n + 1, cutover=CUT, head=head) is None
    assert lines.parse_verified(b"", 0, cutover=CUT, head=(0, "0" * 64)) is None
    assert lines.parse_verified(b"[]\n{}\n", 6, cutover=CUT, head=(2, "0" * 64)) is None


@pytest.mark.parametrize("ts", ["2026-12-01T22:14:05.123Z", "1970-01-01T00:00:00.000Z",
                                "2024-02-29T23:59:59.999Z", "9999-12-31T23:59:59.999Z",
                                "2001-09-09T01:46:40.001Z", "0001-01-01T00:00:00.000Z"])
def test_the_wall_time_of_the_fast_path_is_parse_ts(ts):
    assert lines._wall(ts, lines._minute(ts)) == parse_ts(ts)


def _edit_swap(data: bytes) -> bytes:
    ls = data.splitlines(keepends=True)
    ls[2], ls[3] = ls[3], ls[2]
    return b"".join(ls)


def _edit_flip(data: bytes) -> bytes:
    pos = data.index(b"note 4")
    return data[:pos + 5] + b"3" + data[pos + 6:]  # "note 4" -> "note 3": the hash no longer fits


def _edit_delete(data: bytes) -> bytes:
    ls = data.splitlines(keepends=True)
    return b"".join(ls[:4] + ls[5:])


def _edit_cut_mid_line(data: bytes) -> bytes:
    ls = data.splitlines(keepends=True)
    return b"".join(ls[:4]) + ls[4][:30]


def _edit_cut_lines(data: bytes) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:5])


def _edit_respace(data: bytes) -> bytes:
    return data.replace(b'"action":"note"', b'"action": "note"', 1)  # not canonical any more


EDITS = {"swap": (_edit_swap, 4), "flip": (_edit_flip, 5), "delete": (_edit_delete, 6),
         "cut mid-line": (_edit_cut_mid_line, None), "cut lines": (_edit_cut_lines, None),
         "respace": (_edit_respace, 1)}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edit_in_the_verified_prefix_is_found_as_without_a_checkpoint(journal, name):
    edit, bad_seq = EDITS[name]
    assert checkpoint.load(journal) is not None
    journal.write_bytes(edit(journal.read_bytes()))
    got = open_ro(journal)
    assert got == without_checkpoint(journal)
    damage = got[3]
    assert (damage.seq if damage else None) == bad_seq
    if name == "cut mid-line":
        assert len(got[0]) == 4 and "never acknowledged" in got[7][0]


@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_writer_open_after_an_edit_is_the_open_without_a_checkpoint(tmp_path, journal, name):
    edit, bad_seq = EDITS[name]
    journal.write_bytes(edit(journal.read_bytes()))
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(journal, bare / journal.name)
    results = []
    for path in (journal, bare / journal.name):
        j = Journal.open(path, cutover_id=CUT)
        results.append((j.entries, j.damage, j.readonly, j._size, path.read_bytes(),
                        j.quarantined is not None))
        j.close()
    assert results[0] == results[1]
    if bad_seq is not None:
        # Damage: read-only, and the checkpoint still vouches only for what was verified.
        assert results[0][1].seq == bad_seq and results[0][2]


def test_a_stale_checkpoint_checks_the_tail_and_equals_a_full_open(journal):
    old = checkpoint.checkpoint_path(journal).read_bytes()
    covered = checkpoint.load(journal).size
    with Journal.open(journal, cutover_id=CUT) as j:
        for i in range(5):
            j.append("note", actor=Actor.current("lead1"), note=f"later {i}")
    checkpoint.checkpoint_path(journal).write_bytes(old)  # as if the writer died before saving
    assert checkpoint.load(journal).size == covered < journal.stat().st_size
    got = open_ro(journal)
    assert got == without_checkpoint(journal) and len(got[0]) == 20 and got[3] is None
    # Damage in the tail: at the same seq and line as the full rule says.
    data = journal.read_bytes()
    journal.write_bytes(data.replace(b"later 2", b"later X"))
    got = open_ro(journal)
    assert got == without_checkpoint(journal) and (got[3].seq, got[3].line) == (18, 18)
    # The writer's open brings the checkpoint up to what it verified.
    journal.write_bytes(data)
    Journal.open(journal, cutover_id=CUT).close()
    assert checkpoint.load(journal).size == len(data)


def test_only_the_tail_is_checked_after_the_checkpoint(journal):
    """What makes the open incremental, shown with a forged checkpoint: it vouches for a
    prefix the full rule would refuse (another spacing), and an open takes it as verified and
    chains the tail onto it; ``verify`` checks every line."""
    with Journal.open(journal, cutover_id=CUT) as j:
        j.append("note", actor=Actor.current("lead1"), note="after")
    data = journal.read_bytes()
    cut = len(data) - len(data.splitlines(keepends=True)[-1])
    respaced = data[:cut].replace(b'"action":"note"', b'"action": "note"', 1)
    journal.write_bytes(respaced + data[cut:])
    forge(journal, len(respaced))
    trusted = open_ro(journal)
    assert trusted[3] is None and len(trusted[0]) == 16 and trusted[0][-1].note == "after"
    assert without_checkpoint(journal)[3].seq == 1


def test_verify_ignores_the_checkpoint(journal, capsys):
    journal.write_bytes(_edit_flip(journal.read_bytes()))
    forge(journal)  # vouches for the edited bytes
    assert open_ro(journal)[3] is None  # the open trusts what the folder's writer says ...
    code = cli(["journal", "verify", str(journal)])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("FAILED at seq 5 (line 5): hash mismatch")  # ... verify does not
    # And a checkpoint that is garbage changes nothing for verify either.
    checkpoint.checkpoint_path(journal).write_bytes(b"\x00garbage")
    journal.write_bytes(b"")
    write_journal(journal)
    assert cli(["journal", "verify", str(journal)]) == 0


def test_a_symlinked_checkpoint_is_never_followed(journal, tmp_path):
    journal.write_bytes(_edit_flip(journal.read_bytes()))
    forge(journal)
    cp = checkpoint.checkpoint_path(journal)
    real = tmp_path / "elsewhere.verified"
    os.rename(cp, real)
    cp.symlink_to(real)
    got = open_ro(journal)
    assert got[3] is not None and got[3].seq == 5  # the full rule, as without it
    assert got == without_checkpoint(journal)


@pytest.mark.parametrize("make", ["dir", "fifo", "huge", "empty"])
def test_a_checkpoint_that_is_no_file_of_ours_means_the_full_check(journal, make):
    cp = checkpoint.checkpoint_path(journal)
    cp.unlink()
    if make == "dir":
        cp.mkdir()
    elif make == "fifo":
        os.mkfifo(cp)
    elif make == "huge":
        cp.write_bytes(b" " * (checkpoint.MAX_BYTES + 1))
    else:
        cp.write_bytes(b"")
    assert checkpoint.load(journal) is None
    assert open_ro(journal) == without_checkpoint(journal)
    if make in ("huge", "empty"):
        # The writer's open replaces it with a good one.
        Journal.open(journal, cutover_id=CUT).close()
        assert checkpoint.load(journal) is not None


def test_appends_keep_the_checkpoint_up_while_the_writer_runs(tmp_path):
    path = tmp_path / "j.jsonl"
    actor = Actor.current("lead1")
    j = Journal.open(path, cutover_id=CUT)
    try:
        filler = "x" * 2000
        while path.stat().st_size < 2 * Journal.CHECKPOINT_EVERY:
            j.append("note", actor=actor, note=filler)
        cp = checkpoint.load(path)  # the writer is still running: as after a crash now
        assert cp is not None and cp.size >= Journal.CHECKPOINT_EVERY
        assert cp.sha256 == hashlib.sha256(path.read_bytes()[:cp.size]).hexdigest()
        assert open_ro(path) == without_checkpoint(path)
    finally:
        j.close()
    assert checkpoint.load(path).size == path.stat().st_size


def test_an_entry_off_the_common_path_stops_the_checkpoint_there(tmp_path):
    """An integer past 64 bits is read by the standard library, not orjson: the fast path
    would not return it, so no checkpoint covers it."""
    path = tmp_path / "j.jsonl"
    actor = Actor.current("lead1")
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=actor, note="before")
    before = checkpoint.load(path).size
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=actor, data={"n": 2**70})
        j.append("note", actor=actor, note="after")
    assert checkpoint.load(path).size == before
    got = open_ro(path)
    assert got == without_checkpoint(path) and got[0][1].data == {"n": 2**70}
    assert not lines.parse(path.read_bytes()).fast
    # A writer's open with the big entry in its full check leaves no checkpoint past it.
    Journal.open(path, cutover_id=CUT).close()
    assert checkpoint.load(path).size == before


def test_a_checkpoint_for_another_cutover_is_not_used(journal):
    doc = json.loads(checkpoint.checkpoint_path(journal).read_bytes())
    journal.write_bytes(_edit_flip(journal.read_bytes()))
    forge(journal)
    doc.update(json.loads(checkpoint.checkpoint_path(journal).read_bytes()), cutover="other")
    checkpoint.checkpoint_path(journal).write_text(json.dumps(doc))
    assert open_ro(journal)[3].seq == 5


def test_the_fast_entry_constructor_builds_what_entry_builds(journal):
    from cockpit.journal.entry import Entry

    for e in open_ro(journal)[0]:
        values = [getattr(e, name) for name in lines._ENTRY_SLOTS]
        made, plain = lines._entry(*values), Entry(*values)
        assert type(made) is Entry and made == plain and made.wall == plain.wall
        assert repr(made) == repr(plain)
        with pytest.raises(AttributeError):  # still frozen
            made.seq = 0  # type: ignore[misc]
