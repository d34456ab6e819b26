"""The shared journal's table keeps its rules in the database itself, on a real cluster.

Every refusal here is the database's (a trigger, the primary key), whatever client wrote: no
cockpit code runs between the INSERT and the refusal. The property test throws arbitrary rows at
the table and checks the promise readers rely on: every row the database takes reads back,
under the one reader rule, as an intact entry chained onto the one before.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import struct

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import lines, table
from cockpit.journal.entry import GENESIS, Actor, build, canonical

NAME = "cockpit_journal"
CUTOVER = "cj-1"
ACTOR = Actor("ann", "ann", "jump1", None, 4242, "s-1")


def entries(n: int, cutover: str = CUTOVER, *, prev: str = GENESIS, first: int = 1,
            note: str = "note é 🚑"):
    """n chained entries as the writer makes them: (seq, prev, hash, line text)."""
    out = []
    for seq in range(first, first + n):
        e = build(seq, 1_764_000_000.0 + seq, cutover, ACTOR, "note", subject=None,
                  reason_code=None, note=f"{note} {seq}", data={"i": seq, "x": [1.5, None]},
                  prev=prev)
        out.append((seq, e.prev, e.hash, e.line().decode("utf-8").rstrip("\n")))
        prev = e.hash
    return out


def insert(conn, row, cutover: str = CUTOVER, name: str = NAME) -> None:
    seq, prev, h, line = row
    with conn.cursor() as cur:
        cur.execute(table.sql(table.INSERT_SQL, name), (cutover, seq, prev, h, line))


def create(conn, name: str = NAME) -> None:
    with conn.transaction(), conn.cursor() as cur:
        for stmt in table.create_sql(name):
            cur.execute(stmt)


@pytest.fixture
def conn(pg_db):
    with pg_db.connect(autocommit=True) as c:
        create(c)
        yield c


def refused(conn, row, sqlstate: str, cutover: str = CUTOVER) -> str:
    with pytest.raises(psycopg.Error) as exc:
        insert(conn, row, cutover)
    assert exc.value.sqlstate == sqlstate, exc.value
    return str(exc.value.diag.message_primary)


def count(conn) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {NAME}")
        return cur.fetchone()[0]


def test_direct_update_delete_and_truncate_are_refused_by_the_database(conn):
    for row in entries(3):
        insert(conn, row)
    for stmt in (f"UPDATE {NAME} SET line = line || ' ' WHERE seq = 2",
                 f"UPDATE {NAME} SET cutover = 'other'",
                 f"DELETE FROM {NAME} WHERE seq = 3",
                 f"DELETE FROM {NAME}",
                 f"TRUNCATE {NAME}"):
        with pytest.raises(psycopg.Error) as exc, conn.cursor() as cur:
            cur.execute(stmt)
        assert exc.value.sqlstate == table.APPEND_ONLY_SQLSTATE, stmt
        assert "append-only" in str(exc.value.diag.message_primary)
    assert table.read_lines(conn, NAME, CUTOVER) == [r[3].encode() for r in entries(3)]


def test_an_insert_that_does_not_chain_or_does_not_match_its_columns_is_refused(conn):
    rows = entries(4)
    insert(conn, rows[0])
    insert(conn, rows[1])
    seq, prev, h, line = rows[2]
    # a wrong prev: a line chained onto something else than entry 2 (consistent in itself)
    other = entries(3, note="forked")[2]
    assert "does not chain" in refused(conn, other, table.CHAIN_SQLSTATE)
    # a gap: entry 4 while the head is 2
    assert "does not chain" in refused(conn, rows[3], table.CHAIN_SQLSTATE)
    # a duplicate seq: entry 2 again (the primary key)
    refused(conn, rows[1], "23505")
    # a first entry that does not chain onto the genesis value
    assert "64 zeros" in refused(conn, (1, rows[0][2], rows[1][2], rows[1][3]),
                                 table.CHAIN_SQLSTATE, cutover="cj-2")
    # columns that disagree with the line's own JSON
    for cols in ((seq, prev, h, line.replace(f'"seq":{seq}', f'"seq":{seq + 1}')),
                 (seq, prev, "f" * 64, line)):
        assert "match" in refused(conn, cols, table.CHAIN_SQLSTATE)
    assert "match its columns" in refused(conn, rows[0], table.CHAIN_SQLSTATE, cutover="cj-x")
    # a wrong hash: the line altered after it was hashed
    altered = line.replace("note é", "note e")
    assert altered != line
    assert "hash does not match" in refused(conn, (seq, prev, h, altered), table.CHAIN_SQLSTATE)
    assert count(conn) == 2
    insert(conn, rows[2])  # and the right one still goes in
    assert count(conn) == 3


def _self_consistent(body: bytes, prev: str, where: int | None = None) -> str:
    """A line whose hash is right for its body whatever the body's form: what a client that
    does not follow the byte rule (or a hostile one) could insert."""
    h = hashlib.sha256(prev.encode() + b"\n" + body).hexdigest()
    member = f',"hash":"{h}"'.encode()
    at = body.rfind(b"}") if where is None else max(1, min(where, len(body)))
    return (body[:at] + member + body[at:]).decode("utf-8", "replace")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=8)
_mutation = st.sampled_from(["valid", "spacing", "key_order", "dup_key", "escape", "wrong_type",
                             "extra_field", "drop_field", "bad_ts", "batch", "float", "bytes",
                             "hash_anywhere", "seq_string", "batch_pair", "huge_int"])
_cut = itertools.count()


def _batch(seq: int, prev: str, cutover: str, data):
    out = []
    for i in (1, 2):
        e = build(seq, 1_764_000_000.0 + seq, cutover, ACTOR, "note", subject=None,
                  reason_code=None, note=None, data=data, prev=prev, batch=(i, 2))
        out.append((seq, prev, e.hash, e.line().rstrip(b"\n").decode()))
        seq, prev = seq + 1, e.hash
    return out


def _candidate(mutation: str, seq: int, prev: str, cutover: str, data, junk: bytes, where: int):
    """(seq, prev, hash, line) for the next row, valid or not in the way ``mutation`` says."""
    e = build(seq, 1_764_000_000.0 + seq, cutover, ACTOR, "note", subject=None, reason_code=None,
              note="n", data=data, prev=prev)
    good = e.line().rstrip(b"\n").decode()
    body = e.body()
    if mutation == "valid":
        return seq, prev, e.hash, good
    if mutation == "spacing":
        raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    elif mutation == "key_order":
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    elif mutation == "dup_key":
        raw = canonical(body)[:-1] + b',"note":"n"}'
    elif mutation == "escape":
        raw = canonical(body).replace(b'"n"', b'"\\u006e"', 1)
    elif mutation == "wrong_type":
        raw = canonical({**body, "note": 5})
    elif mutation == "extra_field":
        raw = canonical({**body, "zz": 1})
    elif mutation == "drop_field":
        raw = canonical({k: v for k, v in body.items() if k != "subject"})
    elif mutation == "bad_ts":
        raw = canonical({**body, "ts": "yesterday"})
    elif mutation == "batch":
        raw = canonical({**body, "batch": [where % 3 + 1, 2 + where % 2]})
    elif mutation == "seq_string":
        raw = canonical({**body, "seq": str(seq)})
    elif mutation == "huge_int":
        raw = canonical({**body, "data": 0}).replace(b'"data":0', b'"data":' + b"9" * 4400, 1)
    elif mutation == "float":
        raw = canonical(body).replace(b'"i":', b'"i":1.0e0,"j":', 1)
    elif mutation == "bytes":
        raw = canonical(body)
        k = where % max(1, len(raw))
        raw = raw[:k] + junk + raw[k:]
    else:  # hash_anywhere: the right hash, placed elsewhere than where the byte rule puts it
        raw = canonical(body)
        return seq, prev, hashlib.sha256(prev.encode() + b"\n" + raw).hexdigest(), \
            _self_consistent(raw, prev, where)
    text = _self_consistent(raw, prev)
    h = text[text.rindex(',"hash":"') + 9:][:64]
    return seq, prev, h, text


@settings(max_examples=int(os.environ.get("COCKPIT_TABLE_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(_mutation, _json, st.binary(max_size=4), st.integers(0, 400)),
                      min_size=1, max_size=6))
def test_every_row_the_database_accepts_reads_back_as_an_intact_chained_entry(pg_shared, steps):
    """(property) Whatever rows a client throws at the table, what the database keeps is a
    journal the one reader rule reads whole: no row it takes is damage to readers."""
    db = _property_db(pg_shared)
    cutover = f"p-{next(_cut)}"
    with psycopg.connect(pg_shared.dsn(db), autocommit=True) as c:
        head_seq, head = 0, GENESIS
        taken = 0
        for mutation, data, junk, where in steps:
            if mutation == "batch_pair":  # a whole batch, in one transaction, as a writer does
                rows = _batch(head_seq + 1, head, cutover, data)
            else:
                rows = [_candidate(mutation, head_seq + 1, head, cutover, data, junk, where)]
            try:
                with c.transaction():
                    for row in rows:
                        insert(c, row, cutover)
            except psycopg.Error as exc:
                # the chain trigger's refusal, or PostgreSQL's own for what is not JSON text
                # (22P02), an escape text cannot hold (22P05), a number out of range (22003)
                assert exc.sqlstate in REFUSALS, (exc.sqlstate, exc)
                # and what the writer writes is never refused
                assert mutation not in ("valid", "batch_pair"), (exc, rows)
                continue
            taken += len(rows)
            head_seq, head = rows[-1][0], rows[-1][2]
        data_read = table.as_journal(table.read_lines(c, NAME, cutover))
    parsed = lines.parse(data_read, cutover=cutover)
    assert parsed.damage is None, (parsed.damage, steps)
    assert not parsed.torn and not parsed.pending, steps
    assert len(parsed.entries) == taken
    assert [e.seq for e in parsed.entries] == list(range(1, taken + 1))


REFUSALS = {table.CHAIN_SQLSTATE, table.ENTRY_SQLSTATE, "22P02", "22P05", "22003", "22021", "23514"}
_PROPERTY_DB: dict[int, str] = {}


def _property_db(pg_shared) -> str:
    """One database (and one table) for every example of the property test in this session."""
    key = id(pg_shared)
    if key not in _PROPERTY_DB:
        name = pg_shared.create_database()
        with psycopg.connect(pg_shared.dsn(name), autocommit=True) as c:
            create(c)
        _PROPERTY_DB[key] = name
    return _PROPERTY_DB[key]


def test_read_lines_reads_one_cutover_in_seq_order_after_a_seq(conn):
    for row in entries(5):
        insert(conn, row)
    for row in entries(2, "cj-other"):
        insert(conn, row, "cj-other")
    every = table.read_lines(conn, NAME, CUTOVER)
    assert every == [r[3].encode("utf-8") for r in entries(5)]
    assert table.read_lines(conn, NAME, CUTOVER, after=3) == every[3:]
    parsed = lines.parse(table.as_journal(every), cutover=CUTOVER)
    assert parsed.damage is None and [e.seq for e in parsed.entries] == [1, 2, 3, 4, 5]
    assert table.as_journal([]) == b""


def test_a_fresh_table_has_no_differences_and_each_tampering_is_named(conn):
    assert table.differences(conn, NAME) == []
    tamperings = [
        (f"ALTER TABLE {NAME} DISABLE TRIGGER {NAME}_chain", "trigger cockpit_journal_chain is disabled"),
        (f"DROP TRIGGER {NAME}_no_truncate ON {NAME}", "trigger cockpit_journal_no_truncate is missing"),
        (f"CREATE OR REPLACE FUNCTION {NAME}_notify() RETURNS trigger LANGUAGE plpgsql AS "
         "$$BEGIN RETURN NULL; END$$", "function \"cockpit_journal_notify\"() has another body"),
        (f"ALTER TABLE {NAME} ADD COLUMN extra int", "unexpected column extra"),
        (f"ALTER TABLE {NAME} ALTER COLUMN line DROP NOT NULL", "column line is text nullable"),
        (f"CREATE TRIGGER zz BEFORE INSERT ON {NAME} FOR EACH ROW EXECUTE FUNCTION {NAME}_chain()",
         "unexpected trigger zz"),
        (f"ALTER TABLE {NAME} ENABLE ROW LEVEL SECURITY", "row level security"),
    ]
    for stmt, said in tamperings:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(stmt)
            problems = table.differences(conn, NAME)
            assert any(said in p for p in problems), (stmt, problems)
    assert table.differences(conn, NAME) == []


def test_a_batch_counts_only_whole_and_in_order(conn):
    rows = _batch(1, GENESIS, CUTOVER, {"k": 1})
    with pytest.raises(psycopg.Error) as exc:  # the first half alone: refused at commit
        insert(conn, rows[0])
    assert exc.value.sqlstate == table.ENTRY_SQLSTATE and "unfinished" in str(exc.value)
    with pytest.raises(psycopg.Error) as exc, conn.transaction():  # the halves swapped
        insert(conn, rows[1])
    assert exc.value.sqlstate == table.CHAIN_SQLSTATE
    with conn.transaction():
        for row in rows:
            insert(conn, row)
    parsed = lines.parse(table.as_journal(table.read_lines(conn, NAME, CUTOVER)))
    assert parsed.damage is None and [e.batch for e in parsed.entries] == [(1, 2), (2, 2)]


def test_a_line_of_another_shape_or_form_is_refused_even_with_a_right_hash(conn):
    e = build(1, 1_764_000_000.0, CUTOVER, ACTOR, "note", subject=None, reason_code=None,
              note="n", data={"b": 1, "a": 2.5}, prev=GENESIS)
    body = e.body()
    for raw in (json.dumps(body, sort_keys=True).encode(),  # other spacing
                canonical({**body, "seq": "1"}),  # a string where readers want a number
                canonical({**body, "note": 7}),
                canonical({**body, "ts": "2026-02-30T00:00:00.000Z"}),
                canonical({**body, "extra": True}),
                canonical(body).replace(b"2.5", b"2.50")):
        line = _self_consistent(raw, GENESIS)
        h = line[line.rindex(',"hash":"') + 9:][:64]
        assert "entry 1" in refused(conn, (1, GENESIS, h, line), table.ENTRY_SQLSTATE), raw
    assert count(conn) == 0
    insert(conn, (1, GENESIS, e.hash, e.line().decode().rstrip("\n")))
    assert count(conn) == 1


def test_the_database_writes_numbers_and_strings_exactly_as_the_byte_rule_does(conn):
    """The canonical form the trigger demands is Python's, float repr included: random doubles
    (every bit pattern), decimals, integers as floats, the extremes, and escapes."""
    rnd = random.Random(12)
    values = [5.911918038418086e+16, 1e16, 1e15, 1.5, 100.0, 1e-05, 0.0001, 5e-324, -0.0, 0.0,
              1e22, 1e23, 1.7976931348623157e308, 2.2250738585072014e-308, 1e-300, 1e-301,
              123456789012345.0, 1234567890123456.0, 0.1, 1 / 3]
    values += [struct.unpack("d", struct.pack("Q", rnd.getrandbits(64)))[0] for _ in range(3000)]
    values += [round(rnd.uniform(-1e6, 1e6), rnd.randint(0, 6)) for _ in range(1000)]
    values += [rnd.randint(1, 10**15) * 10.0 ** rnd.randint(-320, 300) for _ in range(1000)]
    tokens = [json.dumps(v) for v in values if v == v and abs(v) != float("inf")]
    tokens += [json.dumps(s, ensure_ascii=False) for s in
               ("a\u0001b\n\"\\\u001f\u007f/é", "\t\r\b\f", "🚑 \u2028", "plain")]
    tokens += ['{"b":[1,2.5,{"c":null}],"a":"x\\ny","é":true}', "[]", "{}", "-12", "12"]
    fn = table.function_name(NAME, "canonical")
    with conn.cursor() as cur:
        cur.execute(f"SELECT {fn}(t::json, 0) FROM unnest(%s::text[]) WITH ORDINALITY u(t, i) "
                    "ORDER BY i", (tokens,))
        got = [r[0] for r in cur.fetchall()]
    bad = [(t, g) for t, g in zip(tokens, got, strict=True)
           if g != canonical(json.loads(t)).decode()]
    assert not bad, bad[:5]
    # and what is not Python's form is written otherwise or refused (so the line is refused)
    for token in ("1.0e0", "1E5", "1.50", "-0", "1e+5", "0.00", '"\\u0041"', '{"b":1,"a":2}',
                  '{"a":1,"a":1}', "9" * 4301):
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT {fn}(%s::json, 0)", (token,))
                assert cur.fetchone()[0] != token, token
        except psycopg.Error as exc:
            assert exc.sqlstate == table.ENTRY_SQLSTATE, (token, exc)
