"""Values moved between rows are differences, whatever bucket the rows share.

A bucket is compared as (row count, exact sum of row hashes). If a row's hash leaves its key
out, or is linear in its fields' hashes (``hash_record_extended`` is: 31 * h + h'), moving a
row's values, or one column's values, between two keys of one bucket leaves the sum unchanged;
so does a NULL -> '' change in one row beside a '' -> NULL change in another. The row hash is
now keyed: every field is hashed with the row's key as the hash seed.

Everything runs against real PostgreSQL through ``compare_table``; the property test checks the
reported missing / extra / changed keys (and changed columns) against a model of the edits, on
one bucket, many buckets, and the refinement (sub-bucket) path with small stream batches.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.recon import content, segments
from tests.test_recon_content import by_kind, compare

COLUMNS = ("name", "allergy", "dose")
VALUES = [None, "", "NULL", "penicillin", "Zebulon", "latex", " "]
DOSES = [None, 0, 1, 2, -1]
KEY_TYPES = {
    "int": ("k int PRIMARY KEY", lambda i: i),
    "bigint": ("k bigint PRIMARY KEY", lambda i: i * 4294967296 + (i % 2)),  # fold collisions
    "text": ("k text PRIMARY KEY", lambda i: f"p{i:03d}"),
    "pair": ("k int, k2 text, PRIMARY KEY (k, k2)", lambda i: (i // 3, f"x{i % 3}")),
}


def _ddl(key_type: str) -> str:
    return f"CREATE TABLE t ({KEY_TYPES[key_type][0]}, name text, allergy text, dose int)"


def _load(db, key_type: str, rows: dict) -> None:
    db.execute("DROP TABLE IF EXISTS t")
    db.execute(_ddl(key_type))
    records = []
    for key, (name, allergy, dose) in rows.items():
        rec = {"name": name, "allergy": allergy, "dose": dose}
        if key_type == "pair":
            rec["k"], rec["k2"] = key
        else:
            rec["k"] = key
        records.append(rec)
    if records:
        db.execute("INSERT INTO t SELECT * FROM json_populate_recordset(NULL::t, %s)",
                   (json.dumps(records),))


def _shown(key) -> tuple[str, ...]:
    return tuple(str(k) for k in key) if isinstance(key, tuple) else (str(key),)


def _expected(src: dict, dst: dict) -> dict[str, set]:
    out: dict[str, set] = {}
    for k in src.keys() - dst.keys():
        out.setdefault("missing", set()).add((_shown(k), ()))
    for k in dst.keys() - src.keys():
        out.setdefault("extra", set()).add((_shown(k), ()))
    for k in src.keys() & dst.keys():
        if src[k] != dst[k]:
            cols = tuple(c for c, a, b in zip(COLUMNS, src[k], dst[k], strict=True) if a != b)
            out.setdefault("changed", set()).add((_shown(k), cols))
    return out


async def _compare_pair(pair, key_type: str, src: dict, dst: dict):
    _load(pair.source, key_type, src)
    _load(pair.target, key_type, dst)
    key = ["k", "k2"] if key_type == "pair" else ["k"]
    return await compare(pair, key=key)


REVIEW_ROWS = {1: ("Zebulon", "penicillin", None), 2: ("Philomena", None, None),
               3: ("Barnaby", "", None)}


async def test_the_reviews_swapped_patients_are_found(recon_pair):
    swapped = {1: REVIEW_ROWS[2], 2: REVIEW_ROWS[1], 3: REVIEW_ROWS[3]}
    result = await _compare_pair(recon_pair, "int", REVIEW_ROWS, swapped)
    assert result.buckets == 1
    assert by_kind(result) == {"changed": {(("1",), ("name", "allergy")),
                                           (("2",), ("name", "allergy"))}}


@pytest.mark.parametrize("key_type", list(KEY_TYPES))
async def test_one_column_and_null_empty_pairs_moved_within_a_bucket(recon_pair, key_type):
    make = KEY_TYPES[key_type][1]
    a, b, c = make(1), make(2), make(3)
    src = {a: ("Ann", "penicillin", 1), b: ("Bob", None, 2), c: ("Cy", "", 2)}
    allergy_moved = {a: ("Ann", None, 1), b: ("Bob", "penicillin", 2), c: src[c]}
    result = await _compare_pair(recon_pair, key_type, src, allergy_moved)
    assert by_kind(result) == _expected(src, allergy_moved) and result.changed == 2
    null_empty = {a: src[a], b: ("Bob", "", 2), c: ("Cy", None, 2)}
    result = await _compare_pair(recon_pair, key_type, src, null_empty)
    assert by_kind(result) == _expected(src, null_empty) and result.changed == 2
    doses = {a: src[a], b: ("Bob", None, 2), c: ("Cy", "", 2)}
    assert (await _compare_pair(recon_pair, key_type, src, doses)).findings == []


async def test_a_key_change_with_only_null_columns_is_found(recon_pair):
    src = {1: (None, None, None), 2: ("x", None, None)}
    dst = {3: (None, None, None), 2: ("x", None, None)}
    result = await _compare_pair(recon_pair, "int", src, dst)
    assert by_kind(result) == {"missing": {(("1",), ())}, "extra": {(("3",), ())}}


async def test_key_only_table_key_change_is_found(recon_pair):
    recon_pair.source.execute("CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
    recon_pair.target.execute("CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (3)")
    result = await compare(recon_pair)
    assert by_kind(result) == {"missing": {(("2",), ())}, "extra": {(("3",), ())}}


def _force(monkeypatch, mode: str) -> None:
    """One bucket; many small buckets; or many buckets, refined into sub-buckets, located a
    few buckets at a time (the path that let NULL <-> '' pairs through at 10,000 changes)."""
    monkeypatch.setattr(segments, "ROWS_PER_BUCKET", 200 if mode == "one" else 3)
    factor = 5 if mode == "refine" else 1
    monkeypatch.setattr(segments, "refine_factor", lambda *a: factor)
    monkeypatch.setattr(content, "STREAM_BATCH_ROWS", 2 if mode == "refine" else 20_000)


async def test_many_opposite_null_empty_changes_in_the_refine_path(recon_pair, monkeypatch):
    _force(monkeypatch, "refine")
    src = {i: ("n", None if i % 2 else "", i % 3) for i in range(1, 401)}
    dst = {i: ("n", "" if i % 2 else None, i % 3) if i % 5 < 2 else v for i, v in src.items()}
    result = await _compare_pair(recon_pair, "int", src, dst)
    assert result.buckets > 100  # refined: sub-buckets
    assert by_kind(result) == _expected(src, dst) and result.changed == 160


EDITS = st.lists(st.tuples(
    st.sampled_from(["swap_rows", "swap_column", "null_empty", "set", "delete", "insert",
                     "permute_column"]),
    st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(range(len(COLUMNS))),
    st.integers(0, 10_000)), min_size=1, max_size=6)


def _edit(rows: dict, make, edits) -> dict:
    dst = dict(rows)
    fresh = 1000
    for op, i, j, col, v in edits:
        keys = sorted(dst, key=str)
        if op == "insert" or not keys:
            fresh += 1
            dst[make(fresh)] = (VALUES[v % len(VALUES)], VALUES[i % len(VALUES)], DOSES[j % 5])
            continue
        a = keys[i % len(keys)]
        b = keys[(i + 1 + j % max(1, len(keys) - 1)) % len(keys)]  # another row, if any
        if op == "swap_rows":
            dst[a], dst[b] = dst[b], dst[a]
        elif op == "swap_column":
            ra, rb = list(dst[a]), list(dst[b])
            ra[col], rb[col] = rb[col], ra[col]
            dst[a], dst[b] = tuple(ra), tuple(rb)
        elif op == "null_empty":
            r = list(dst[a])
            r[1] = "" if r[1] is None else None if r[1] == "" else r[1]
            dst[a] = tuple(r)
        elif op == "set":
            r = list(dst[a])
            r[col] = DOSES[v % 5] if col == 2 else VALUES[v % len(VALUES)]
            dst[a] = tuple(r)
        elif op == "delete":
            del dst[a]
        else:  # permute one column's values over all rows: the multiset is unchanged
            values = [dst[k][col] for k in keys]
            shift = 1 + v % max(1, len(keys))
            values = values[shift:] + values[:shift]
            for k, value in zip(keys, values, strict=True):
                r = list(dst[k])
                r[col] = value
                dst[k] = tuple(r)
    return dst


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key_type=st.sampled_from(list(KEY_TYPES)), mode=st.sampled_from(["one", "many", "refine"]),
       rows=st.lists(st.tuples(st.sampled_from(VALUES), st.sampled_from(VALUES),
                               st.sampled_from(DOSES)), min_size=2, max_size=25, unique=True),
       edits=EDITS)
def test_reported_keys_are_exactly_the_edited_keys(recon_pair, monkeypatch, key_type, mode, rows,
                                                   edits):
    _force(monkeypatch, mode)
    make = KEY_TYPES[key_type][1]
    src = {make(i + 1): r for i, r in enumerate(rows)}
    dst = _edit(src, make, edits)
    result = asyncio.run(_compare_pair(recon_pair, key_type, src, dst))
    assert by_kind(result) == _expected(src, dst), (src, dst, result.findings)
