"""Content layer against real PostgreSQL: two databases in the shared test cluster (both real
servers' worth of behaviour; the layer only ever sees two separate connections).

Every difference is seeded on purpose and must be found exactly: no more, no less.
"""

from __future__ import annotations

import asyncio
import json

from cockpit.config.recon import ReconTable
from cockpit.recon.content import ContentResult, compare_table
from cockpit.recon.findings import hash_key
from cockpit.recon.session import open_readonly
from tests.fixtures.recon_data import (
    FAKE_NAMES,
    create_patients,
    seed_differences,
)

SALT = "test-salt"


async def compare(
    pair, timeout: float = 30, buckets: int = 4096, hash_keys: bool = True, **table
) -> ContentResult:
    table.setdefault("name", "t")
    cfg = ReconTable(**table)
    src = await open_readonly(pair.source.dsn, statement_timeout_s=timeout)
    dst = await open_readonly(pair.target.dsn, statement_timeout_s=timeout)
    try:
        result = await compare_table(
            src, dst, cfg, buckets=buckets, salt=SALT, hash_identifying_keys=hash_keys
        )
    finally:
        await src.close()
        await dst.close()
    assert_phi_free(result)
    return result


def assert_phi_free(result: ContentResult) -> None:
    text = repr(result) + json.dumps([f.to_json() for f in result.findings])
    for name in FAKE_NAMES:
        for part in name.split():
            assert part not in text, part


def by_kind(result: ContentResult) -> dict[str, set]:
    out: dict[str, set] = {}
    for f in result.findings:
        out.setdefault(f.kind, set()).add((f.keys, f.columns))
    return out


def only_error(result: ContentResult, kind: str = "error") -> str:
    assert [f.kind for f in result.findings] == [kind], result.findings
    return result.findings[0].detail


async def test_missing_extra_changed_found_exactly(recon_pair):
    create_patients(recon_pair.source.execute, "patients", 3000)
    create_patients(recon_pair.target.execute, "patients", 3000)
    seeded = seed_differences(
        recon_pair.target.execute, "patients", 3000, changed=5, missing=4, extra=3
    )
    result = await compare(recon_pair, name="patients")
    kinds = by_kind(result)
    assert kinds == {
        "changed": {((k,), ("family_name",)) for k in seeded.changed},
        "missing": {((k,), ()) for k in seeded.missing},
        "extra": {((k,), ()) for k in seeded.extra},
    }
    assert (result.changed, result.missing, result.extra) == (5, 4, 3)
    assert (result.source_rows, result.target_rows) == (3000, 2999)
    assert all(f.layer == "content" for f in result.findings)
    sev = {f.kind: f.severity for f in result.findings}
    assert sev == {"changed": "major", "missing": "critical", "extra": "major"}
    assert result.queries > 0


async def test_one_difference_transfers_a_bucket_not_the_table(recon_pair):
    create_patients(recon_pair.source.execute, "patients", 20000)
    create_patients(recon_pair.target.execute, "patients", 20000)
    recon_pair.both("ANALYZE patients")
    seeded = seed_differences(recon_pair.target.execute, "patients", 20000, changed=1)
    result = await compare(recon_pair, name="patients")
    assert by_kind(result) == {"changed": {((seeded.changed[0],), ("family_name",))}}
    assert result.buckets == 100 and result.mismatched_buckets == 1
    # Per side: 100 bucket sums, then one bucket of ~200 (key, hashes) rows.
    assert result.rows_transferred < 2 * (100 + 400), result.rows_transferred


async def test_clean_table_and_empty_and_one_row(recon_pair):
    create_patients(recon_pair.source.execute, "patients", 1000)
    create_patients(recon_pair.target.execute, "patients", 1000)
    create_patients(recon_pair.source.execute, "empty", 0)
    create_patients(recon_pair.target.execute, "empty", 0)
    create_patients(recon_pair.source.execute, "one", 1)
    create_patients(recon_pair.target.execute, "one", 1)
    clean = await compare(recon_pair, name="patients")
    assert clean.findings == [] and clean.source_rows == clean.target_rows == 1000
    assert clean.mismatched_buckets == 0
    empty = await compare(recon_pair, name="empty")
    assert empty.findings == [] and empty.source_rows == 0
    one = await compare(recon_pair, name="one")
    assert one.findings == [] and one.source_rows == 1
    recon_pair.target.execute("UPDATE one SET email = NULL")
    one = await compare(recon_pair, name="one")
    assert by_kind(one) == {"changed": {(("1",), ("email",))}}


async def test_whitespace_and_case_with_and_without_normalisers(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, family_name text, note text)")
    recon_pair.source.execute("INSERT INTO t VALUES (1, 'Quackenbush', 'x'), (2, 'Zebulon', 'y')")
    recon_pair.target.execute(
        "INSERT INTO t VALUES (1, ' quackenbush'||chr(9), 'x'), (2, 'Zebulon  ', 'y')"
    )
    plain = await compare(recon_pair)
    assert by_kind(plain) == {"changed": {(("1",), ("family_name",)), (("2",), ("family_name",))}}
    trimmed = await compare(recon_pair, normalize_all=["trim"])
    assert by_kind(trimmed) == {"changed": {(("1",), ("family_name",))}}
    folded = await compare(recon_pair, normalize={"family_name": ["trim", "casefold"]})
    assert folded.findings == []


async def test_null_versus_empty_string(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, email text, phone text)")
    recon_pair.source.execute("INSERT INTO t VALUES (1, NULL, 'a'), (2, '', 'b'), (3, 'c', NULL)")
    recon_pair.target.execute("INSERT INTO t VALUES (1, '', 'a'), (2, NULL, 'b'), (3, 'c', NULL)")
    plain = await compare(recon_pair)
    assert by_kind(plain) == {"changed": {(("1",), ("email",)), (("2",), ("email",))}}
    # Same with a normaliser on another column, which takes the canonical-text path.
    mixed = await compare(recon_pair, normalize={"phone": ["trim"]})
    assert by_kind(mixed) == by_kind(plain)
    folded = await compare(recon_pair, normalize={"email": ["empty_as_null"]})
    assert folded.findings == []


async def test_timestamp_with_and_without_time_zone(recon_pair):
    recon_pair.source.execute("CREATE TABLE t (id int PRIMARY KEY, seen timestamptz)")
    recon_pair.target.execute("CREATE TABLE t (id int PRIMARY KEY, seen timestamp)")
    recon_pair.source.execute(
        "INSERT INTO t VALUES (1, '2026-11-28 23:30:00+02'), (2, '2026-11-28 12:00:00+00')"
    )
    # The target stores UTC wall-clock times; row 2 is a genuine one-hour shift.
    recon_pair.target.execute(
        "INSERT INTO t VALUES (1, '2026-11-28 21:30:00'), (2, '2026-11-28 13:00:00')"
    )
    plain = await compare(recon_pair)
    assert by_kind(plain) == {"changed": {(("1",), ("seen",)), (("2",), ("seen",))}}
    utc = await compare(recon_pair, normalize_all=["utc"])
    assert by_kind(utc) == {"changed": {(("2",), ("seen",))}}


async def test_numeric_scale(recon_pair):
    recon_pair.source.execute("CREATE TABLE t (id int PRIMARY KEY, dose numeric(10,1), n numeric)")
    recon_pair.target.execute("CREATE TABLE t (id int PRIMARY KEY, dose numeric(10,2), n numeric)")
    recon_pair.source.execute("INSERT INTO t VALUES (1, 2.5, 1.5), (2, 3.0, 2)")
    recon_pair.target.execute("INSERT INTO t VALUES (1, 2.50, 1.50), (2, 3.1, 2.000)")
    # Different typmods: text forms '2.5' and '2.50' differ. Same type: numeric equality.
    plain = await compare(recon_pair)
    assert by_kind(plain) == {"changed": {(("1",), ("dose",)), (("2",), ("dose",))}}
    scaled = await compare(recon_pair, normalize={"dose": ["scale"]}, numeric_scale=2)
    assert by_kind(scaled) == {"changed": {(("2",), ("dose",))}}


async def test_separator_and_duplicates_cannot_fake_a_match(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, a text, b text)")
    recon_pair.source.execute("INSERT INTO t VALUES (1, '12', '3'), (2, '', NULL), (3, 'x', 'y')")
    recon_pair.target.execute("INSERT INTO t VALUES (1, '1', '23'), (2, NULL, ''), (3, 'x', 'y')")
    for extra in ({}, {"normalize_all": ["trim"]}):
        result = await compare(recon_pair, **extra)
        assert by_kind(result) == {"changed": {(("1",), ("a", "b")), (("2",), ("a", "b"))}}


async def test_duplicate_rows_on_one_side_do_not_cancel(recon_pair):
    # No unique index: with XOR of row hashes, row 1 twice on the source would cancel to the
    # same checksum as a target without it.
    recon_pair.both("CREATE TABLE t (id int, name text)")
    recon_pair.source.execute(
        "INSERT INTO t VALUES (1, 'Quackenbush'), (1, 'Quackenbush'), (2, 'b')"
    )
    recon_pair.target.execute("INSERT INTO t VALUES (2, 'b')")
    result = await compare(recon_pair, key=["id"])
    detail = only_error(result)
    assert "not unique" in detail and "1 on the source" in detail
    assert result.findings[0].columns == ("id",)


async def test_no_usable_key(recon_pair):
    recon_pair.both("CREATE TABLE t (id int, name text)")
    recon_pair.both("INSERT INTO t VALUES (1, 'a')")
    assert "no usable key" in only_error(await compare(recon_pair))


async def test_unique_index_proves_a_configured_key(recon_pair):
    recon_pair.both("CREATE TABLE t (mrn text NOT NULL UNIQUE, name text)")
    recon_pair.source.execute("INSERT INTO t VALUES ('M1', 'a'), ('M2', 'b')")
    recon_pair.target.execute("INSERT INTO t VALUES ('M1', 'a'), ('M2', 'c')")
    result = await compare(recon_pair, key=["mrn"], identifying_key=True)
    # Shown hashed, never as the MRN itself.
    assert by_kind(result) == {"changed": {((hash_key("M2", SALT),), ("name",))}}
    assert "M2" not in json.dumps([f.to_json() for f in result.findings])
    # The plan turning hashing off shows the key; a key that identifies no one is never hashed.
    shown = await compare(recon_pair, key=["mrn"], identifying_key=True, hash_keys=False)
    assert by_kind(shown) == {"changed": {(("M2",), ("name",))}}
    plain = await compare(recon_pair, key=["mrn"], identifying_key=False, hash_keys=True)
    assert by_kind(plain) == {"changed": {(("M2",), ("name",))}}


async def test_composite_text_and_uuid_keys(recon_pair):
    recon_pair.both(
        "CREATE TABLE comp (patient_id int, code text, sev text, PRIMARY KEY (patient_id, code))"
    )
    recon_pair.both(
        "INSERT INTO comp SELECT g / 3, 'C' || (g % 3), 'mild' FROM generate_series(0, 299) g"
    )
    recon_pair.target.execute("UPDATE comp SET sev = 'severe' WHERE patient_id = 7 AND code = 'C1'")
    recon_pair.target.execute("DELETE FROM comp WHERE patient_id = 8 AND code = 'C2'")
    recon_pair.target.execute("INSERT INTO comp VALUES (8, 'c2', 'mild')")
    comp = await compare(recon_pair, name="comp")
    assert by_kind(comp) == {
        "changed": {(("7", "C1"), ("sev",))},
        "missing": {(("8", "C2"), ())},
        "extra": {(("8", "c2"), ())},
    }

    # Text keys whose order differs by collation ('a' < 'B' in most locales, not in "C").
    recon_pair.both("CREATE TABLE tk (k text PRIMARY KEY, v int)")
    recon_pair.both(
        "INSERT INTO tk SELECT k, 1 FROM unnest(ARRAY['a','B','b','ä','Z','z ','10','9']) k"
    )
    recon_pair.target.execute("UPDATE tk SET v = 2 WHERE k = 'ä'")
    recon_pair.target.execute("DELETE FROM tk WHERE k = 'z '")
    tk = await compare(recon_pair, name="tk")
    assert by_kind(tk) == {"changed": {(("ä",), ("v",))}, "missing": {(("z ",), ())}}

    # uuid on the source, text on the target: matched by text form.
    recon_pair.source.execute("CREATE TABLE uk (id uuid PRIMARY KEY, v int)")
    recon_pair.target.execute("CREATE TABLE uk (id text PRIMARY KEY, v int)")
    ids = ["0b8f3c5e-1111-4a2b-9c3d-000000000001", "0b8f3c5e-1111-4a2b-9c3d-000000000002"]
    recon_pair.source.execute("INSERT INTO uk VALUES (%s, 1), (%s, 1)", ids)
    recon_pair.target.execute("INSERT INTO uk VALUES (%s, 1), (%s, 5)", ids)
    uk = await compare(recon_pair, name="uk")
    assert by_kind(uk) == {"changed": {((ids[1],), ("v",))}}


async def test_renamed_and_excluded_columns(recon_pair):
    recon_pair.source.execute(
        "CREATE TABLE t (id int PRIMARY KEY, family_name text, loaded_at timestamptz)"
    )
    recon_pair.target.execute(
        "CREATE TABLE t (id int PRIMARY KEY, migrated_at timestamptz, surname text)"
    )
    recon_pair.source.execute("INSERT INTO t VALUES (1, 'Quackenbush', now()), (2, 'b', now())")
    recon_pair.target.execute(
        "INSERT INTO t VALUES (1, now() - interval '1 day', 'Quackenbush'), (2, now(), 'c')"
    )
    result = await compare(recon_pair, rename={"family_name": "surname"}, exclude=["loaded_at"])
    assert by_kind(result) == {"changed": {(("2",), ("family_name",))}}
    missing_col = await compare(recon_pair)
    assert "family_name is not on the target" in only_error(missing_col)


async def test_where_filters_limit_the_rows(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, v text, updated_at int)")
    recon_pair.source.execute("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
    recon_pair.target.execute("INSERT INTO t VALUES (1, 'a', 10), (2, 'x', 20)")
    assert (await compare(recon_pair, where="updated_at < 15")).findings == []
    result = await compare(recon_pair, where="updated_at < 25", target_where="v <> '%'")
    assert by_kind(result) == {"changed": {(("2",), ("v",))}}


async def test_incomparable_types_and_missing_table(recon_pair):
    recon_pair.source.execute("CREATE TABLE t (id int PRIMARY KEY, born date)")
    recon_pair.target.execute("CREATE TABLE t (id int PRIMARY KEY, born int)")
    result = await compare(recon_pair)
    assert "column born" in only_error(result) and result.findings[0].columns == ("born",)
    # A configured type change compares text forms instead.
    recon_pair.source.execute("INSERT INTO t VALUES (1, '2020-01-01')")
    recon_pair.target.execute("INSERT INTO t VALUES (1, 20200101)")
    typed = await compare(recon_pair, types={"born": "integer"})
    assert by_kind(typed) == {"changed": {(("1",), ("born",))}}
    gone = await compare(recon_pair, name="t2", source_table="t")
    assert "t2 not found on the target" in only_error(gone)


async def test_query_timeout_is_not_a_match(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, v text)")
    recon_pair.both("INSERT INTO t SELECT g, 'Quackenbush' FROM generate_series(1, 5) g")
    result = await compare(recon_pair, timeout=0.3, where="pg_sleep(0.2) IS NOT NULL")
    detail = only_error(result)
    assert "statement timeout" in detail and result.error == detail
    assert result.findings[0].severity == "critical"


async def test_cancel_stops_the_queries_and_reports_not_checked(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, v text)")
    recon_pair.both("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g")
    cfg = ReconTable(name="t", where="pg_sleep(0.1) IS NOT NULL")  # ~10 s per side
    src = await open_readonly(recon_pair.source.dsn, statement_timeout_s=60)
    dst = await open_readonly(recon_pair.target.dsn, statement_timeout_s=60)
    cancel = asyncio.Event()
    try:
        task = asyncio.create_task(
            compare_table(src, dst, cfg, buckets=64, salt=SALT, cancel=cancel)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not recon_pair.source.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(0.1)%%' "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        ):
            assert loop.time() < deadline, "the bucket query never started"
            await asyncio.sleep(0.02)
        cancel.set()
        result = await asyncio.wait_for(task, 10)
        assert only_error(result, "not_checked").startswith("cancelled")
        # Sessions are usable and idle again: the server-side queries were cancelled.
        assert (await (await src.execute("SELECT 1")).fetchone())[0] == 1
        assert (await (await dst.execute("SELECT 1")).fetchone())[0] == 1
    finally:
        await src.close()
        await dst.close()


async def test_progress_over_heap_chunks(recon_pair, monkeypatch):
    from cockpit.recon import segments

    create_patients(recon_pair.source.execute, "patients", 5000)
    create_patients(recon_pair.target.execute, "patients", 5000)
    recon_pair.both("VACUUM ANALYZE patients")
    seeded = seed_differences(recon_pair.target.execute, "patients", 5000, missing=2)
    # Small chunks, so each side scans its heap in several TID ranges that must cover it.
    monkeypatch.setattr(segments, "CHUNK_BYTES", 8192 * 8)
    seen: list[tuple[int, int]] = []
    src = await open_readonly(recon_pair.source.dsn, statement_timeout_s=30)
    dst = await open_readonly(recon_pair.target.dsn, statement_timeout_s=30)
    try:
        result = await compare_table(
            src,
            dst,
            ReconTable(name="patients"),
            buckets=4096,
            salt=SALT,
            progress=lambda done, total: seen.append((done, total)),
        )
    finally:
        await src.close()
        await dst.close()
    assert by_kind(result) == {"missing": {((k,), ()) for k in seeded.missing}}
    assert (result.source_rows, result.target_rows) == (5000, 4998)
    assert seen[0] == (0, 5000) and seen[-1] == (5000, 5000)
    assert len(seen) >= 8
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    assert result.queries >= 2 * 8


async def test_large_difference_path_batches_and_names_columns_separately(recon_pair, monkeypatch):
    from cockpit.recon import content

    # Force what happens with many mismatched rows: many stream batches, and column
    # hashes fetched for the changed keys in a separate pass rather than inline.
    monkeypatch.setattr(content, "STREAM_BATCH_ROWS", 7)
    monkeypatch.setattr(content, "INLINE_COLUMN_HASH_ROWS", 0)
    recon_pair.both("CREATE TABLE comp (a int, b text, v text, w int, PRIMARY KEY (a, b))")
    recon_pair.both(
        "INSERT INTO comp SELECT g, 'k' || g, 'same', g FROM generate_series(1, 2000) g"
    )
    recon_pair.target.execute("UPDATE comp SET v = 'Quackenbush' WHERE a % 100 = 0")
    recon_pair.target.execute("UPDATE comp SET w = -1 WHERE a % 250 = 0")
    recon_pair.target.execute("DELETE FROM comp WHERE a % 333 = 0")
    result = await compare(recon_pair, name="comp")
    expect_changed = {
        ((str(a), f"k{a}"), ("v", "w") if a % 250 == 0 else ("v",)) for a in range(100, 2001, 100)
    } | {((str(a), f"k{a}"), ("w",)) for a in range(250, 2001, 250) if a % 100}
    assert by_kind(result) == {
        "changed": expect_changed,
        "missing": {((str(a), f"k{a}"), ()) for a in range(333, 2001, 333)},
    }
    assert result.mismatched_buckets > 1 and result.queries > 12


async def test_progress_of_a_small_table_reports_each_side(recon_pair):
    recon_pair.both("CREATE TABLE t (id int PRIMARY KEY, v text)")
    recon_pair.both("INSERT INTO t SELECT g, 'same' FROM generate_series(1, 1000) g")
    recon_pair.both("ANALYZE t")
    seen: list[tuple[int, int]] = []
    src = await open_readonly(recon_pair.source.dsn, statement_timeout_s=30)
    dst = await open_readonly(recon_pair.target.dsn, statement_timeout_s=30)
    try:
        result = await compare_table(
            src, dst, ReconTable(name="t"), buckets=4096, salt=SALT,
            progress=lambda done, total: seen.append((done, total)),
        )
    finally:
        await src.close()
        await dst.close()
    assert result.clean
    # One heap chunk per side: start, the first side checksummed (half), both, the count.
    assert seen == [(0, 1000), (500, 1000), (1000, 1000), (1000, 1000)]


async def test_many_differences_are_located_through_sub_buckets(recon_pair):
    # 16 buckets of ~1,250 rows, 300 differences: nearly every bucket mismatches, and
    # fetching their rows would transfer the table; sub-buckets bring it down to the
    # neighbourhood of the differences.
    create_patients(recon_pair.source.execute, "patients", 20000)
    create_patients(recon_pair.target.execute, "patients", 20000)
    recon_pair.both("ANALYZE patients")
    seeded = seed_differences(
        recon_pair.target.execute, "patients", 20000, changed=100, missing=100, extra=100
    )
    result = await compare(recon_pair, buckets=16, name="patients")
    assert by_kind(result) == {
        "changed": {((k,), ("family_name",)) for k in seeded.changed},
        "missing": {((k,), ()) for k in seeded.missing},
        "extra": {((k,), ()) for k in seeded.extra},
    }
    assert result.buckets > 16 and result.buckets % 16 == 0
    assert result.mismatched_buckets >= 250
    # Per side: 16 bucket sums, the sub-bucket sums of (at most) the whole table, and the
    # rows of the mismatched sub-buckets; never the whole table twice over.
    assert result.rows_transferred < 2 * 20000, result.rows_transferred
