"""Tampering is caught by ``verify`` and ``cockpit journal verify`` names the first bad entry."""

from __future__ import annotations

import json

import pytest

from cockpit.cli import main as cli
from cockpit.journal import Actor, Journal, canonical, chain_hash

CUT = "t-cut"


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "j.jsonl"
    actor = Actor.current("lead1")
    with Journal.open(path, cutover_id=CUT) as j:
        for i in range(6):
            j.append("note", actor=actor, note=f"note {i}", data={"i": i})
        head = j.head
    return path, head


def _lines(path):
    return path.read_bytes().splitlines(keepends=True)


def _run(capsys, *argv):
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_intact_journal_verifies_with_its_head(journal, capsys):
    path, (seq, h) = journal
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 0 and out.strip() == f"OK: 6 entries, head #6 {h}"
    third = Journal.open(path, cutover_id=CUT, readonly=True).entries[2].hash
    # A head recorded earlier still verifies: the journal may have grown since.
    for expect in (h, h[:16], f"6:{h}", f"#6:{h[:20].upper()}", f"3:{third}", third[:16],
                   f"#6 {h[:16]}", f"  #3   {third}  "):
        assert _run(capsys, "journal", "verify", str(path), "--expect-head", expect)[0] == 0
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "count": 6, "head_seq": 6, "head_hash": h,
                                             "bad_seq": None, "problem": None, "line": None,
                                             "intact": True, "quarantines": [], "unacknowledged": 0}


def test_flip_one_byte(journal, capsys):
    path, _ = journal
    data = bytearray(path.read_bytes())
    lines = _lines(path)
    pos = sum(len(x) for x in lines[:3]) + lines[3].index(b"note 3") + 5
    data[pos] ^= 0x01  # "note 3" -> "note 2" on line 4
    path.write_bytes(bytes(data))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 4 (line 4): hash mismatch")


def test_flip_a_byte_into_garbage(journal, capsys):
    path, _ = journal
    lines = _lines(path)
    lines[1] = lines[1].replace(b'"seq":2', b'"seq":2\xff', 1)
    path.write_bytes(b"".join(lines))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 2 (line 2): unparsable line")


def test_delete_a_line(journal, capsys):
    path, _ = journal
    lines = _lines(path)
    del lines[2]
    path.write_bytes(b"".join(lines))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 4 (line 3): gap in seq: expected 3, found 4")


def test_swap_two_lines(journal, capsys):
    path, _ = journal
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"".join(lines))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and "FAILED at seq 3 (line 2)" in out


def test_duplicate_a_line(journal, capsys):
    path, _ = journal
    lines = _lines(path)
    lines.insert(3, lines[2])
    path.write_bytes(b"".join(lines))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 3 (line 4): duplicate seq 3")


def test_truncated_tail_is_caught_only_with_the_recorded_head(journal, capsys):
    path, (seq, h) = journal
    lines = _lines(path)
    path.write_bytes(b"".join(lines[:4]))
    assert _run(capsys, "journal", "verify", str(path))[0] == 0  # a chain cannot see a cut tail
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--expect-head", f"{seq}:{h}")
    assert code == 1 and out.startswith("FAILED at seq 5 (line 5): the recorded head is #6 but the journal ends at #4")
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--expect-head", h[:16])
    assert code == 1 and "is not in the journal" in out


def test_edit_a_field_and_recompute_its_own_hash(journal, capsys):
    path, _ = journal
    lines = _lines(path)
    d = json.loads(lines[2])
    d["note"] = "nothing to see"
    d.pop("hash")
    d["hash"] = chain_hash(d["prev"], canonical(d))
    lines[2] = canonical(d) + b"\n"
    path.write_bytes(b"".join(lines))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 4 (line 4): broken chain")


def test_rewritten_entry_with_same_seq_fails_the_recorded_head(journal, capsys):
    path, (seq, h) = journal
    lines = _lines(path)
    d = json.loads(lines[-1])
    d["note"] = "rewritten"
    d.pop("hash")
    d["hash"] = chain_hash(d["prev"], canonical(d))
    lines[-1] = canonical(d) + b"\n"
    path.write_bytes(b"".join(lines))
    assert _run(capsys, "journal", "verify", str(path))[0] == 0
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--expect-head", f"6:{h}")
    assert code == 1 and "was rewritten" in out


def test_non_canonical_line_is_caught_by_verify(journal, capsys):
    path, _ = journal
    lines = _lines(path)
    d = json.loads(lines[0])
    lines[0] = json.dumps(d, sort_keys=True).encode() + b"\n"  # same values, spaces added
    path.write_bytes(b"".join(lines))
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 1 (line 1): line is not in canonical form")


def test_torn_tail_fails_verify_until_quarantined(journal, capsys):
    path, _ = journal
    with open(path, "ab") as f:
        f.write(b'{"seq":7,')
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 7 (line 7): incomplete last line")
    j = Journal.open(path, cutover_id=CUT)
    # Quarantined, but verify stays FAILED until someone has looked at what was set aside.
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    name = j.quarantined.name
    assert code == 1 and out.startswith("FAILED: 1 quarantine file beside the journal not acknowledged")
    assert f"quarantine {name} (9 bytes, NOT acknowledged)" in out
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and report["intact"] and not report["ok"] and report["unacknowledged"] == 1
    assert [(q["name"], q["size"], q["acknowledged"]) for q in report["quarantines"]] == [(name, 9, False)]
    [q] = j.unacknowledged_quarantines()
    j.acknowledge_quarantine(q, actor=Actor.current("lead1"))
    j.close()
    code, out, _ = _run(capsys, "journal", "verify", str(path))
    assert code == 0 and f"quarantine {name} (9 bytes, acknowledged)" in out


def test_bad_input_exits_2_with_one_line(tmp_path, journal, capsys):
    path, _ = journal
    code, out, err = _run(capsys, "journal", "verify", str(tmp_path / "missing.jsonl"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "cannot read" in err
    code, _, err = _run(capsys, "journal", "verify", str(tmp_path))
    assert code == 2 and "directory" in err
    code, _, err = _run(capsys, "journal", "verify", str(path), "--expect-head", "zz")
    assert code == 2 and "not a hash" in err


def test_show_prints_one_clean_line_per_entry(tmp_path, capsys):
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=Actor.current("lead1"), note="evil \x1b[2J\x1b]0;title\x07 text\nnext")
        j.append("step.skip", actor=Actor.current("lead1"), subject="S1", reason_code="NOT_APPLICABLE")
    code, out, _ = _run(capsys, "journal", "show", str(path))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "\x1b" not in out and '"evil text next"' in lines[0]
    assert "#2" in lines[1] and "step.skip  S1  [NOT_APPLICABLE]" in lines[1]
    code, out, _ = _run(capsys, "journal", "show", str(path), "--json")
    assert code == 0 and [json.loads(x)["seq"] for x in out.splitlines()] == [1, 2]
    path.write_bytes(path.read_bytes().replace(b"NOT_APPLICABLE", b"NOT_APPLICABLX"))
    code, out, err = _run(capsys, "journal", "show", str(path))
    assert code == 1 and len(out.splitlines()) == 1 and "damaged at seq 2" in err


def test_expect_head_wants_64_bits_and_says_why(journal, capsys):
    """8 hex digits (32 bits) can be matched by grinding a free field of a rewritten entry in
    minutes; 16 (64 bits) cannot. The header's 8 are for reading out on the bridge."""
    path, (seq, h) = journal
    for short in (h[:8], f"6:{h[:8]}", f"#6 {h[:15]}", h[:12]):
        code, out, err = _run(capsys, "journal", "verify", str(path), "--expect-head", short)
        assert code == 2 and out == "" and err.count("\n") == 1, (short, err)
        assert "at least 16 (64 bits)" in err and "rewrite the journal" in err
    code, _, err = _run(capsys, "journal", "verify", str(path), "--expect-head", h + "0")
    assert code == 2 and "a SHA-256 hash has 64" in err
    # The cockpit header's own form, "#SEQ HASH", pasted as it reads.
    assert _run(capsys, "journal", "verify", str(path), "--expect-head", f"#{seq} {h[:16]}")[0] == 0
    code, out, _ = _run(capsys, "journal", "verify", str(path), "--expect-head", f"#{seq} {'0' * 16}")
    assert code == 1 and "was rewritten" in out
