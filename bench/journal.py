"""Journal benchmarks: append latency with fsync, and open/replay/verify of 100,000 entries.

    .venv/bin/python bench/journal.py [--appends N] [--entries N] [--runs N] [--dir DIR]

Prints measured figures for this machine (nothing here is a pass/fail test). The journal is
written in DIR (default: a temporary folder on the file system holding /tmp), so fsync cost is
that disk's.
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

from cockpit.config import load_plan  # noqa: E402
from cockpit.journal import GENESIS, Actor, Journal, verify  # noqa: E402
from cockpit.journal.entry import build  # noqa: E402
from cockpit.runbook import replay  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample_configs" / "ehr-cutover.yaml"


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_append(folder: Path, n: int) -> None:
    path = folder / "append.jsonl"
    actor = Actor.current("m.okafor")
    lat = []
    with Journal.open(path, cutover_id="bench") as j:
        for i in range(n):
            t = time.perf_counter()
            j.append("step.confirm", actor=actor, subject=f"S{i % 40}",
                     data={"gates": {"replication_caught_up": {"state": "GO", "reason": "lag 1.2 < 5"}}})
            lat.append((time.perf_counter() - t) * 1000)
    print(f"append+fsync ({n} appends, {path.parent}): p50 {statistics.median(lat):.2f} ms, "
          f"p99 {_pct(lat, 99):.2f} ms, max {max(lat):.2f} ms, mean {statistics.mean(lat):.2f} ms")


def make_big(path: Path, plan, n: int) -> None:
    """A realistic mix: gate changes, notes, step actions, recon runs, exceptions."""
    rnd = random.Random(7)
    actor = Actor.current("m.okafor")
    system = Actor.system()
    steps = [s.id for s in plan.runbook.all_steps()]
    gates = list(plan.gates)
    prev, wall = GENESIS, 1_800_000_000.0
    with open(path, "wb") as f:
        for seq in range(1, n + 1):
            wall += rnd.random()
            r = rnd.random()
            if r < 0.6:
                g = rnd.choice(gates)
                e = build(seq, wall, plan.cutover.id, system, "gate.change", subject=g, reason_code=None,
                          note=None, prev=prev, data={"state": "GO", "old_state": "HOLD", "status": {
                              "gate": g, "state": "GO", "reason": "replication_lag_s=1.2 < 5",
                              "since": wall, "held_s": 600.0, "hold_for_s": 600.0, "readings": {}}})
            elif r < 0.8:
                e = build(seq, wall, plan.cutover.id, actor, "note", subject=None, reason_code=None,
                          note="bridge update: units report normal charting", data=None, prev=prev)
            elif r < 0.9:
                e = build(seq, wall, plan.cutover.id, actor, "step.run", subject=rnd.choice(steps),
                          reason_code=None, note=None, prev=prev,
                          data={"exit_code": 0, "sha256": "ab" * 32, "output_path": "/var/log/x", "duration_s": 1.5})
            elif r < 0.95:
                e = build(seq, wall, plan.cutover.id, system, "exception.open", subject=f"X{seq}",
                          reason_code=None, note=None, prev=prev,
                          data={"layer": "content", "table": "patients", "keys": [f"h:{seq:08x}"],
                                "kind": "changed", "severity": "major", "category": None,
                                "columns": ["family_name"], "title": "row differs"})
            else:
                e = build(seq, wall, plan.cutover.id, system, "recon.run", subject=None, reason_code=None,
                          note=None, prev=prev, data={"tables": {"patients": {
                              "missing": 0, "extra": 0, "changed": 1, "source_rows": 100000,
                              "target_rows": 100000, "error": None}}, "mismatched_rows": 1,
                              "failed_checks": 0, "layers": ["counts", "content"], "duration_s": 12.0,
                              "opened": [], "closed": []})
            f.write(e.line())
            prev = e.hash


def timed(fn, runs: int) -> tuple[float, float, object]:
    """(median, min) seconds over ``runs`` calls, and the last result."""
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), out


def _open_close(path: Path, cutover: str, readonly: bool):
    j = Journal.open(path, cutover_id=cutover, readonly=readonly)
    j.close()
    return j


def bench_big(folder: Path, n: int, runs: int) -> None:
    plan, _ = load_plan(SAMPLE, for_run=False)
    path = folder / "big.jsonl"
    make_big(path, plan, n)
    size = path.stat().st_size
    cut = plan.cutover.id
    print(f"journal of {n} entries: {size / 1e6:.1f} MB (median and min of {runs} runs)")
    med, low, j = timed(lambda: _open_close(path, cut, True), runs)
    assert len(j.entries) == n
    print(f"  open read-only (parse + byte rule + chain): median {med:.3f} s, min {low:.3f} s "
          f"({n / med:,.0f} entries/s)")
    med_w, low_w, _ = timed(lambda: _open_close(path, cut, False), runs)
    print(f"  open for writing (lock + the same checks): median {med_w:.3f} s, min {low_w:.3f} s")
    med_r, low_r, state = timed(lambda: replay(plan, j.entries), runs)
    print(f"  replay: median {med_r:.3f} s, min {low_r:.3f} s, head #{state.head[0]}")
    print(f"  restart = open for writing + replay: {med_w + med_r:.3f} s (medians)")
    med_v, low_v, result = timed(lambda: verify(path), runs)
    assert result.ok, result
    print(f"  verify: median {med_v:.3f} s, min {low_v:.3f} s ({n / med_v:,.0f} entries/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7, help="timed runs per figure (median reported)")
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          "(figures scale with other work on the machine)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        bench_append(Path(tmp), args.appends)
        bench_big(Path(tmp), args.entries, args.runs)


if __name__ == "__main__":
    main()
