"""Property tests of the checkpoint, a trust boundary (whatever is in the journal's folder):
whatever its bytes, and whatever edits the journal suffered after it was written, an open's
entries and damage are those of an open without any checkpoint, and nothing raises."""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import Actor, Journal, checkpoint, lines
from cockpit.journal.entry import parse_ts

CUT = "ck-cut"
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def template() -> tuple[bytes, bytes, bytes]:
    """(journal bytes, a valid checkpoint for its first 10 entries, one for all of it)."""
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / "j.jsonl"
        actor = Actor.current("lead1")
        with Journal.open(path, cutover_id=CUT) as j:
            for i in range(7):
                j.append("note", actor=actor, note=f"n{i}", data={"i": i, "f": i / 3})
            j.append_many(actor, [dict(action="note", note="b1"), dict(action="note", note="b2"),
                                  dict(action="note", note="b3")])
        stale = checkpoint.checkpoint_path(path).read_bytes()
        with Journal.open(path, cutover_id=CUT) as j:
            for i in range(5):
                j.append("note", actor=actor, note=f"t{i}", data=[i, None, "é"])
        return path.read_bytes(), stale, checkpoint.checkpoint_path(path).read_bytes()
    finally:
        shutil.rmtree(folder)


def outcome(path: Path) -> tuple:
    j = Journal.open(path, cutover_id=CUT, readonly=True)
    j.close()
    return (j.entries, [e.wall for e in j.entries], [e.batch for e in j.entries], j.damage,
            j.readonly_reason, j._size, j.warnings)


def both(folder: Path, data: bytes, cp: bytes | None) -> tuple[tuple, tuple]:
    path = folder / "j.jsonl"
    path.write_bytes(data)
    marker = checkpoint.checkpoint_path(path)
    marker.unlink(missing_ok=True)
    bare = outcome(path)
    if cp is not None:
        marker.write_bytes(cp)
    return outcome(path), bare


_field = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**64), st.text(max_size=70),
                   st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))


@st.composite
def hostile_checkpoints(draw) -> bytes:
    _, stale, full = template()
    base = json.loads(draw(st.sampled_from([stale, full])))
    kind = draw(st.sampled_from(["bytes", "field", "drop", "extra"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "field":
        base[draw(st.sampled_from(sorted(base)))] = draw(_field)
    elif kind == "drop":
        del base[draw(st.sampled_from(sorted(base)))]
    else:
        base[draw(st.text(min_size=1, max_size=8))] = draw(_field)
    return json.dumps(base).encode()


@SETTINGS
@given(cp=hostile_checkpoints())
def test_any_checkpoint_bytes_read_as_without_a_checkpoint(cp):
    data = template()[0]
    folder = Path(tempfile.mkdtemp())
    try:
        got, bare = both(folder, data, cp)
        assert got == bare
        assert bare[3] is None and len(bare[0]) == 15
        # The writer's open takes it as well, and leaves a good one.
        path = folder / "j.jsonl"
        with Journal.open(path, cutover_id=CUT) as j:
            assert j.entries == bare[0] and not j.readonly
        assert checkpoint.load(path).size == len(data)
    finally:
        shutil.rmtree(folder)


_edit = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("del"), st.integers(0, 10**6), st.integers(1, 400)),
    st.tuples(st.just("ins"), st.integers(0, 10**6), st.binary(min_size=1, max_size=20)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("swap"), st.integers(0, 100), st.integers(0, 100)),
)


def apply(data: bytes, edits) -> bytes:
    for op, at, arg in edits:
        if not data:
            break
        at %= len(data)
        if op == "set":
            data = data[:at] + bytes([arg]) + data[at + 1:]
        elif op == "del":
            data = data[:at] + data[at + arg:]
        elif op == "ins":
            data = data[:at] + arg + data[at:]
        elif op == "cut":
            data = data[:at]
        else:
            ls = data.splitlines(keepends=True)
            i, k = at % len(ls), arg % len(ls)
            ls[i], ls[k] = ls[k], ls[i]
            data = b"".join(ls)
    return data


@SETTINGS
@given(edits=st.lists(_edit, min_size=1, max_size=3), which=st.sampled_from(["stale", "full"]))
def test_any_edit_after_the_checkpoint_reads_as_without_it(edits, which):
    data, stale, full = template()
    edited = apply(data, edits)
    folder = Path(tempfile.mkdtemp())
    try:
        got, bare = both(folder, edited, stale if which == "stale" else full)
        assert got == bare
        # The writer's open too (it may quarantine a torn tail: the same in both).
        results = []
        for name, cp in (("a", stale if which == "stale" else full), ("b", None)):
            sub = folder / name
            sub.mkdir()
            path = sub / "j.jsonl"
            path.write_bytes(edited)
            if cp is not None:
                checkpoint.checkpoint_path(path).write_bytes(cp)
            j = Journal.open(path, cutover_id=CUT)
            results.append((j.entries, j.damage, j.readonly, j._size, path.read_bytes()))
            j.close()
        assert results[0] == results[1]
    finally:
        shutil.rmtree(folder)


@settings(max_examples=500, deadline=None)
@given(when=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_the_fast_wall_time_is_parse_ts(when):
    ts = f"{when.year:04d}-" + when.strftime("%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    assert lines._wall(ts, lines._minute(ts)) == parse_ts(ts)
