"""Pure bookkeeping for the content layer: bucket counts, heap chunks and row diffs.

Nothing here talks to a database, so each rule can be tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

ROWS_PER_BUCKET = 200
GUESS_ROWS_PER_PAGE = 60
CHUNK_BYTES = 128 * 1024 * 1024
MAX_CHUNKS = 8
# Refinement of mismatched buckets (see ``refine_factor``). Re-reading a row to the client
# costs about 20x what computing its key hash in a filtered scan does, measured; a refinement
# pass is that filtered scan, so it pays once the rows to fetch exceed a 16th of the table.
REFINE_MIN_ROWS = 20_000
REFINE_TABLE_SHARE = 16
# A sub-bucket's sums row costs about a quarter of a fetched (key, hash) row: balancing the
# two gives sub-buckets of sqrt(rows / (4 * differences)) rows.
SUMS_PER_FETCHED_ROW = 4
MAX_SUB_BUCKETS = 1_000_000

Key = tuple[str | None, ...]
BucketSums = dict[int, tuple[int, int]]  # bucket -> (row count, sum of row hashes)


class Batches(Protocol):
    """Rows of one side in batches (``session.Stream``); ``[]`` once there are no more."""

    async def batch(self) -> list[tuple]: ...


class OutOfOrder(ValueError):
    """A side's rows did not arrive in the order asked for; the merge cannot be trusted."""


async def merge_sorted(
    src: Batches,
    dst: Batches,
    order: Callable[[tuple], Any],
    pair: Callable[[tuple | None, tuple | None], None],
) -> None:
    """Call ``pair(source row, target row)`` for rows with equal ``order(row)`` (None for the
    side that lacks it), from two streams each sorted by ``order``, holding one batch per side:
    memory stays bounded however many rows or differences there are. A row whose order key
    equals the one before it on the same side comes as its own pair, so a caller sees
    duplicates; one that is smaller raises ``OutOfOrder``. The loop awaits only to refill a
    batch (a row costs no coroutine switch)."""
    a_rows, b_rows = await src.batch(), await dst.batch()
    a_keys, b_keys = [order(r) for r in a_rows], [order(r) for r in b_rows]
    i = j = 0
    last_a = last_b = None
    while True:
        if i == len(a_rows) and a_rows:
            a_rows = await src.batch()
            a_keys, i = [order(r) for r in a_rows], 0
        if j == len(b_rows) and b_rows:
            b_rows = await dst.batch()
            b_keys, j = [order(r) for r in b_rows], 0
        na, nb = len(a_rows), len(b_rows)
        if not na and not nb:
            return
        # Within both current batches: no awaiting.
        while i < na and j < nb:
            ka, kb = a_keys[i], b_keys[j]
            if ka < kb:
                if last_a is not None and ka < last_a:
                    raise OutOfOrder("source rows arrived out of order")
                last_a = ka
                pair(a_rows[i], None)
                i += 1
            elif kb < ka:
                if last_b is not None and kb < last_b:
                    raise OutOfOrder("target rows arrived out of order")
                last_b = kb
                pair(None, b_rows[j])
                j += 1
            else:
                if (last_a is not None and ka < last_a) or (last_b is not None and kb < last_b):
                    raise OutOfOrder("rows arrived out of order")
                last_a, last_b = ka, kb
                pair(a_rows[i], b_rows[j])
                i += 1
                j += 1
        if not nb:  # the target is done: the rest of the source batch
            for k in range(i, na):
                if last_a is not None and a_keys[k] < last_a:
                    raise OutOfOrder("source rows arrived out of order")
                last_a = a_keys[k]
                pair(a_rows[k], None)
            i = na
        elif not na:
            for k in range(j, nb):
                if last_b is not None and b_keys[k] < last_b:
                    raise OutOfOrder("target rows arrived out of order")
                last_b = b_keys[k]
                pair(None, b_rows[k])
            j = nb


def text_order(key: Sequence[str | None]) -> tuple:
    """Python's order of ``ORDER BY convert_to(part, 'UTF8') NULLS LAST`` over key parts:
    bytewise on UTF-8 whatever the database's encoding or collation."""
    return tuple((v is None, b"" if v is None else v.encode("utf-8")) for v in key)


def choose_buckets(estimated_rows: float, cap: int, pages: int = 0) -> int:
    """About ``ROWS_PER_BUCKET`` rows per bucket, at most ``cap`` buckets, at least one.

    A table never analysed (``reltuples`` -1) is estimated from its size at
    ``GUESS_ROWS_PER_PAGE``; a wrong guess costs a little speed, never correctness.
    """
    if estimated_rows < 0:
        estimated_rows = pages * GUESS_ROWS_PER_PAGE
    return max(1, min(cap, math.ceil(estimated_rows / ROWS_PER_BUCKET)))


def refine_factor(expected_rows: int, mismatched: int, buckets: int, table_rows: int) -> int:
    """Sub-buckets per mismatched bucket for a refinement pass, or 1 for none.

    The bucket pass keeps few buckets because a hash aggregate over many groups costs the clean
    table dearly (cache misses, then spilling past ``work_mem``: 4,096 -> 262,144 buckets took
    a million-row pass from 0.47 s to 1.1 s). So differences are located in two steps when the
    mismatched buckets hold many rows: one filtered scan sums only their rows into
    ``factor`` sub-buckets each, then only mismatched sub-buckets are fetched. The fetched rows
    then grow with the number of differences, not with the table.
    """
    if mismatched <= 0 or expected_rows < REFINE_MIN_ROWS:
        return 1
    if expected_rows * REFINE_TABLE_SHARE < table_rows:
        return 1
    if mismatched < buckets:
        # Differences thrown into buckets at random: expected distinct buckets hit, inverted.
        diffs = -buckets * math.log1p(-mismatched / buckets)
    else:
        diffs = expected_rows / 2  # every bucket hit: at least this many, say
    rows_per_sub = max(1.0, math.sqrt(expected_rows / (SUMS_PER_FETCHED_ROW * max(diffs, 1.0))))
    factor = math.ceil(expected_rows / mismatched / rows_per_sub)
    factor = min(factor, max(1, MAX_SUB_BUCKETS // mismatched))
    return factor if factor >= 2 else 1


def heap_chunks(
    pages: int, chunkable: bool, block_size: int = 8192
) -> list[tuple[int | None, int | None]]:
    """Page ranges [lo, hi) covering the whole heap, for TID range scans.

    Only for progress: each chunk is one query, so the bucket pass reports after each. The
    first chunk is open below and the last open above, so pages added after the size was read
    are still covered (the snapshot decides which rows are seen, not the page count).
    """
    if not chunkable or pages <= 0:
        return [(None, None)]
    n = max(1, min(MAX_CHUNKS, math.ceil(pages * block_size / CHUNK_BYTES)))
    step = math.ceil(pages / n)
    cuts = list(range(step, pages, step))[: n - 1]
    bounds = [None, *cuts, None]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def add_sums(into: BucketSums, rows: Iterable[tuple[int, int, int]]) -> int:
    """Fold (bucket, count, sum) rows into ``into``; returns the rows counted."""
    total = 0
    for bucket, count, total_hash in rows:
        c, h = into.get(bucket, (0, 0))
        into[bucket] = (c + count, h + int(total_hash))
        total += count
    return total


def mismatched(src: BucketSums, dst: BucketSums) -> list[int]:
    """Buckets whose row count or hash sum differ (a bucket empty on one side included)."""
    return sorted(b for b in src.keys() | dst.keys() if src.get(b, (0, 0)) != dst.get(b, (0, 0)))


@dataclass
class RowDiff:
    missing: list[Key] = field(default_factory=list)
    extra: list[Key] = field(default_factory=list)
    changed: list[tuple[Key, tuple[int, ...]]] = field(default_factory=list)  # column indexes


def index_rows(rows: Iterable[tuple], key_len: int) -> tuple[dict[Key, tuple], int]:
    """key -> (row hash, column hashes...); counts keys seen more than once."""
    out: dict[Key, tuple] = {}
    dups = 0
    for row in rows:
        key = tuple(row[:key_len])
        if key in out:
            dups += 1
        out[key] = tuple(row[key_len:])
    return out, dups


def differing(a: Sequence, b: Sequence) -> tuple[int, ...]:
    return tuple(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)


def sort_key(key: Key) -> tuple:
    # Stable report order; NULL key parts first. Codepoint order, like COLLATE "C".
    return tuple((v is not None, v or "") for v in key)
