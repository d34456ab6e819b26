"""Signal history benchmark: 24 hours of 200 signals into one history file.

    .venv/bin/python bench/history.py [--signals N] [--hours H] [--every S] [--runs N] [--noisy]

Each signal is read every ``--every`` seconds (default 10 s, so 1,728,000 readings for the
default day) and the history is flushed every 30 s of the simulated clock, as the recorder
does. The default mix is what plans read: 80 counts (integers that drift), 40 true/false
health checks, 80 measurements with three decimals (lag, latency); one reading in 200 is an
error. ``--noisy`` makes every measurement a full-precision random float (the worst case for
the size). Prints the file size and the write cost per reading (median of the runs), and the
cost of reading one signal's whole day back. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.history.store import History  # noqa: E402

FLUSH_S = 30.0
T0 = 1_800_000_000.0


def values(n: int, noisy: bool, rnd: random.Random):
    kinds = []
    for i in range(n):
        share = i * 10 // n  # 4/10 counts, 2/10 booleans, 4/10 measurements
        kinds.append("count" if share < 4 else "bool" if share < 6 else "measure")
    state = [rnd.randint(0, 500) for _ in range(n)]

    def value(i: int):
        kind = kinds[i]
        if kind == "count":
            state[i] = max(0, state[i] + rnd.choice((-1, 0, 0, 0, 1)))
            return state[i]
        if kind == "bool":
            return rnd.random() > 0.01
        if noisy:
            return rnd.random() * 1000.0
        return round(rnd.lognormvariate(0.0, 1.0), 3)

    return value


def run(path: Path, signals: int, hours: float, every: float,
        noisy: bool) -> tuple[float, float, list[float], int]:
    """(seconds per reading recording, seconds per reading flushing, each flush's seconds,
    readings); the values themselves are drawn outside the timed parts."""
    rnd = random.Random(7)
    value = values(signals, noisy, rnd)
    names = [f"signal.{i:03d}.value" for i in range(signals)]
    h = History.open(path)
    steps = int(hours * 3600 / every)
    readings = 0
    next_flush = T0 + FLUSH_S
    recording, flushes = 0.0, []
    for step in range(steps):
        wall = T0 + step * every
        batch = [(name, wall + (i * every) / signals,
                  *((None, True) if rnd.random() < 0.005 else (value(i), False)))
                 for i, name in enumerate(names)]
        t = time.perf_counter()
        for name, w, v, error in batch:
            h.record_reading(name, w, v, error)
        recording += time.perf_counter() - t
        readings += len(batch)
        if wall >= next_flush:
            t = time.perf_counter()
            h.flush()
            flushes.append(time.perf_counter() - t)
            next_flush += FLUSH_S
    t = time.perf_counter()
    h.close()
    flushes.append(time.perf_counter() - t)
    return recording / readings, sum(flushes) / readings, flushes, readings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--signals", type=int, default=200)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--noisy", action="store_true")
    args = ap.parse_args()
    costs, flush_costs, flush_each, size, readings, read_s = [], [], [], 0, 0, []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "j.jsonl.history.sqlite"
            cost, flush_cost, each, readings = run(path, args.signals, args.hours, args.every,
                                                   args.noisy)
            costs.append(cost)
            flush_costs.append(flush_cost)
            flush_each.append(statistics.median(each))
            size = os.path.getsize(path)
            h = History.open(path, readonly=True)
            t = time.perf_counter()
            for name in h.signals():
                h.series(name)
            read_s.append((time.perf_counter() - t) / max(1, len(h.signals())))
            h.close()
    mix = "noisy floats" if args.noisy else "counts, booleans, 3-decimal measurements"
    print(f"{args.signals} signals, {args.hours:g} h, a reading every {args.every:g} s "
          f"({readings:,} readings; {mix}); flush every {FLUSH_S:g} s")
    print(f"file size: {size / 1e6:.2f} MB ({size / (args.signals * args.hours * 60):.1f} "
          f"bytes per signal-minute)")
    rec, fl = statistics.median(costs), statistics.median(flush_costs)
    print(f"write cost: {(rec + fl) * 1e6:.2f} us per reading: {rec * 1e6:.2f} us recording "
          f"(in memory, on the caller's thread) + {fl * 1e6:.2f} us flushing (medians of "
          f"{args.runs} runs)")
    print(f"one flush ({args.signals} signal-hours rewritten, one transaction, fsync): "
          f"median {statistics.median(flush_each) * 1e3:.1f} ms")
    print(f"read back: {statistics.median(read_s) * 1e3:.1f} ms per signal-day "
          f"(series of one signal, median)")


if __name__ == "__main__":
    main()
