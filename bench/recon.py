"""Benchmark of the content layer against its floor, on two fresh local PostgreSQL clusters.

    .venv/bin/python -m bench.recon                 # 1M rows; 0, 1, 100, 10000 differences
    .venv/bin/python -m bench.recon --rows 1000000 --rows 5000000 --runs 3

For each table size and number of differences (split over changed / missing / extra rows on
the target), prints the median of ``--runs`` runs: wall time, rows/s, queries issued, rows
transferred to the client, and the floor: a plain server-side full-row hash aggregate
(``sum(hash_record_extended(t.*, 0)::numeric)``) run concurrently on both sides. Targets from
issue #6: clean table <= 1.5x the floor; 100 differences <= 1.3x the clean-table time.

Parallel query is off on both servers, so one table scan is one process as in the issue's
figures, and the two sides do not fight over the cores with their workers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.config.recon import ReconTable  # noqa: E402
from cockpit.recon.content import compare_table  # noqa: E402
from cockpit.recon.session import open_readonly  # noqa: E402
from tests.fixtures.pg import PgFactory  # noqa: E402
from tests.fixtures.recon_data import create_patients, seed_differences  # noqa: E402

SETTINGS = {
    "shared_buffers": "512MB",
    "max_parallel_workers_per_gather": "0",
    "work_mem": "16MB",
}
FLOOR_SQL = "SELECT sum(hash_record_extended(t.*, 0)::numeric) FROM {} t"


def split(diffs: int) -> tuple[int, int, int]:
    """(changed, missing, extra): thirds, the remainder to changed."""
    third = diffs // 3
    return diffs - 2 * third, third, third


async def floor_once(src_dsn: str, dst_dsn: str, dst_table: str) -> float:
    src = await open_readonly(src_dsn, statement_timeout_s=600)
    dst = await open_readonly(dst_dsn, statement_timeout_s=600)
    try:
        start = time.perf_counter()
        await asyncio.gather(
            src.execute(FLOOR_SQL.format("patients")), dst.execute(FLOOR_SQL.format(dst_table))
        )
        return time.perf_counter() - start
    finally:
        await src.close()
        await dst.close()


async def compare_once(src_dsn: str, dst_dsn: str, dst_table: str, buckets: int):
    src = await open_readonly(src_dsn, statement_timeout_s=600)
    dst = await open_readonly(dst_dsn, statement_timeout_s=600)
    try:
        start = time.perf_counter()
        result = await compare_table(
            src,
            dst,
            ReconTable(name="patients", source_table="patients", target_table=dst_table),
            buckets=buckets,
            salt="bench",
        )
        return time.perf_counter() - start, result
    finally:
        await src.close()
        await dst.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="table size (repeatable)")
    parser.add_argument(
        "--diffs", default="0,1,100,10000", help="comma-separated counts; the first is the base"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--buckets", type=int, default=4096, help="config cap on buckets")
    args = parser.parse_args()
    sizes = args.rows or [1_000_000]
    diff_counts = [int(x) for x in args.diffs.split(",")]

    print(
        f"content layer benchmark: median of {args.runs} interleaved runs "
        f"(each run: floor, clean table, every difference case), buckets cap {args.buckets}"
    )
    print(
        f"{'rows':>9} {'diffs':>6} {'wall s':>7} {'rows/s':>10} {'queries':>7} "
        f"{'transferred':>11} {'floor s':>7} {'x floor':>7} {'x clean':>7} found"
    )
    with PgFactory() as factory:
        src_pg = factory.create("bench_src", settings=SETTINGS)
        dst_pg = factory.create("bench_dst", settings=SETTINGS)
        src_dsn, dst_dsn = src_pg.dsn(), dst_pg.dsn()
        for rows in sizes:
            src_pg.execute("DROP TABLE IF EXISTS patients")
            create_patients(src_pg.execute, "patients", rows)
            src_pg.execute("VACUUM ANALYZE patients")
            seeded = {}
            for diffs in diff_counts:
                table = f"patients_d{diffs}"
                dst_pg.execute(f"DROP TABLE IF EXISTS {table}")
                create_patients(dst_pg.execute, table, rows)
                changed, missing, extra = split(diffs)
                seeded[diffs] = seed_differences(
                    dst_pg.execute, table, rows, changed=changed, missing=missing, extra=extra
                )
                dst_pg.execute(f"VACUUM ANALYZE {table}")
            clean_table = f"patients_d{diff_counts[0]}"
            asyncio.run(floor_once(src_dsn, dst_dsn, clean_table))  # warm the caches
            floors: list[float] = []
            walls: dict[int, list[float]] = {d: [] for d in diff_counts}
            results = {}
            for _ in range(args.runs):
                floors.append(asyncio.run(floor_once(src_dsn, dst_dsn, clean_table)))
                for diffs in diff_counts:
                    wall, results[diffs] = asyncio.run(
                        compare_once(src_dsn, dst_dsn, f"patients_d{diffs}", args.buckets)
                    )
                    walls[diffs].append(wall)
            floor = statistics.median(floors)
            base = diff_counts[0]
            for diffs in diff_counts:
                wall = statistics.median(walls[diffs])
                # Per-run ratios, so a load spike from another process hits both terms.
                x_floor = statistics.median(
                    w / f for w, f in zip(walls[diffs], floors, strict=True)
                )
                x_clean = statistics.median(
                    w / c for w, c in zip(walls[diffs], walls[base], strict=True)
                )
                result, want = results[diffs], seeded[diffs]
                found = (result.changed, result.missing, result.extra) == (
                    len(want.changed),
                    len(want.missing),
                    len(want.extra),
                ) and all(f.kind in ("changed", "missing", "extra") for f in result.findings)
                print(
                    f"{rows:>9} {diffs:>6} {wall:7.2f} {rows / wall:10,.0f} "
                    f"{result.queries:>7} {result.rows_transferred:>11,} {floor:7.2f} "
                    f"{x_floor:7.2f} {x_clean:7.2f} {'ok' if found else 'WRONG'}"
                    f"  (buckets {result.buckets}, mismatched {result.mismatched_buckets})",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
