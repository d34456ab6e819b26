"""Hostile journal lines: any bytes at any line are a valid entry or damage at that seq, by ONE rule.

Each hostile line below replaces entry 3 of a 4-entry journal. Many are "chained" the way an
attacker able to write the file would make them: the hash is computed over the body the
cockpit would hash, so only the byte rule (the line must be exactly ``canonical(entry)``) or the
entry's shape can tell. The writer's open, a read-only open, a watcher's ``refresh``,
``verify`` and ``show`` must all give the same answer: damage at seq 3, never an exception,
the write lock released, nothing repaired.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cockpit.cli import main as cli
from cockpit.journal import GENESIS, Actor, Journal, JournalError, canonical, chain_hash, verify
from cockpit.journal.entry import build

CUT = "t-cut"


def _actor() -> Actor:
    return Actor(operator="ann", os_user="ann", host="jump1", ssh_client=None, pid=1, session="s1")


def _journal(path):
    with Journal.open(path, cutover_id=CUT) as j:
        for i in range(4):
            j.append("note", actor=_actor(), note=f"note {i}")
        return list(j.entries)


def _body(prev: str, **changes) -> dict:
    e = build(3, 1_800_000_000.0, CUT, _actor(), "note", subject=None, reason_code=None,
              note="hostile", data=None, prev=prev)
    body = e.body()
    body.update(changes)
    return body


def _chained(text: bytes, prev: str) -> bytes:
    """``text`` (an entry body's JSON, without hash) with the hash an attacker would compute:
    over exactly those bytes, as the old fast path hashed them."""
    h = chain_hash(prev, text)
    return text[:-1] + b',"hash":"' + h.encode() + b'"}'


def _rehash(body: dict, prev: str) -> bytes:
    """A canonical line for ``body`` with a correct hash: valid in every way but the shape."""
    body = dict(body)
    body["hash"] = chain_hash(prev, canonical(body))
    return canonical(body)


def _hostile(kind: str, prev: str) -> bytes:
    if kind == "deep nesting":
        return b'{"seq":3,"data":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    if kind == "deep nesting, orjson's limit":
        return b'{"seq":3,"data":' + b"[" * 1100 + b"]" * 1100 + b"}"
    if kind == "lone surrogate, chained":
        return _chained(canonical(_body(prev, note="SURR")).replace(b"SURR", b"\\ud800"), prev)
    if kind == "non-UTF-8 bytes":
        return _chained(canonical(_body(prev, note="X")).replace(b'"X"', b'"\xff\xfe"'), prev)
    if kind == "NUL byte":
        return _chained(canonical(_body(prev, note="X")).replace(b'"X"', b'"\x00"'), prev)
    if kind == "huge line, chained":
        return _rehash(_body(prev, note="x" * (17 * 1024 * 1024)), prev)
    if kind == "400-digit seq":
        return _rehash(_body(prev, seq=10**400), prev)
    if kind == "400-digit pid":
        body = _body(prev)
        body["actor"]["pid"] = 10**400
        return _rehash(body, prev)
    if kind == "float seq":
        return _rehash(_body(prev, seq=3.0), prev)
    if kind == "bool pid":
        body = _body(prev)
        body["actor"]["pid"] = True
        return _rehash(body, prev)
    if kind == "NaN, chained":
        return _chained(canonical(_body(prev, data={"v": 1})).replace(b'"v":1', b'"v":NaN'), prev)
    if kind == "Infinity, chained":
        return _chained(canonical(_body(prev, data={"v": 1})).replace(b'"v":1', b'"v":-Infinity'), prev)
    if kind == "big float, chained":
        return _chained(canonical(_body(prev, data={"v": 1})).replace(b'"v":1', b'"v":1e400'), prev)
    if kind == "duplicate key, same value":
        text = canonical(_body(prev))
        return _chained(text.replace(b'"note":"hostile"', b'"note":"hostile","note":"hostile"'), prev)
    if kind == "re-spaced JSON":
        body = _body(prev)
        body["hash"] = chain_hash(prev, canonical(body))
        return json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    if kind == "keys out of order":
        body = _body(prev)
        body["hash"] = chain_hash(prev, canonical(body))
        return json.dumps(dict(reversed(body.items())), separators=(",", ":"), ensure_ascii=False).encode()
    if kind == "escaped non-ASCII":
        body = _body(prev, note="é")
        body["hash"] = chain_hash(prev, canonical(body))
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()  # "\u00e9"
    if kind == "number spelled otherwise":
        return _chained(canonical(_body(prev, data={"v": 10})).replace(b'"v":10', b'"v":1e1'), prev)
    if kind == "timestamp without milliseconds":
        return _rehash(_body(prev, ts="2027-01-15T08:00:00Z"), prev)
    if kind == "timestamp in another format":
        return _rehash(_body(prev, ts="2027-01-15 08:00:00.000+00:00"), prev)
    if kind == "subject not a string":
        return _rehash(_body(prev, subject=["S1"]), prev)
    if kind == "actor host not a string":
        body = _body(prev)
        body["actor"]["host"] = {"h": 1}
        return _rehash(body, prev)
    if kind == "not an object":
        return b'["seq",3]'
    if kind == "empty line":
        return b""
    if kind == "whitespace":
        return b"   "
    raise AssertionError(kind)


KINDS = [
    "deep nesting", "deep nesting, orjson's limit", "lone surrogate, chained", "non-UTF-8 bytes",
    "NUL byte", "huge line, chained", "400-digit seq", "400-digit pid", "float seq", "bool pid",
    "NaN, chained", "Infinity, chained", "big float, chained", "duplicate key, same value",
    "re-spaced JSON", "keys out of order", "escaped non-ASCII", "number spelled otherwise",
    "timestamp without milliseconds", "timestamp in another format", "subject not a string",
    "actor host not a string", "not an object", "empty line", "whitespace",
]


def _plant(path, kind: str) -> bytes:
    entries = _journal(path)
    rows = path.read_bytes().splitlines(keepends=True)
    rows[2] = _hostile(kind, entries[1].hash) + b"\n"
    data = b"".join(rows)
    path.write_bytes(data)
    return data


def _run(capsys, *argv):
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_line_is_damage_at_its_seq_for_every_reader(tmp_path, kind, capsys):
    path = tmp_path / "j.jsonl"
    data = _plant(path, kind)
    writer = Journal.open(path, cutover_id=CUT)
    assert writer.readonly and writer.damage is not None, kind
    assert (writer.damage.seq, writer.damage.line) == (3, 3), writer.damage
    assert [e.seq for e in writer.entries] == [1, 2]
    assert "\n" not in writer.readonly_reason
    # The write lock went with the failed open: the same process may open again.
    again = Journal.open(path, cutover_id=CUT)
    assert again.damage == writer.damage
    watcher = Journal.open(path, cutover_id=CUT, readonly=True)
    assert watcher.damage == writer.damage and watcher.entries == writer.entries
    result = verify(path)
    assert not result.ok and (result.bad_seq, result.line, result.count) == (3, 3, 2)
    assert result.problem == writer.damage.problem
    code, out, err = _run(capsys, "journal", "verify", str(path))
    assert code == 1 and out.startswith("FAILED at seq 3 (line 3)"), (out, err)
    code, out, err = _run(capsys, "journal", "show", str(path))
    assert code == 1 and len(out.splitlines()) == 2 and "damaged at seq 3" in err
    assert path.read_bytes() == data  # never repaired


@pytest.mark.parametrize("kind", ["lone surrogate, chained", "duplicate key, same value",
                                  "re-spaced JSON", "escaped non-ASCII", "400-digit pid", "NaN, chained"])
def test_a_watcher_refreshing_applies_the_same_rule(tmp_path, kind):
    path = tmp_path / "j.jsonl"
    entries = _journal(path)
    rows = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(rows[:2]))
    watcher = Journal.open(path, cutover_id=CUT, readonly=True)
    with open(path, "ab") as f:
        f.write(_hostile(kind, entries[1].hash) + b"\n" + rows[3])
    assert watcher.refresh() == []
    assert watcher.damage is not None and watcher.damage.seq == 3 and watcher.head[0] == 2


def test_the_auditor_way_of_hashing_a_re_spaced_line_is_not_enough(tmp_path):
    """Re-spaced, the line still passes the auditor's script (it re-serialises); the cockpit
    wants the bytes themselves canonical, so what it keeps is exactly what it wrote."""
    path = tmp_path / "j.jsonl"
    _plant(path, "re-spaced JSON")
    assert verify(path).bad_seq == 3
    assert "canonical" in verify(path).problem


def _entry_refused(tmp_path, **kw) -> str:
    path = tmp_path / f"w{len(list(tmp_path.iterdir()))}.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="before")
        size = path.stat().st_size
        with pytest.raises(JournalError) as caught:
            j.append("note", actor=kw.pop("actor", _actor()), **kw)
        assert j.head[0] == 1 and not j.readonly
    assert path.stat().st_size == size  # nothing written
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("kw", "words"), [
    ({"note": "lone \ud800 surrogate"}, "cannot be written as JSON text"),
    ({"data": {"k": "\udfff"}}, "cannot be written as JSON text"),
    ({"subject": ["S1"]}, "field 'subject' is not a string"),
    ({"reason_code": 7}, "field 'reason_code' is not a string"),
    ({"note": "x" * (17 * 1024 * 1024)}, "more than the"),
    ({"actor": Actor("ann", "ann", "h", None, 10**400, "s")}, "actor.pid"),
])
def test_the_writer_refuses_what_would_not_read_back(tmp_path, kw, words):
    """Nothing acknowledged may later read as damage: the writer applies the readers' rule."""
    assert words in _entry_refused(tmp_path, **kw)


def test_the_writer_refuses_data_nested_too_deep(tmp_path):
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert "nests deeper than" in _entry_refused(tmp_path, data={"d": deep})
    cyclic: list = []
    cyclic.append(cyclic)
    assert "nests deeper than" in _entry_refused(tmp_path, data=cyclic)


def test_big_integers_and_floats_in_data_read_back_exactly(tmp_path):
    """orjson reads an integer past 64 bits as a float; the standard library decides instead."""
    path = tmp_path / "j.jsonl"
    values = {"big": 10**30, "neg": -(2**70), "f": 1e-07, "g": 1.5e300, "z": -0.0, "i": 2**63}
    with Journal.open(path, cutover_id=CUT) as j:
        e = j.append("note", actor=_actor(), data=values)
    with Journal.open(path, cutover_id=CUT, readonly=True) as again:
        assert again.entries == [e] and again.entries[0].data == values
        assert type(again.entries[0].data["big"]) is int
    assert verify(path).ok


def test_a_long_note_is_checked_for_secrets_in_linear_time(tmp_path):
    """The URL pattern used to rescan a long word from every position: 1 MB never finished.
    Run in a child with a cap only so that a regression fails instead of hanging the suite."""
    code = ("import sys\nfrom cockpit.journal import Actor, Journal\n"
            "j = Journal.open(sys.argv[1], cutover_id='c')\n"
            "j.append('note', actor=Actor.current('a'), note='x' * 1_000_000)\nprint('ok')\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "j.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_the_first_entry_of_a_journal_is_checked_against_genesis(tmp_path):
    path = tmp_path / "j.jsonl"
    body = _body("1" * 64, seq=1)
    path.write_bytes(_rehash(body, "1" * 64) + b"\n")
    result = verify(path)
    assert result.bad_seq == 1 and "genesis" in result.problem
    assert GENESIS == "0" * 64
