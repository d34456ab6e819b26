"""Benchmark of the content layer against its floor, on two fresh local PostgreSQL clusters.

    .venv/bin/python -m bench.recon                 # 1M rows; 0, 1, 100, 10000 differences
    .venv/bin/python -m bench.recon --rows 1000000 --rows 5000000 --runs 3

For each table size and number of differences (split over changed / missing / extra rows and
emails flipped between NULL and '' on the target), prints the median of ``--runs`` runs: wall time, rows/s, queries issued, rows
transferred to the client, and the floor: a plain server-side full-row hash aggregate
(``sum(hash_record_extended(t.*, 0)::numeric)``) run concurrently on both sides. Targets from
issue #6: clean table <= 1.5x the floor; 100 differences <= 1.3x the clean-table time.

Every comparison runs in a fresh process (``--one``: imports, two sessions, one
``compare_table``), which also gives its peak RSS, so memory that grows with the number of
differences shows. ``--tree DIR`` measures another source tree the same way, interleaved run
by run on the same data (before/after figures on one machine under one load):

    git archive HEAD~3 | tar -x -C /tmp/before && cp bench/recon.py /tmp/before/bench/
    .venv/bin/python -m bench.recon --diffs 0,10000,100000 --tree /tmp/before

``--lab DIR`` measures the content layer on a running lab instead (``cockpit lab up``): each
table of the lab plan's reconciliation, legacy against cloud, through the plan's read-only
DSNs, against the same floor; inject a fault first (``cockpit lab fault corrupt-rows``) to
see the cost of differences:

    .venv/bin/python -m bench.recon --lab .cockpit-lab --runs 5

Parallel query is off on both servers, so one table scan is one process as in the issue's
figures, and the two sides do not fight over the cores with their workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def split(diffs: int) -> tuple[int, int, int, int]:
    """(changed, missing, extra, NULL <-> '' flips): quarters, the remainder to changed."""
    quarter = diffs // 4
    return diffs - 3 * quarter, quarter, quarter, quarter


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


def one(src_dsn: str, dst_dsn: str, table: str, buckets: int) -> int:
    """``--one``: a single comparison in this (fresh) process; prints its figures as JSON:
    wall time, peak RSS (``VmHWM``: this process's own high-water mark, which unlike
    ``ru_maxrss`` is not inherited from the parent across fork and exec) and the keys found."""
    wall, result = asyncio.run(compare_once(src_dsn, dst_dsn, table, buckets))
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])
    found = {kind: sorted(f.keys[0] for f in result.findings if f.kind == kind)
             for kind in ("changed", "missing", "extra")}
    print(json.dumps({"wall": wall, "peak_mb": peak_kib / 1024, "queries": result.queries,
                      "transferred": result.rows_transferred, "findings": len(result.findings),
                      "found": found, "buckets": result.buckets,
                      "mismatched": result.mismatched_buckets}))
    return 0


def measure(tree: Path, src_dsn: str, dst_dsn: str, table: str, buckets: int) -> dict:
    """One comparison by ``tree``'s code (its ``bench/recon.py --one``) in a fresh process."""
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / "recon.py"), "--one", src_dsn, dst_dsn, table,
         str(buckets)], cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        return one(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="table size (repeatable)")
    parser.add_argument(
        "--diffs", default="0,1,100,10000", help="comma-separated counts; the first is the base"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--buckets", type=int, default=4096, help="config cap on buckets")
    parser.add_argument("--tree", action="append", type=Path, default=[],
                        help="also measure this source tree (e.g. an export of the previous "
                             "commit holding this script), interleaved with this one")
    parser.add_argument("--lab", type=Path, metavar="DIR",
                        help="measure the tables of a running lab (cockpit lab up) instead")
    args = parser.parse_args()
    if args.lab is not None:
        return lab_bench(args.lab, args.runs, args.buckets)
    sizes = args.rows or [1_000_000]
    diff_counts = [int(x) for x in args.diffs.split(",")]
    trees = [ROOT, *(t.resolve() for t in args.tree)]

    print(
        f"content layer benchmark: median of {args.runs} interleaved runs "
        f"(each run: floor, then every difference case by every tree), buckets cap {args.buckets}"
    )
    print(
        f"{'tree':<10} {'rows':>9} {'diffs':>6} {'wall s':>7} {'rows/s':>10} {'queries':>7} "
        f"{'transferred':>11} {'floor s':>7} {'x floor':>7} {'x clean':>7} {'peak MB':>8} found"
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
                changed, missing, extra, flips = split(diffs)
                seeded[diffs] = seed_differences(
                    dst_pg.execute, table, rows, changed=changed, missing=missing, extra=extra,
                    null_empty=flips,
                )
                dst_pg.execute(f"VACUUM ANALYZE {table}")
            clean_table = f"patients_d{diff_counts[0]}"
            asyncio.run(floor_once(src_dsn, dst_dsn, clean_table))  # warm the caches
            floors: list[float] = []
            got: dict[tuple[Path, int], list[dict]] = {}
            for _ in range(args.runs):
                floors.append(asyncio.run(floor_once(src_dsn, dst_dsn, clean_table)))
                for diffs in diff_counts:
                    for tree in trees:
                        got.setdefault((tree, diffs), []).append(
                            measure(tree, src_dsn, dst_dsn, f"patients_d{diffs}", args.buckets))
            floor = statistics.median(floors)
            base = diff_counts[0]
            for tree in trees:
                for diffs in diff_counts:
                    runs = got[(tree, diffs)]
                    walls = [r["wall"] for r in runs]
                    wall = statistics.median(walls)
                    # Per-run ratios, so a load spike from another process hits both terms.
                    x_floor = statistics.median(w / f for w, f in zip(walls, floors, strict=True))
                    x_clean = statistics.median(
                        w / c["wall"] for w, c in zip(walls, got[(tree, base)], strict=True))
                    want = seeded[diffs]
                    last = runs[-1]
                    # Every seeded key, exactly, and nothing else.
                    found = {k: set(v) for k, v in last["found"].items()} == {
                        "changed": set(want.changed), "missing": set(want.missing),
                        "extra": set(want.extra)} and last["findings"] == diffs
                    name = "this" if tree == ROOT else tree.name
                    print(
                        f"{name[:10]:<10} {rows:>9} {diffs:>6} {wall:7.2f} {rows / wall:10,.0f} "
                        f"{last['queries']:>7} {last['transferred']:>11,} {floor:7.2f} "
                        f"{x_floor:7.2f} {x_clean:7.2f} "
                        f"{max(r['peak_mb'] for r in runs):8.1f} {'ok' if found else 'WRONG'}"
                        f"  (buckets {last['buckets']}, mismatched {last['mismatched']})",
                        flush=True,
                    )
    return 0


async def _lab_table(src_dsn: str, dst_dsn: str, table: ReconTable, buckets: int):
    src = await open_readonly(src_dsn, statement_timeout_s=600)
    dst = await open_readonly(dst_dsn, statement_timeout_s=600)
    try:
        start = time.perf_counter()
        await asyncio.gather(src.execute(FLOOR_SQL.format(table.source_table)),
                             dst.execute(FLOOR_SQL.format(table.target_table)))
        floor = time.perf_counter() - start
        start = time.perf_counter()
        result = await compare_table(src, dst, table, buckets=buckets, salt="bench")
        return time.perf_counter() - start, floor, result
    finally:
        await src.close()
        await dst.close()


def lab_bench(lab_dir: Path, runs: int, buckets: int) -> int:
    """Each reconciliation table of a running lab, median of ``runs``; a row per table."""
    from cockpit.config import PlanError, load_plan
    from cockpit.lab.control import running_lab
    from cockpit.lab.state import LabError

    try:
        lab = running_lab(lab_dir)
        plan, _ = load_plan(lab.plan_path)
    except (LabError, PlanError) as exc:
        print(f"bench.recon: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    recon = plan.reconciliation
    assert recon is not None
    src_dsn = plan.sources[recon.source].dsn  # type: ignore[union-attr]
    dst_dsn = plan.sources[recon.target].dsn  # type: ignore[union-attr]
    print(f"content layer on lab {lab.dir} ({lab.patients} patients, faults: "
          f"{', '.join(sorted(lab.faults)) or 'none'}): median of {runs} runs")
    print(f"{'table':<20} {'rows':>8} {'wall s':>7} {'rows/s':>10} {'queries':>7} "
          f"{'transferred':>11} {'floor s':>7} {'x floor':>7} {'findings':>8}")
    for table in recon.tables:
        got = [asyncio.run(_lab_table(src_dsn, dst_dsn, table, min(buckets, recon.buckets)))
               for _ in range(runs)]
        wall = statistics.median(w for w, _, _ in got)
        floor = statistics.median(f for _, f, _ in got)
        result = got[-1][2]
        rows = max(result.source_rows or 0, result.target_rows or 0)
        print(f"{table.name:<20} {rows:>8,} {wall:7.3f} {rows / wall if wall else 0:10,.0f} "
              f"{result.queries:>7} {result.rows_transferred:>11,} {floor:7.3f} "
              f"{wall / floor if floor else 0:7.2f} {len(result.findings):>8}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
