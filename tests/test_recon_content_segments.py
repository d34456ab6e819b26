"""Pure bookkeeping of the content layer: buckets, heap chunks, row diffs; and the SQL plan."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config.recon import ReconTable
from cockpit.recon import segments
from cockpit.recon.canonical import ColumnInfo, Incomparable, plan_rows


def test_choose_buckets():
    assert segments.choose_buckets(0, 4096) == 1
    assert segments.choose_buckets(1, 4096) == 1
    assert segments.choose_buckets(20_000, 4096) == 100
    assert segments.choose_buckets(5_000_000, 4096) == 4096
    # Never analysed: estimated from the heap size.
    assert segments.choose_buckets(-1, 4096, pages=100) == 30
    assert segments.choose_buckets(-1, 4096, pages=0) == 1


@pytest.mark.parametrize("pages", [0, 1, 15, 16, 17, 1000, 123_457])
def test_heap_chunks_cover_every_page_once(pages):
    chunks = segments.heap_chunks(pages, True, block_size=8192 * 1024)
    assert chunks[0][0] is None and chunks[-1][1] is None
    assert len(chunks) <= segments.MAX_CHUNKS
    for (_, hi), (lo, _) in zip(chunks, chunks[1:], strict=False):
        assert hi == lo and hi is not None and 0 < hi < pages
    assert segments.heap_chunks(pages, False) == [(None, None)]


def test_sums_keep_duplicates_that_xor_would_cancel():
    src: segments.BucketSums = {}
    dst: segments.BucketSums = {}
    h = 1234567890123
    assert segments.add_sums(src, [(3, 2, 2 * h), (5, 1, 7)]) == 3  # row h twice
    segments.add_sums(dst, [(5, 1, 7)])  # and not at all
    assert segments.mismatched(src, dst) == [3]
    # Same sum, different count: still a mismatch.
    assert segments.mismatched({1: (2, 10)}, {1: (1, 10)}) == [1]
    assert segments.mismatched({1: (1, 10)}, {1: (1, 10)}) == []
    # Chunked results add up to one bucket total.
    total: segments.BucketSums = {}
    segments.add_sums(total, [(1, 1, 5)])
    segments.add_sums(total, [(1, 2, -3)])
    assert total == {1: (3, 2)}


def col(name, typ="text", typname="text", cat="S", oid=25):
    return ColumnInfo(name=name, type=typ, typname=typname, category=cat, type_oid=oid)


def test_plan_uses_raw_hash_only_for_identical_builtin_types():
    src = {
        "id": col("id", "integer", "int4", "N", 23),
        "a": col("a"),
        "n": col("n", "numeric(10,1)", "numeric", "N", 1700),
        "s": col("s", "mood", "mood", "E", 99999),
    }
    dst = {
        "id": col("id", "bigint", "int8", "N", 20),
        "a": col("a"),
        "n": col("n", "numeric(10,2)", "numeric", "N", 1700),
        "s": col("s", "mood", "mood", "E", 88888),
    }
    plan = plan_rows(ReconTable(name="t"), ["id"], src, dst)
    assert plan.raw_columns == ("a",)
    assert plan.text_columns == ("n", "s")
    normalised = plan_rows(ReconTable(name="t", normalize_all=["trim"]), ["id"], src, dst)
    assert normalised.raw_columns == () and "a" in normalised.text_columns


def test_plan_refuses_different_kinds_of_value():
    src = {"id": col("id"), "d": col("d", "date", "date", "D", 1082)}
    dst = {"id": col("id"), "d": col("d", "integer", "int4", "N", 23)}
    with pytest.raises(Incomparable) as info:
        plan_rows(ReconTable(name="t"), ["id"], src, dst)
    assert info.value.columns == ("d",)
    assert plan_rows(ReconTable(name="t", types={"d": "integer"}), ["id"], src, dst).text_columns


def test_refine_factor_only_when_fetching_would_cost_more_than_a_scan():
    # Few rows to fetch, or a small share of the table: fetch them, no refinement.
    assert segments.refine_factor(0, 0, 4096, 1_000_000) == 1
    assert segments.refine_factor(24_400, 100, 4096, 1_000_000) == 1  # 100 differences
    assert segments.refine_factor(10_000, 5, 16, 20_000) == 1
    # Most of the table mismatching: sub-buckets of a few rows each, multiples of the bucket.
    f = segments.refine_factor(915_000, 3750, 4096, 1_000_000)
    assert 244 / f < 10 and 3750 * f <= segments.MAX_SUB_BUCKETS
    # Every bucket hit: still bounded.
    f = segments.refine_factor(1_000_000, 4096, 4096, 1_000_000)
    assert f >= 2 and 4096 * f <= segments.MAX_SUB_BUCKETS


class _Fake:
    """Rows in fixed batches, like ``session.Stream``."""

    def __init__(self, rows, size):
        self.batches = [rows[i:i + size] for i in range(0, len(rows), size)]

    async def batch(self):
        return self.batches.pop(0) if self.batches else []


async def _pairs(a, b, size_a=2, size_b=3):
    out = []
    await segments.merge_sorted(_Fake(a, size_a), _Fake(b, size_b), lambda r: r[0],
                                lambda x, y: out.append((x, y)))
    return out


async def test_merge_sorted_pairs_rows_across_batch_boundaries():
    a = [(1, "a"), (2, "a"), (4, "a"), (5, "a"), (9, "a")]
    b = [(2, "b"), (3, "b"), (4, "b"), (9, "b"), (10, "b"), (11, "b")]
    got = await _pairs(a, b)
    keys = [((x or y)[0], x is not None, y is not None) for x, y in got]
    assert keys == [(1, True, False), (2, True, True), (3, False, True), (4, True, True),
                    (5, True, False), (9, True, True), (10, False, True), (11, False, True)]
    for size_a in (1, 2, 7):
        for size_b in (1, 4, 9):
            assert await _pairs(a, b, size_a, size_b) == got
    assert await _pairs([], []) == []
    assert [x for x, _ in await _pairs(a, [])] == a


async def test_merge_sorted_shows_duplicates_and_refuses_disorder():
    got = await _pairs([(1,), (1,), (2,)], [(1,), (2,)])
    assert [((x or y)[0], x is not None, y is not None) for x, y in got] == [
        (1, True, True), (1, True, False), (2, True, True)]
    with pytest.raises(segments.OutOfOrder):
        await _pairs([(1,), (3,), (2,)], [(5,)])
    with pytest.raises(segments.OutOfOrder):
        await _pairs([(9,)], [(1,), (3,), (2,)], 1, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"],
                                                           blacklist_characters="\x00"),
                                             max_size=6)), min_size=1, max_size=20))
def test_text_order_is_the_servers_convert_to_order(pg_db, keys):
    """What the locate query's ORDER BY sorts by, whatever the database's collation."""
    rows = pg_db.execute(
        "SELECT k FROM unnest(%s::text[]) k "
        "ORDER BY pg_catalog.convert_to(k, 'UTF8') NULLS LAST", (keys,))
    assert [r[0] for r in rows] == sorted(keys, key=lambda k: segments.text_order((k,)))
