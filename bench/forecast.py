"""Forecast benchmark: what the finish forecast costs a tick on a 2,000-entry journal.

    .venv/bin/python bench/forecast.py [--entries 2000] [--rounds 2000]

The demo plan (22 steps) and a real journal in a temporary folder: gate changes, notes and
every step of the before phase confirmed, to ``--entries`` entries. Printed figures
(medians and p99 over ``--rounds`` calls, measured here, none assumed):

- steady tick: ``Forecaster.forecast`` with nothing new in the journal (what the session's
  built-in readings and the screen's refresh pay each tick);
- one new entry: the same, after one more entry (a gate change) was appended;
- cold: a fresh ``Forecaster`` over the whole journal (its first tick; also what
  ``step_spans`` over the journal costs), the price the incremental fold avoids per tick;
- the engine's tick for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.clock import ManualClock  # noqa: E402
from cockpit.commands.demo import DEMO_PLAN  # noqa: E402
from cockpit.config import load_plan  # noqa: E402
from cockpit.engine import TICK_S  # noqa: E402
from cockpit.journal import Actor, Journal  # noqa: E402
from cockpit.runbook.forecast import Forecaster  # noqa: E402


def _times(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _say(what: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{what:<34} median {statistics.median(samples) * 1e6:9.1f} µs   p99 {p99 * 1e6:9.1f} µs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args()
    plan = load_plan(DEMO_PLAN)[0]
    plan.use_rehearsed({s.id: s.planned * 1.2 for s in plan.runbook.all_steps()})
    clock = ManualClock(1_800_000_000.0)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.open(Path(tmp) / "journal.jsonl", cutover_id=plan.cutover.id, clock=clock)
        system, lead = Actor.system(), Actor.current("demo.lead")
        journal.append("session.start", actor=system, data={})
        for sid in ("B01", "B02", "B03"):
            clock.advance_sync(300)
            journal.append("step.confirm", actor=lead, subject=sid, data={})
        batch: list[dict] = []
        while len(journal.entries) + len(batch) < args.entries:
            n = len(journal.entries) + len(batch)
            batch.append({"action": "gate.change", "subject": f"g{n % 6}",
                          "data": {"state": "GO" if n % 2 else "HOLD"}})
            if len(batch) == 200:
                journal.append_many(system, batch)
                batch = []
        if batch:
            journal.append_many(system, batch)
        entries = journal.entries
        print(f"journal: {len(entries)} entries, plan: {len(plan.runbook.all_steps())} steps "
              f"+ {len(plan.runbook.rollback_steps())} rollback; tick {TICK_S} s")
        f = Forecaster(plan)
        now = clock.now() + 600
        f.forecast(entries, now)
        _say("steady tick (nothing new)", _times(lambda: f.forecast(entries, now), args.rounds))

        samples = []
        for i in range(min(args.rounds, 300)):  # the append (an fsync) is not timed
            journal.append("gate.change", actor=system, subject=f"g{i % 6}",
                           data={"state": "GO" if i % 2 else "HOLD"})
            t = time.perf_counter()
            f.forecast(entries, now)
            samples.append(time.perf_counter() - t)
        _say("one new entry (gate change)", samples)
        _say("cold: whole journal", _times(lambda: Forecaster(plan).forecast(entries, now),
                                           max(20, args.rounds // 50)))
        journal.close()


if __name__ == "__main__":
    main()
