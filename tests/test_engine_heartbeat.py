"""The engine wires heartbeat signals to their target's client, from the plan alone."""

from __future__ import annotations

import textwrap

from cockpit.clock import RealClock
from cockpit.config import load_plan
from cockpit.engine import Engine
from tests.fixtures.pg import PgFactory


async def test_engine_reads_heartbeat_through_its_target(pg_factory: PgFactory, tmp_path) -> None:
    primary, standby = pg_factory.primary_with_standby()
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(textwrap.dedent(f"""\
        cutover: {{id: hb, name: hb, journal: j.jsonl,
                  window: {{start: 2026-11-28T22:00:00Z, end: 2026-11-29T06:00:00Z}}}}
        operators: {{roles: {{lead: {{}}}}}}
        sources:
          legacy: {{type: postgres, dsn: "{primary.dsn()}"}}
          cloud: {{type: postgres, dsn: "{standby.dsn()}"}}
        signals:
          hb_lag:
            source: legacy
            probe: heartbeat
            heartbeat: {{target: cloud}}
            timeout: 10s
        gates:
          hb_ok: {{expr: hb_lag < 5}}
        runbook:
          phases: [{{id: before, title: B, steps: [{{id: S1, title: s, owner: lead, planned: 1m}}]}}]
          rollback: {{phases: [{{id: back, title: R, steps: [{{id: R1, title: r, owner: lead, planned: 1m}}]}}]}}
        """))
    plan, _ = load_plan(plan_path)
    engine = Engine(plan, RealClock())
    try:
        # The target source is not read by any signal directly, yet must exist for the heartbeat.
        assert set(engine.sources) == {"legacy", "cloud"}
        statuses = await engine.poll_once()
        reading = engine.latest["hb_lag"]
        assert reading.error is None, reading.error
        assert 0 <= reading.value < 5
        assert statuses["hb_ok"].state.value == "GO"
    finally:
        await engine.stop()
