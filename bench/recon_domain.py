"""Benchmark of the per-parent count domain check (children per parent key, both sides).

    .venv/bin/python -m bench.recon_domain                        # 1M children; 0, 10, 1000 moved
    .venv/bin/python -m bench.recon_domain --rows 5000000 --runs 3

An ``encounters``-like child table with ``--rows`` rows over 0.75 * rows patients (so most
patients have one encounter, a quarter two) on two fresh local clusters; on the target,
``moved`` encounters are moved to the next patient (each changes two patients' counts). Prints
the median of ``--runs`` runs of ``domain.run_check`` for the check: wall time, queries, rows
transferred to the client, findings (capped at the layer's per-check limit), and the peak RSS
of a fresh process running one check (``--one``).

The same script runs against an older tree (``PYTHONPATH=<tree> python <tree>/bench/...``):
it only uses ``run_check``, ``open_readonly`` and ``snapshot``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.config.recon import DomainCheck, Reconciliation, ReconTable  # noqa: E402
from cockpit.recon.domain import run_check  # noqa: E402
from cockpit.recon.session import open_readonly, snapshot  # noqa: E402
from tests.fixtures.pg import PgFactory  # noqa: E402

SETTINGS = {"shared_buffers": "512MB", "max_parallel_workers_per_gather": "0", "work_mem": "16MB"}
DDL = ("CREATE TABLE {t} (encounter_id bigint PRIMARY KEY, patient_id bigint NOT NULL, "
       "facility_id text, started_at timestamptz)")
FILL = ("INSERT INTO {t} SELECT g, 1 + (g % {parents}), 'FAC-' || (g % 7), "
        "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' "
        "FROM generate_series(1, {rows}) g")
CHECK = DomainCheck(id="encounters_per_patient", check="per_parent_count", table="encounters",
                    parent_key="patient_id", severity="critical")
SECRET = b"bench-secret-bench-secret-bench!"


def recon_for(table: str) -> Reconciliation:
    return Reconciliation(source="a", target="b", tables=[
        ReconTable(name="encounters", source_table="encounters", target_table=table,
                   key=["encounter_id"])], domain=[CHECK])


async def check_once(src_dsn: str, dst_dsn: str, table: str):
    src = await open_readonly(src_dsn, statement_timeout_s=600)
    dst = await open_readonly(dst_dsn, statement_timeout_s=600)
    try:
        start = time.perf_counter()
        async with snapshot(src), snapshot(dst):
            result = await run_check(CHECK, {"source": src, "target": dst}, recon_for(table),
                                     SECRET)
        return time.perf_counter() - start, result
    finally:
        await src.close()
        await dst.close()


def one(src_dsn: str, dst_dsn: str, table: str) -> int:
    wall, result = asyncio.run(check_once(src_dsn, dst_dsn, table))
    print(json.dumps({"wall": wall, "findings": len(result.findings),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        return one(*sys.argv[2:5])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="child rows (repeatable)")
    parser.add_argument("--moved", default="0,10,1000", help="comma-separated counts")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    moved_counts = [int(x) for x in args.moved.split(",")]
    print(f"per-parent count benchmark: median of {args.runs} runs")
    print(f"{'rows':>9} {'moved':>6} {'wall s':>7} {'queries':>7} {'transferred':>11} "
          f"{'findings':>8} {'peak MB':>8}")
    with PgFactory() as factory:
        src_pg = factory.create("bench_src", settings=SETTINGS)
        dst_pg = factory.create("bench_dst", settings=SETTINGS)
        for rows in args.rows or [1_000_000]:
            parents = max(1, rows * 3 // 4)
            src_pg.execute("DROP TABLE IF EXISTS encounters")
            src_pg.execute(DDL.format(t="encounters"))
            src_pg.execute(FILL.format(t="encounters", rows=rows, parents=parents))
            src_pg.execute("VACUUM ANALYZE encounters")
            for moved in moved_counts:
                table = f"encounters_m{moved}"
                dst_pg.execute(f"DROP TABLE IF EXISTS {table}")
                dst_pg.execute(DDL.format(t=table))
                dst_pg.execute(FILL.format(t=table, rows=rows, parents=parents))
                if moved:
                    step = max(1, rows // moved)
                    dst_pg.execute(f"UPDATE {table} SET patient_id = patient_id + 1 "
                                   f"WHERE encounter_id % {step} = 0 AND encounter_id <= "
                                   f"{step * moved}")
                dst_pg.execute(f"VACUUM ANALYZE {table}")
            asyncio.run(check_once(src_pg.dsn(), dst_pg.dsn(), f"encounters_m{moved_counts[0]}"))
            for moved in moved_counts:
                table = f"encounters_m{moved}"
                walls, result = [], None
                for _ in range(args.runs):
                    wall, result = asyncio.run(check_once(src_pg.dsn(), dst_pg.dsn(), table))
                    walls.append(wall)
                out = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--one", src_pg.dsn(),
                     dst_pg.dsn(), table], capture_output=True, text=True, check=True)
                peak = json.loads(out.stdout)["peak_mb"]
                print(f"{rows:>9} {moved:>6} {statistics.median(walls):7.2f} "
                      f"{result.queries:>7} {result.rows_transferred:>11,} "
                      f"{len(result.findings):>8} {peak:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
