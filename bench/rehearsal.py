"""Rehearsal benchmark: what a scripted night costs.

    .venv/bin/python bench/rehearsal.py [--scenario sample_configs/scenarios/lag-crisis.yaml] [--hours 6]

Printed figures (measured here, none assumed):

- the cost of one scripted answer (``cockpit.rehearsal.script.answer``) per call, over every
  signal of the sample plan at many scenario times;
- the wall time the real engine takes to play ``--hours`` of the scenario on a ManualClock
  (every poll, gate evaluation and journal write of the night, as fast as the machine goes),
  with the number of readings, gate changes and faults journalled.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.clock import ManualClock  # noqa: E402
from cockpit.rehearsal.faults import record_faults  # noqa: E402
from cockpit.rehearsal.plan import load_rehearsal_plan  # noqa: E402
from cockpit.rehearsal.running import Rehearsal  # noqa: E402
from cockpit.rehearsal.scenario import load_scenario, read_scenario  # noqa: E402
from cockpit.rehearsal.script import answer  # noqa: E402
from cockpit.rehearsal.source import scripted_sources  # noqa: E402
from cockpit.session import open_session  # noqa: E402


async def night(plan, loaded, hours: float) -> tuple[float, int, int, int]:
    clock = ManualClock()
    r = Rehearsal(loaded.scenario, loaded.sha256, 1.0, clock, loaded.path, origin=clock.now())
    sources = scripted_sources(plan, loaded.scenario, clock, r.scenario_time, real=False)
    session = open_session(plan, plan.journal_path, "m.okafor", clock=clock, sources=sources)
    record_faults(session, loaded.scenario, r.scenario_time)
    readings = 0

    def count() -> None:
        nonlocal readings
        readings += 1

    session.engine.subscribe(count)
    started = time.perf_counter()
    await session.engine.start()
    for _ in range(int(hours * 3600 / 5)):
        await clock.advance(5)
    await session.writes_settled()
    wall = time.perf_counter() - started
    await session.engine.stop()
    entries = session.journal.entries
    session.close()
    return (wall, readings, sum(e.action == "gate.change" for e in entries),
            sum(e.action == "rehearsal.fault" for e in entries))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default=str(ROOT / "sample_configs/scenarios/lag-crisis.yaml"))
    ap.add_argument("--hours", type=float, default=6.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plan_path = Path(tmp) / "ehr-cutover.yaml"
        plan_path.write_bytes((ROOT / "sample_configs/ehr-cutover.yaml").read_bytes())
        plan, _ = load_rehearsal_plan(plan_path, read_scenario(args.scenario).scenario.replaces, env={})
        loaded = load_scenario(args.scenario, plan)
        names = list(plan.signals)
        n, started = 0, time.perf_counter()
        for i in range(2000):
            for name in names:
                answer(loaded.scenario, plan, name, i * 7.3)
                n += 1
        per = (time.perf_counter() - started) / n
        print(f"scripted answer: {per * 1e6:.1f} us per call ({n} calls, {len(names)} signals)")
        wall, readings, changes, faults = asyncio.run(night(plan, loaded, args.hours))
        print(f"{args.hours:g} h of {loaded.scenario.name} on a ManualClock: {wall:.2f} s wall, "
              f"{readings} engine notifications, {changes} gate changes, {faults} faults journalled")


if __name__ == "__main__":
    main()
