"""What the shared journal table's rules cost, on a fresh local PostgreSQL cluster.

    .venv/bin/python -m bench.journal_table                 # 2000 appends, then read them all
    .venv/bin/python -m bench.journal_table --entries 10000 --data-values 200

Each append is one INSERT and one COMMIT (as a cockpit appends), so the figures include the
chain trigger (chain, canonical form, shape, batch order) and the commit. Prints p50/p95 of
the append latency with the rules and, for the floor, of the same INSERTs into a plain table
of the same columns; then the time to read every line back (``table.read_lines``) and run
the reader rule over them (``lines.parse``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit.journal import lines, table  # noqa: E402
from cockpit.journal.entry import GENESIS, Actor, build  # noqa: E402
from tests.fixtures.pg import PgFactory  # noqa: E402

ACTOR = Actor("ann", "ann", "jump1", "10.0.0.7", 4242, "s-1")


def _entries(n: int, values: int) -> list[tuple[int, str, str, str]]:
    out, prev = [], GENESIS
    data = {"gates": {f"gate_{i}": {"status": "GO", "value": i * 1.25, "age_s": 0.5}
                      for i in range(max(1, values // 3))}}
    for seq in range(1, n + 1):
        e = build(seq, 1_764_000_000.0 + seq, "bench", ACTOR, "step.confirm", subject=f"B{seq}",
                  reason_code=None, note="confirmed é", data=data, prev=prev)
        out.append((seq, prev, e.hash, e.line().decode().rstrip("\n")))
        prev = e.hash
    return out


def _append_all(conn, name: str, rows) -> list[float]:
    took = []
    insert = table.sql(table.INSERT_SQL, name)
    for row in rows:
        t = time.perf_counter()
        conn.execute(insert, ("bench", *row))
        conn.commit()
        took.append(time.perf_counter() - t)
    return took


def _pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * p))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--data-values", type=int, default=30, help="about this many JSON values in each entry's data")
    args = ap.parse_args()
    rows = _entries(args.entries, args.data_values)
    print(f"{args.entries} entries, {statistics.mean(len(r[3]) for r in rows):.0f} bytes a line on average")
    with PgFactory() as factory:
        cluster = factory.create("bench")
        with cluster.connect() as conn:
            for stmt in table.create_sql("cockpit_journal"):
                conn.execute(stmt)  # type: ignore[arg-type]
            conn.execute("CREATE TABLE plain (cutover text, seq bigint, prev text, hash text, "
                         "line text, PRIMARY KEY (cutover, seq))")
            conn.commit()
            ruled = _append_all(conn, "cockpit_journal", rows)
            plain = _append_all(conn, "plain", rows)
            print(f"append with the rules: p50 {_pct(ruled, .5):.2f} ms  p95 {_pct(ruled, .95):.2f} ms")
            print(f"append, plain table:   p50 {_pct(plain, .5):.2f} ms  p95 {_pct(plain, .95):.2f} ms")
            t = time.perf_counter()
            got = table.read_lines(conn, "cockpit_journal", "bench")
            t_read = time.perf_counter() - t
            t = time.perf_counter()
            parsed = lines.parse(table.as_journal(got), cutover="bench")
            t_parse = time.perf_counter() - t
            assert parsed.damage is None and len(parsed.entries) == args.entries
            print(f"read_lines {len(got)} rows: {t_read * 1000:.0f} ms; lines.parse: {t_parse * 1000:.0f} ms")


if __name__ == "__main__":
    main()
