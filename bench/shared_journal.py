"""Shared journal: latency from an action on one cockpit to the refreshed state on another.

Two cockpit sessions (``cockpit.session.open_session`` + ``Operations``, as the TUI uses them)
on one plan with ``cutover.shared_journal``, on a throwaway PostgreSQL on loopback. Cockpit A
records a note (``ops.note``: INSERT + COMMIT, then its local copy's write + fsync); cockpit B
hears the NOTIFY on its follower thread, reads the row, checks it, appends it to its own local
copy (write + fsync) and re-folds its replayed state (``ops.state``) in the ``on_entries``
callback. Measured: action start on A -> B's state holding the entry; and A's own round trip.

    python bench/shared_journal.py [--actions 500] [--open 100000]

``--open N`` also times opening a shared journal of N entries: from a full local copy (the
witness check and nothing to catch up) and from none (every row read from the table); and
``open_session`` to the TUI's first full screen on it (``bench/journal_open.py``'s measure),
the first time (no saved folds: every entry folded, then saved) and after that (median of 3:
the folds the last session saved resumed, the normal case).

The test cluster runs with fsync off (tests/fixtures/pg.py): the database's flush is not in
these figures; the local copies' fsyncs are.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit.journal import table  # noqa: E402
from cockpit.session import open_session  # noqa: E402
from tests.fixtures.pg import PgFactory  # noqa: E402
from tests.test_journal_shared import make_shared_plan  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def time_open(factory, folder: Path, n: int, night: bool) -> tuple[float, float, float, float]:
    """``night``: the local copy holds a night as ``bench/journal_open.py`` makes it (gate
    changes, notes, runs, confirmations, reconciliation batches); otherwise n notes (the
    saved folds' worst case: every entry is one more note in the replayed state)."""
    from journal_open import (  # bench/ is on sys.path (this script's folder)
        _first_screen,
        make_night,
    )

    from cockpit.journal import Actor, Journal
    from cockpit.journal.shared import SharedJournal

    cluster = factory.create("bench_night" if night else "bench_notes")
    db = cluster.create_database()
    for stmt in table.create_sql("cockpit_journal"):
        cluster.execute(stmt, dbname=db)
    plan = make_shared_plan(folder / "open", cluster.dsn(db))
    copy = folder / "open" / "full.jsonl"
    if night:
        make_night(copy, plan, n)
        Journal.open(copy, cutover_id=plan.cutover.id).close()  # its writer's checkpoint
    else:
        j = Journal.open(copy, cutover_id=plan.cutover.id)
        who = Actor.current("lead1")
        for start in range(0, n, 1000):
            j.append_many(who, [dict(action="note", note=f"entry {i}")
                                for i in range(start, min(n, start + 1000))])
        j.close()
    entries = Journal.open(copy, cutover_id=plan.cutover.id, readonly=True).entries
    copy_sql = "COPY cockpit_journal (cutover, seq, prev, hash, line) FROM STDIN"
    with cluster.connect(db) as conn, conn.cursor() as cur, cur.copy(copy_sql) as cp:
        for e, raw in zip(entries, copy.read_bytes().splitlines(), strict=True):
            cp.write_row((e.cutover, e.seq, e.prev, e.hash, raw.decode()))
    t0 = time.perf_counter()
    sj = SharedJournal.open(plan, copy)
    full = time.perf_counter() - t0
    assert len(sj.entries) == n and not sj.readonly, sj.readonly_reason
    sj.close()
    t0 = time.perf_counter()
    sj = SharedJournal.open(plan, folder / "open" / "empty.jsonl")
    empty = time.perf_counter() - t0
    assert len(sj.entries) == n and not sj.readonly, sj.readonly_reason
    sj.close()
    first = asyncio.run(_first_screen(plan, copy, "lead1"))[0]
    later = statistics.median(asyncio.run(_first_screen(plan, copy, "lead1"))[0] for _ in range(3))
    return full, empty, first, later


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=500)
    ap.add_argument("--open", type=int, default=0, metavar="N")
    args = ap.parse_args()
    with PgFactory() as factory, tempfile.TemporaryDirectory() as tmp:
        cluster = factory.create("bench")
        db = cluster.create_database()
        for stmt in table.create_sql("cockpit_journal"):
            cluster.execute(stmt, dbname=db)
        plan = make_shared_plan(Path(tmp), cluster.dsn(db))
        a = open_session(plan, Path(tmp) / "a.jsonl", "lead1")
        b = open_session(plan, Path(tmp) / "b.jsonl", "lead2")
        seen: dict[int, float] = {}
        cond = threading.Condition()

        def refreshed() -> None:
            b.ops.state  # noqa: B018 -- the refreshed state, as a view would draw it
            now = time.perf_counter()
            with cond:
                seen.setdefault(b.journal.head[0], now)
                cond.notify_all()

        b.journal.on_entries(refreshed)
        to_other: list[float] = []
        own: list[float] = []
        try:
            for i in range(args.actions):
                t0 = time.perf_counter()
                entry = a.ops.note(f"bench action {i}")
                own.append(time.perf_counter() - t0)
                with cond:
                    if not cond.wait_for(lambda e=entry: any(s >= e.seq for s in seen), 30):
                        print(f"entry {entry.seq} never reached the other cockpit", file=sys.stderr)
                        return 1
                    at = min(t for s, t in seen.items() if s >= entry.seq)
                    seen.clear()
                to_other.append(at - t0)
        finally:
            a.close()
            b.close()
        opened = ([time_open(factory, Path(tmp) / kind, args.open, kind == "night")
                   for kind in ("night", "notes")] if args.open else None)
    ms = 1000.0
    if opened is not None:
        for kind, (full, empty, first, later) in zip(("a night's", "notes only"), opened,
                                                      strict=True):
            print(f"open a {args.open}-entry shared journal ({kind}): from its local copy "
                  f"{full:.2f} s, with no local copy (all rows from the table) {empty:.2f} s")
            print(f"  open_session to the first full screen: {later:.3f} s with the folds the "
                  f"last session saved (median of 3), {first:.3f} s the first time (none saved)")
    print(f"shared journal, {args.actions} actions, loopback, 2 cockpits")
    print(f"  action on A -> refreshed state on B: p50 {statistics.median(to_other) * ms:.1f} ms, "
          f"p95 {pct(to_other, 95) * ms:.1f} ms, max {max(to_other) * ms:.1f} ms")
    print(f"  action on A acknowledged on A:       p50 {statistics.median(own) * ms:.1f} ms, "
          f"p95 {pct(own, 95) * ms:.1f} ms, max {max(own) * ms:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
