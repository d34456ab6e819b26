"""Timing report benchmark: ``timings_report`` over a 100,000-entry rehearsal journal of the
sample plan, and the whole verb (read, byte rule and chain, report, text).

    .venv/bin/python bench/timings.py [--entries N] [--runs N] [--faults N]

The journal is a night: ``rehearsal.start``, then mostly gate changes and notes, with every
main-runbook step confirmed (or decided GO) in plan order spread over it, injected faults
each answered by a note, and the rollback started and worked at the end. Prints medians for
this machine (nothing here is a pass/fail test).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.cli import main as cli  # noqa: E402
from cockpit.config import load_plan  # noqa: E402
from cockpit.journal import GENESIS, Actor, Journal  # noqa: E402
from cockpit.journal.entry import build  # noqa: E402
from cockpit.timings import summary_entry_data, timings_report  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample_configs" / "ehr-cutover.yaml"


def make_night(path: Path, plan, n: int, faults: int) -> None:
    rnd = random.Random(11)
    lead, system = Actor.current("m.okafor"), Actor.system()
    main = plan.runbook.all_steps()
    back = plan.runbook.rollback_steps()
    moves = {int((i + 1) * n * 0.8 / (len(main) + 1)): s for i, s in enumerate(main)}
    moves.update({int(n * 0.85 + (i + 1) * n * 0.14 / (len(back) + 1)): s for i, s in enumerate(back)})
    fault_at = {int((i + 1) * n / (faults + 1)): i for i in range(faults)}
    rollback_at = int(n * 0.85)
    gates = list(plan.gates)
    prev, wall, cut = GENESIS, 1_800_000_000.0, plan.cutover.id

    def entry(seq, actor, action, subject=None, data=None, note=None, reason=None):
        return build(seq, wall, cut, actor, action, subject=subject, reason_code=reason, note=note,
                     data=data, prev=prev)

    with open(path, "wb") as f:
        for seq in range(1, n + 1):
            wall += rnd.random() * 0.3
            if seq == 1:
                e = entry(seq, system, "rehearsal.start", "bench", {
                    "scenario": "bench", "sha256": "0" * 64, "speed": 10.0,
                    "plan": {"path": str(SAMPLE), "sha256": "0" * 64}})
            elif seq == rollback_at:
                e = entry(seq, lead, "rollback.start", data={}, reason="DATA_MISMATCH")
            elif seq in moves:
                s = moves[seq]
                if s.kind == "decision":
                    e = entry(seq, lead, "decision.record", s.id, {"call": "GO", "gates": {}})
                else:
                    e = entry(seq, lead, "step.confirm", s.id, {"gates": {}})
            elif seq in fault_at:
                e = entry(seq, system, "rehearsal.fault", f"fault-{fault_at[seq]}", {
                    "kind": "replication_lag_spike", "at_s": 0.0, "until_s": None, "signals": []})
            elif rnd.random() < 0.75:
                g = rnd.choice(gates)
                e = entry(seq, system, "gate.change", g, {"state": "GO", "old_state": "HOLD",
                                                          "status": {"gate": g, "state": "GO"}})
            else:
                e = entry(seq, lead, "note", note="bridge update: units report normal charting")
            f.write(e.line())
            prev = e.hash


def timed(fn, runs: int):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), out


def _verb(path: Path) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli(["timings", str(path)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure (median reported)")
    ap.add_argument("--faults", type=int, default=20)
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    plan, _ = load_plan(SAMPLE, for_run=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "night.jsonl"
        make_night(path, plan, args.entries, args.faults)
        entries = Journal.open(path, cutover_id=plan.cutover.id, readonly=True).entries
        print(f"journal of {len(entries)} entries ({path.stat().st_size / 1e6:.1f} MB), "
              f"{len(plan.runbook.all_steps())} + {len(plan.runbook.rollback_steps())} steps, "
              f"{args.faults} faults; median and min of {args.runs} runs")
        med, low, report = timed(lambda: timings_report(plan, entries), args.runs)
        assert report["rollback_drill"]["finished"] and len(report["faults"]) == args.faults
        print(f"  timings_report: median {med:.3f} s, min {low:.3f} s")
        med, low, _ = timed(lambda: timings_report(plan, entries, baseline_entries=entries), args.runs)
        print(f"  timings_report with a baseline of the same size: median {med:.3f} s, min {low:.3f} s")
        med, low, summary = timed(lambda: summary_entry_data(plan, entries), args.runs)
        size = len(__import__("json").dumps(summary))
        print(f"  summary_entry_data: median {med:.3f} s ({size:,} bytes of JSON)")
        med, low, code = timed(lambda: _verb(path), args.runs)
        assert code == 0
        print(f"  cockpit timings JOURNAL (read + verify + report + text): median {med:.3f} s, "
              f"min {low:.3f} s")


if __name__ == "__main__":
    main()
