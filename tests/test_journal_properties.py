"""Properties of the journal-bytes trust boundary (hypothesis).

Journals written by the real :class:`Journal` (single appends, batches, a clock stepping back)
are mutated arbitrarily: bytes flipped, inserted, deleted, the file cut, lines swapped,
duplicated, joined or replaced by arbitrary bytes, a field set to an arbitrary JSON value, a
line re-spaced. Whatever the bytes:

- ``Journal.open`` (writer and read-only) and ``verify`` raise nothing but one-line
  ``JournalError``s, and agree: the same entries kept, the same damage at the same seq;
- every kept entry is byte for byte an acknowledged original, in order, and batches are whole:
  nothing reordered, nothing repaired, an altered entry never kept;
- a writer opening after an unacknowledged tail quarantines exactly those bytes and goes on;
- the auditor's script from the package docstring accepts what ``verify`` accepts.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import cockpit.journal as journal_pkg
from cockpit.clock import ManualClock
from cockpit.journal import Actor, Journal, JournalError, canonical, verify
from cockpit.journal.entry import FIELDS

CUT = "t-cut"
ACTOR = Actor(operator="ann", os_user="ann", host="jump1", ssh_client=None, pid=7, session="s1")

AUDITOR = "\n".join(line[4:] for line in re.search(
    r"An auditor re-verifies with nothing but Python::\n\n(.*?)\n\n", journal_pkg.__doc__,
    re.S).group(1).splitlines())


def _audit(path: Path) -> str | None:
    """The docstring's script, run as written (in this process, for speed, with ``sys.argv``
    set as the shell would): its "OK" line, or None when it rejects the file (any exception:
    the script would exit non-zero)."""
    out = io.StringIO()
    saved = sys.argv
    sys.argv = ["auditor", str(path)]
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(AUDITOR, "auditor", "exec"), {"__name__": "__main__"})
    except Exception:
        return None
    finally:
        sys.argv = saved
    return out.getvalue().strip()


# -- journals written by the real Journal ------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)

OPS = st.lists(st.one_of(
    st.tuples(st.just("note"), TEXT, JSON),
    st.tuples(st.just("batch"), st.lists(TEXT, min_size=1, max_size=4), JSON),
    st.tuples(st.just("back"), st.integers(min_value=1, max_value=5000), TEXT),
), min_size=1, max_size=5)


def _write(path: Path, ops) -> list[bytes]:
    """Apply ``ops`` with the real Journal; the acknowledged lines, in order."""
    clock = ManualClock(1_800_000_000.0)
    with Journal.open(path, cutover_id=CUT, clock=clock) as j:
        for kind, a, b in ops:
            clock.set_wall(clock.now() + 1.5)
            try:
                if kind == "note":
                    j.append("note", actor=ACTOR, note=a, data=b)
                elif kind == "batch":
                    j.append_many(ACTOR, [{"action": "exception.open", "subject": s, "data": b}
                                          for s in a])
                else:
                    clock.set_wall(clock.now() - a)  # the clock steps back: a clock.warning
                    j.append("step.confirm", actor=ACTOR, subject=b or "S1")
            except JournalError as exc:  # e.g. a text that looks like a secret: refused whole
                assert "\n" not in str(exc)
        return [e.line() for e in j.entries]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """A few journals, each with single entries, batches and a clock.warning pair."""
    folder = tmp_path_factory.mktemp("bases")
    out = []
    for k, ops in enumerate([
        [("note", "first é 🚑", {"a": 1.5, "big": 10**25}), ("batch", ["X1", "X2", "X3"], [1, None]),
         ("back", 90, "S2"), ("note", "after", None), ("batch", ["Y1", "Y2"], {"k": "v"})],
        [("batch", ["A", "B", "C", "D", "E"], {"n": 5})],
        [("note", "only", {})],
        [("back", 10, "S1"), ("back", 10, "S2"), ("note", "x", [True, False])],
    ]):
        path = folder / f"base{k}.jsonl"
        lines = _write(path, ops)
        assert path.read_bytes() == b"".join(lines)
        out.append(lines)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_what_the_journal_writes_verifies_and_the_auditor_agrees(ops):
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / "j.jsonl"
        lines = _write(path, ops)
        result = verify(path)
        assert result.ok and result.count == len(lines)
        with Journal.open(path, cutover_id=CUT, readonly=True) as j:
            assert [e.line() for e in j.entries] == lines
        expected = f"OK: {result.count} entries, head #{result.head_seq} {result.head_hash or '0' * 64}"
        assert _audit(path) == expected
    finally:
        shutil.rmtree(folder)


# -- arbitrary mutations -----------------------------------------------------------------------

FIELD_NAMES = st.sampled_from([*FIELDS, "batch", "actor.pid", "actor.operator"]) | TEXT
HOSTILE_JSON = JSON | st.sampled_from([10**400, -(10**30), 1e300, 2.5, "\ud800", [[[[[]]]]],
                                       {"a": {"b": {"c": None}}}, "", 0, -1, True])

MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 60)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("swap"), st.integers(0, 100), st.integers(0, 100)),
    st.tuples(st.just("dup"), st.integers(0, 100), st.integers(0, 100)),
    st.tuples(st.just("join"), st.integers(0, 100), st.just(0)),
    st.tuples(st.just("replace"), st.integers(0, 100), st.binary(max_size=60)),
    st.tuples(st.just("field"), st.integers(0, 100), st.tuples(FIELD_NAMES, HOSTILE_JSON)),
    st.tuples(st.just("respace"), st.integers(0, 100), st.just(0)),
)


def _set_field(line: bytes, name: str, value) -> bytes:
    try:
        d = json.loads(line)
    except ValueError:
        return line
    if not isinstance(d, dict):
        return line
    if name.startswith("actor.") and isinstance(d.get("actor"), dict):
        d["actor"][name[6:]] = value
    else:
        d[name] = value
    try:
        return canonical(d)  # a canonical line, but the hash was not recomputed
    except (ValueError, TypeError):
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


def mutate(data: bytes, mutations) -> bytes:
    for kind, a, b in mutations:
        rows = data.split(b"\n")
        if kind == "flip" and data:
            i = a % len(data)
            data = data[:i] + bytes([data[i] ^ b]) + data[i + 1:]
        elif kind == "insert":
            i = a % (len(data) + 1)
            data = data[:i] + b + data[i:]
        elif kind == "delete" and data:
            i = a % len(data)
            data = data[:i] + data[i + b:]
        elif kind == "truncate":
            data = data[:a % (len(data) + 1)]
        elif kind == "swap" and len(rows) > 1:
            i, j = a % len(rows), b % len(rows)
            rows[i], rows[j] = rows[j], rows[i]
            data = b"\n".join(rows)
        elif kind == "dup":
            i = a % len(rows)
            rows.insert(b % (len(rows) + 1), rows[i])
            data = b"\n".join(rows)
        elif kind == "join" and len(rows) > 1:
            i = a % (len(rows) - 1)
            rows[i:i + 2] = [rows[i] + rows[i + 1]]
            data = b"\n".join(rows)
        elif kind == "replace":
            rows[a % len(rows)] = b.replace(b"\n", b"")
            data = b"\n".join(rows)
        elif kind == "field":
            i = a % len(rows)
            rows[i] = _set_field(rows[i], *b).replace(b"\n", b"")
            data = b"\n".join(rows)
        elif kind == "respace":
            i = a % len(rows)
            with contextlib.suppress(ValueError):
                rows[i] = json.dumps(json.loads(rows[i]), sort_keys=True, ensure_ascii=False).encode()
            data = b"\n".join(rows)
    return data


def _opened(path: Path, **kw) -> Journal | str:
    """The journal, or the message of the one-line JournalError it was refused with."""
    try:
        return Journal.open(path, cutover_id=CUT, **kw)
    except JournalError as exc:
        assert "\n" not in str(exc)
        return str(exc)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 3), mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_any_bytes_are_entries_or_damage_and_every_reader_agrees(bases, which, mutations):
    original = bases[which]
    data = mutate(b"".join(original), mutations)
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / "j.jsonl"
        path.write_bytes(data)
        _check(path, data, original)
    finally:
        shutil.rmtree(folder)


def _check(path: Path, data: bytes, original: list[bytes]) -> None:
    ro = _opened(path, readonly=True)
    assert isinstance(ro, Journal), ro  # a regular file always opens: damage is reported
    kept = [e.line() for e in ro.entries]
    # Nothing reordered, nothing repaired, nothing altered: an acknowledged prefix, byte for byte.
    assert kept == original[:len(kept)]
    good = sum(map(len, kept))
    assert data[:good] == b"".join(kept)
    batch = None
    for e in ro.entries:  # batches whole
        if e.batch is not None:
            assert e.batch[0] == (1 if batch is None else batch[0] + 1)
            batch = None if e.batch[0] == e.batch[1] else e.batch
        else:
            assert batch is None
    assert batch is None

    result = verify(path)
    assert result.count == len(kept) and result.head_seq == (ro.entries[-1].seq if kept else 0)
    if ro.damage is not None:
        assert (result.bad_seq, result.line, result.problem) == (
            ro.damage.seq, ro.damage.line, ro.damage.problem)
        assert not result.intact
    elif data[good:]:
        assert not result.intact and result.bad_seq == len(kept) + 1
        assert "never acknowledged" in result.problem
    else:
        assert result.intact and result.ok

    audited = _audit(path)
    event("damage" if ro.damage else "unacknowledged tail" if data[good:] else "intact")
    if audited is not None and not result.intact:
        event("the auditor accepts, verify is stricter")
    if result.intact:  # the auditor accepts what verify accepts, and reads the same head
        assert audited == f"OK: {len(kept)} entries, head #{len(kept)} {ro.head[1]}"
    if audited is None:
        assert not result.intact

    writer = _opened(path, clock=ManualClock(2_000_000_000.0))  # after every base entry
    assert isinstance(writer, Journal), writer
    try:
        assert [e.line() for e in writer.entries] == kept
        assert writer.damage == ro.damage
        if ro.damage is not None:
            assert writer.readonly and path.read_bytes() == data  # never repaired
            return
        assert not writer.readonly
        if data[good:]:  # exactly the unacknowledged bytes are set aside, then it goes on
            assert writer.quarantined.read_bytes() == data[good:]
            assert path.read_bytes() == data[:good]
        else:
            assert writer.quarantined is None and path.read_bytes() == data
        writer.append("note", actor=ACTOR, note="after")
    finally:
        writer.close()
    after = verify(path)
    assert after.intact and after.count == len(kept) + 1


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 3), line=st.integers(0, 100), name=FIELD_NAMES, value=HOSTILE_JSON)
def test_a_rewritten_entry_with_its_own_hash_fails_the_recorded_head(bases, which, line, name, value):
    """Recomputing an altered entry's hash breaks the chain right after it; at the very end only
    the head recorded elsewhere can tell, and it does."""
    from cockpit.journal import chain_hash

    original = bases[which]
    rows = list(original)
    i = line % len(rows)
    d = json.loads(rows[i])
    d.pop("hash")
    if name.startswith("actor."):
        d["actor"][name[6:]] = value
    else:
        d[name] = value
    try:
        d["hash"] = chain_hash(d["prev"] if isinstance(d.get("prev"), str) else "0" * 64, canonical(d))
        rows[i] = canonical(d) + b"\n"
    except (ValueError, TypeError):
        return  # not writable as canonical JSON at all (a lone surrogate): nothing to rewrite
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / "j.jsonl"
        path.write_bytes(b"".join(rows))
        head = json.loads(original[-1])["hash"]
        result = verify(path, f"{len(original)}:{head}")
        changed = rows[i] != original[i]
        assert result.ok == (not changed)
        ro = Journal.open(path, cutover_id=CUT, readonly=True)
        kept = [e.line() for e in ro.entries]
        if kept != original[:len(kept)]:
            # Kept although altered: then nothing after it is (the chain breaks right there,
            # loudly), or it is the last entry and the recorded head no longer matches.
            assert len(kept) == i + 1 and kept[:i] == original[:i]
            assert ro.damage is not None and ro.damage.seq == i + 2 or ro.head[1] != head
    finally:
        shutil.rmtree(folder)
