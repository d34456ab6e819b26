"""Evidence pack benchmark: ``cockpit report`` on a 100,000-entry night of the sample plan with
24 hours of signal history for 200 signals beside it.

    .venv/bin/python bench/report.py [--entries N] [--signals N] [--hours N] [--runs N]

The journal is ``bench/timings.py``'s night (gate changes and notes, every step worked, faults,
a rollback). The history is written through ``cockpit.history.store`` (one reading per signal
per minute, and gate changes) when that module is present. Prints the render time of the whole
verb (read, verify, facts, the three files, manifest, atomic write): the median of ``--runs``,
and the pack's size. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.cli import main as cli  # noqa: E402
from cockpit.config import load_plan  # noqa: E402

SAMPLE = ROOT / "sample_configs" / "ehr-cutover.yaml"


def _timings_bench():
    spec = importlib.util.spec_from_file_location("bench_timings", ROOT / "bench" / "timings.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_history(journal: Path, plan, signals: int, hours: float, t0: float) -> str:
    try:
        from cockpit.history.store import History, history_path
    except ImportError:
        return "no history (cockpit.history.store is not in this tree)"
    names = list(plan.signals)[:signals]
    names += [f"bench.signal_{i:03d}_ms" for i in range(signals - len(names))]
    h = History.open(history_path(journal))
    gates = list(plan.gates)
    minutes = int(hours * 60)
    for m in range(minutes):
        wall = t0 + m * 60.0
        for i, name in enumerate(names):
            h.record_reading(name, wall, 50 + 40 * math.sin(m / 30 + i), False)
        if m % 20 == 0:
            g = gates[m // 20 % len(gates)]
            h.record_gate(g, wall, ("GO", "HOLD", "NO-GO")[m // 20 % 3], "bench")
        if m % 60 == 0:
            h.flush()
    h.flush()
    h.close()
    size = history_path(journal).stat().st_size
    return f"{len(names)} signals x {minutes} minutes, {size / 1e6:.1f} MB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--signals", type=int, default=200)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tb = _timings_bench()
    plan, _ = load_plan(SAMPLE, for_run=False)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "night.jsonl"
        tb.make_night(journal, plan, args.entries, 12)
        t0 = 1_800_000_000.0  # bench/timings.py's night starts there
        hist = make_history(journal, plan, args.signals, args.hours, t0)
        print(f"journal: {args.entries} entries, {journal.stat().st_size / 1e6:.1f} MB; history: {hist}")
        times, cpu = [], []
        out = Path(tmp) / "pack"
        for _ in range(args.runs):
            if out.exists():
                shutil.rmtree(out)
            start, c0 = time.perf_counter(), time.process_time()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = cli(["report", str(journal), "--out", str(out)])
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - c0)
            assert code == 0, code
        sizes = {p.name: p.stat().st_size for p in out.iterdir()}
        print("pack: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sorted(sizes.items())))
        print(f"cockpit report: median {statistics.median(times):.2f} s over {args.runs} runs "
              f"(each: {', '.join(f'{t:.2f}' for t in times)}); CPU median "
              f"{statistics.median(cpu):.2f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
