"""What local mode costs, on a fresh local PostgreSQL cluster: a shared journal of N entries,
the server stopped, the cockpit switched to local mode, M notes made locally, the server
started again, the merge.

    .venv/bin/python -m bench.local_merge                    # 20,000 shared entries, 200 local
    .venv/bin/python -m bench.local_merge --shared 100000 --local 500

Prints: the switch (``go_local`` including the first replayed state, which folds the shared
entries once for the overlay), local appends p50/p95 (one write and one fsync each), the
merge rule alone (``replay.local_conflicts``: a fresh fold of everything; and as the cockpit
runs it, ``Operations.merge_conflicts``, from a copy of the live fold), and the time from
the server's start to the merge committed (this one includes the reconnect backoff, up to
5 s, so it is an upper bound, not the merge's own cost).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit.config import load_plan  # noqa: E402
from cockpit.journal import table  # noqa: E402
from cockpit.journal.entry import GENESIS, Actor, build  # noqa: E402
from cockpit.runbook.replay import local_conflicts  # noqa: E402
from cockpit.session import open_session  # noqa: E402
from tests.fixtures.pg import PgFactory  # noqa: E402
from tests.test_local_mode import local_plan_text  # noqa: E402

ACTOR = Actor("lead2", "lead2", "jump1", None, 4242, "s-1")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def _seed(conn, n: int, copy: Path) -> None:
    """N notes straight into the table (triggers off while seeding, on again after) and the
    same lines into the local copy, so the cockpit opens from it."""
    rows, lines, prev = [], [], GENESIS
    for seq in range(1, n + 1):
        e = build(seq, 1_764_000_000.0 + seq, "t-cut", ACTOR, "note", subject=None,
                  reason_code=None, note=f"shared note {seq}", data=None, prev=prev)
        line = e.line()
        rows.append(("t-cut", seq, prev, e.hash, line.decode().rstrip("\n")))
        lines.append(line)
        prev = e.hash
    conn.execute("ALTER TABLE cockpit_journal DISABLE TRIGGER USER")
    with conn.cursor() as cur:
        cur.executemany(table.sql(table.INSERT_SQL, "cockpit_journal"), rows)
    conn.execute("ALTER TABLE cockpit_journal ENABLE TRIGGER USER")
    conn.commit()
    copy.write_bytes(b"".join(lines))


def _wait(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.002)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=int, default=20_000)
    ap.add_argument("--local", type=int, default=200)
    args = ap.parse_args()
    with PgFactory() as factory, tempfile.TemporaryDirectory() as tmp:
        cluster = factory.create("bench")
        with cluster.connect(autocommit=False) as conn:
            for stmt in table.create_sql("cockpit_journal"):
                conn.execute(stmt)  # type: ignore[arg-type]
            conn.commit()
            folder = Path(tmp)
            (folder / "plan.yaml").write_text(local_plan_text(cluster.dsn()))
            plan, _ = load_plan(folder / "plan.yaml", for_run=False)
            copy = folder / "copy.jsonl"
            _seed(conn, args.shared, copy)
        s = open_session(plan, copy, "lead1")
        try:
            s.ops.state  # noqa: B018 - the shared fold, before the outage
            cluster.stop()
            _wait(lambda: s.journal.link() is not None, "the outage to be noticed")
            t = time.perf_counter()
            s.ops.go_local("KNOWN_ISSUE", "bench")
            s.ops.state  # noqa: B018
            t_switch = time.perf_counter() - t
            took = []
            for k in range(args.local):
                t = time.perf_counter()
                s.ops.note(f"local note {k}")
                took.append(time.perf_counter() - t)
            local = list(s.journal.local_entries[1:])
            t = time.perf_counter()
            full = local_conflicts(plan, s.journal.entries, local)
            t_rule = time.perf_counter() - t
            t = time.perf_counter()
            assert s.ops.merge_conflicts(s.journal.entries, local) == full
            t_live = time.perf_counter() - t
            t = time.perf_counter()
            cluster.start()
            _wait(lambda: s.journal.local_mode is None and s.journal.link() is None, "the merge")
            t_merge = time.perf_counter() - t
            assert sum(1 for e in s.journal.entries if e.action == "local.merge") == 1
        finally:
            s.close()
    print(f"{args.shared} shared entries, {args.local} local notes")
    print(f"go_local + first state (overlay fold): {t_switch * 1000:.0f} ms")
    print(f"local append: p50 {_pct(took, .5):.2f} ms  p95 {_pct(took, .95):.2f} ms")
    print(f"merge rule, a fresh fold of every entry: {t_rule * 1000:.0f} ms")
    print(f"merge rule as the cockpit runs it (from the live fold): {t_live * 1000:.1f} ms")
    print(f"server start -> merge committed (includes reconnect backoff): {t_merge:.2f} s")
    print(f"mean local append {statistics.mean(took) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
