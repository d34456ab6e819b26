"""Opening a long journal: from a 100,000-entry file to the cockpit's first full screen.

    .venv/bin/python bench/journal_open.py [--entries N] [--runs N] [--dir DIR]

Builds a night's journal on the demo plan (gate changes, notes, step runs and confirmations,
a few reconciliation runs each written as one batch with its exceptions) and prints, as
medians over ``--runs`` runs: ``Journal.open`` for writing and read-only, ``replay``, the
finish-forecast fold, ``cockpit.session.open_session`` and the first full screen of the TUI
(``CockpitApp.of(session)`` under ``App.run_test()`` until the main screen's first
``refresh_panels`` has run and the screen after it was painted). Each figure is measured in
three cases: nothing beside the journal (a first open: the full check and every entry
folded); the verified checkpoint only (``<journal>.verified``: its prefix is not checked
again, but every entry is still decoded and folded); the checkpoint and the saved folds
(``<journal>.folds``, the normal case: the last session left both, so only the entries after
them are decoded and folded). Nothing here is a pass/fail test; the figures scale with other
work on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.commands.demo import DEMO_OPERATOR, demo_plan  # noqa: E402
from cockpit.journal import (  # noqa: E402
    GENESIS,
    Actor,
    Journal,
    checkpoint,  # noqa: E402
)
from cockpit.journal.entry import build  # noqa: E402
from cockpit.runbook import (
    foldcache,  # noqa: E402
    replay,  # noqa: E402
)
from cockpit.runbook.forecast import Forecaster  # noqa: E402
from cockpit.session import open_session  # noqa: E402

DECODED: list[int] = []  # entries the first screen had decoded, per measured screen
RECON_RUNS = 5
EXCEPTIONS_PER_RUN = 400
STEPS_DONE = 10  # of the demo plan's 14: the night is in its validation phase


def _gate_status(gate: str, state: str, wall: float) -> dict:
    return {"gate": gate, "state": state, "reason": "replication_lag_s=1.2 < 5", "since": wall,
            "held_s": 600.0, "hold_for_s": 600.0,
            "readings": {"replication_lag_s": {"value": 1.2, "at": wall, "error": None}}}


def make_night(path: Path, plan, n: int, seed: int = 12) -> None:
    """``n`` entries as a night writes them, chained by the byte rule, written in one go."""
    rnd = random.Random(seed)
    lead, dba, system = Actor.current("demo.lead"), Actor.current("r.iyer"), Actor.system()
    steps = [s.id for s in plan.runbook.all_steps()]
    gates = list(plan.gates)
    cut = plan.cutover.id
    # Spread the confirmations and recon runs over the night.
    done_steps = min(STEPS_DONE, len(steps) - 1)  # a smaller plan: all but its last step
    confirm_at = {int(n * (i + 1) / (done_steps + 2)): steps[i] for i in range(done_steps)}
    recon_at = {int(n * (i + 1) / (RECON_RUNS + 1)) for i in range(RECON_RUNS)}
    wall = time.time() - 6 * 3600
    step_s = 6 * 3600 / n
    seq, prev = 0, GENESIS
    states = dict.fromkeys(gates, "HOLD")
    done = 0
    out = []

    def add(actor, action, *, subject=None, reason_code=None, note=None, data=None, batch=None):
        nonlocal seq, prev
        seq += 1
        e = build(seq, wall, cut, actor, action, subject=subject, reason_code=reason_code,
                  note=note, data=data, prev=prev, batch=batch)
        prev = e.hash
        out.append(e.line())

    while seq < n:
        wall += step_s * rnd.uniform(0.5, 1.5)
        if seq in confirm_at:
            sid = confirm_at[seq]
            add(lead, "step.run", subject=sid, data={"exit_code": 0, "sha256": "ab" * 32,
                                                      "output_path": f"runs/{sid}.log",
                                                      "duration_s": 12.5})
            add(lead, "step.confirm", subject=sid, note="done, checked on the bridge",
                data={"gates": {g: _gate_status(g, "GO", wall) for g in gates}})
            done += 1
            continue
        if seq in recon_at and seq + EXCEPTIONS_PER_RUN + 1 <= n:
            items = EXCEPTIONS_PER_RUN + 1
            for i in range(1, items):
                add(system, "exception.open", subject=f"x-{seq:06d}", batch=(i, items),
                    data={"layer": "content", "table": "medication_orders",
                          "keys": {"order_id": f"h:{rnd.getrandbits(32):08x}"}, "kind": "changed",
                          "severity": rnd.choice(["minor", "major"]), "category": None,
                          "columns": ["dose"], "title": "row differs"})
            add(system, "recon.run", batch=(items, items),
                data={"tables": {"medication_orders": {"missing": 0, "extra": 0, "changed": 400,
                                                       "source_rows": 912044,
                                                       "target_rows": 912044, "error": None}},
                      "mismatched_rows": 400, "failed_checks": 0,
                      "layers": ["counts", "content"], "duration_s": 412.5,
                      "opened": [], "closed": []})
            continue
        r = rnd.random()
        if r < 0.7:
            g = rnd.choice(gates)
            old, states[g] = states[g], "GO" if states[g] != "GO" else "HOLD"
            add(system, "gate.change", subject=g,
                data={"state": states[g], "old_state": old, "status": _gate_status(g, states[g], wall)})
        elif r < 0.85:
            add(rnd.choice((lead, dba)), "note", note="bridge update: units report normal charting")
        elif r < 0.95:
            add(lead, "step.run", subject=steps[min(done, len(steps) - 1)],
                data={"exit_code": 0, "sha256": "cd" * 32, "output_path": "runs/x.log",
                      "duration_s": 1.5})
        else:
            add(system, "session.start", data={"mode": "write"})
    path.write_bytes(b"".join(out))


def timed(fn: Callable[[], object], runs: int, before: Callable[[], object] = lambda: None
          ) -> tuple[tuple[float, float], object]:
    """((median wall s, median CPU s) over ``runs`` calls, the last result); ``before`` runs
    untimed before each. CPU time (this process) says what the code costs on a busy machine."""
    times, cpus, out = [], [], None
    for _ in range(runs):
        before()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return (statistics.median(times), statistics.median(cpus)), out


def _open_close(path: Path, cut: str, readonly: bool) -> Journal:
    j = Journal.open(path, cutover_id=cut, readonly=readonly)
    j.close()
    return j


async def _first_screen(plan, path: Path, operator: str = DEMO_OPERATOR
                        ) -> tuple[float, float, float, float]:
    """(open_session -> screen painted, the TUI part alone), wall then CPU seconds."""
    from cockpit.tui.app import CockpitApp

    t0, c0 = time.perf_counter(), time.process_time()
    session = open_session(plan, path, operator)
    t1, c1 = time.perf_counter(), time.process_time()
    app = CockpitApp.of(session)
    painted = asyncio.Event()
    main = app.main
    original = main.refresh_panels

    def refresh_panels() -> None:
        original()
        if main.ready and not painted.is_set():
            # After the panels were given their content: the next screen update paints them.
            app.call_after_refresh(painted.set)

    main.refresh_panels = refresh_panels  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(160, 48)):
            await asyncio.wait_for(painted.wait(), 60)
            t2, c2 = time.perf_counter(), time.process_time()
            entries = session.journal.entries
            DECODED.append(len(entries) - entries.undecoded())
    finally:
        session.close()
    return t2 - t0, t2 - t1, c2 - c0, c2 - c1


def figures(plan, path: Path, runs: int, kept: bool, folds: bool) -> dict[str, tuple[float, float]]:
    cut = plan.cutover.id

    def before() -> None:
        # What the case leaves beside the journal before each timed open: a writer's open
        # leaves a checkpoint and a session's close the folds, so each is made or removed.
        if kept:
            _open_close(path, cut, False)
        else:
            checkpoint.checkpoint_path(path).unlink(missing_ok=True)
        if folds:
            if not foldcache.folds_path(path).exists():
                open_session(plan, path, DEMO_OPERATOR).close()
        else:
            foldcache.folds_path(path).unlink(missing_ok=True)

    out: dict[str, tuple[float, float]] = {}
    out["Journal.open (writer)"], _ = timed(lambda: _open_close(path, cut, False), runs, before)
    out["Journal.open (read-only)"], j = timed(lambda: _open_close(path, cut, True), runs, before)
    entries = j.entries  # type: ignore[attr-defined]
    out["replay"], _ = timed(lambda: replay(plan, entries), runs)
    out["forecast fold"], _ = timed(lambda: Forecaster(plan).forecast(entries, time.time()), runs)
    out["open_session"], _ = timed(lambda: open_session(plan, path, DEMO_OPERATOR).close(), runs,
                                   before)
    shots = []
    DECODED.clear()
    for _ in range(runs):
        before()
        shots.append(asyncio.run(_first_screen(plan, path)))
    out["TUI (CockpitApp.of .. painted)"] = (statistics.median(s[1] for s in shots),
                                             statistics.median(s[3] for s in shots))
    out["TOTAL open_session -> first full screen"] = (statistics.median(s[0] for s in shots),
                                                      statistics.median(s[2] for s in shots))
    out["entries decoded at the first screen (count)"] = (statistics.median(DECODED), 0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure (median reported)")
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          "(wall figures grow with other work on the machine; CPU figures much less)")
    plan = demo_plan()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "journal.jsonl"
        make_night(path, plan, args.entries)
        print(f"journal: {args.entries:,} entries, {path.stat().st_size / 1e6:.1f} MB; "
              f"medians of {args.runs} runs, seconds")
        cases = [("nothing beside", False, False), ("checkpoint", True, False),
                 ("checkpoint+folds", True, True)]
        results = {}
        for name, kept, folds in cases:
            results[name] = figures(plan, path, args.runs, kept, folds)
        names = list(results[cases[0][0]])
        header = "".join(f"{name + ' wall/cpu':>24}" for name, _, _ in cases)
        print(f"{'':42}{header}")
        for fig in names:
            row = "".join(f"{results[name][fig][0]:>15.3f} /{results[name][fig][1]:>6.3f}"
                          for name, _, _ in cases)
            print(f"  {fig:40}{row}")
        total = "TOTAL open_session -> first full screen"
        (a, ac), (b, bc), (c, cc) = (results[name][total] for name, _, _ in cases)
        print(f"  first full screen: {a:.3f} s with nothing beside the journal, {b:.3f} s with "
              f"the checkpoint, {c:.3f} s with the checkpoint and the saved folds "
              f"({a / c:.1f}x and {b / c:.1f}x faster wall; CPU {ac:.3f} / {bc:.3f} / {cc:.3f} s)")


if __name__ == "__main__":
    main()
