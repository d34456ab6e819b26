"""``cockpit rehearse CONFIG --scenario FILE [--speed N] [--journal PATH]``: the cockpit on a
plan whose replaced sources answer from a scenario, on a clock N times faster.

Everything about the input is checked before the terminal is (so a bad scenario, speed or
journal is one line and exit 2 anywhere): the scenario against the plan, the speed, and the
journal's marker (``cockpit.rehearsal.journal``). Then ``cockpit.commands.run.launch`` opens
the cockpit with the rehearsal clock, the scripted sources and the rehearsal object the view
reads; a new journal gets ``rehearsal.start`` as seq 1, before ``session.start``.
"""

from __future__ import annotations

import hashlib
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from cockpit.clock import ScaledClock
from cockpit.commands.common import emit, fail
from cockpit.commands.run import identity_of
from cockpit.config.loader import load_plan
from cockpit.config.plan import Plan
from cockpit.config.problems import PlanError
from cockpit.journal import Actor, JournalError
from cockpit.rehearsal.faults import record_faults
from cockpit.rehearsal.journal import first_entry, refuse_for_rehearsal, start_data, write_start
from cockpit.rehearsal.plan import load_rehearsal_plan, on_rehearsal_clock
from cockpit.rehearsal.running import Rehearsal
from cockpit.rehearsal.scenario import (
    LoadedScenario,
    ScenarioError,
    check_against,
    read_scenario,
    render,
)
from cockpit.rehearsal.scheduled import schedule_recon
from cockpit.rehearsal.source import ScriptedSource, scripted_sources
from cockpit.runbook import baseline
from cockpit.timings.report import summary_entry_data, timings_report
from cockpit.timings.text import render as render_timings

VERB = "rehearse"
MIN_SPEED, MAX_SPEED = 0.1, 1000.0


def default_journal(plan: Plan, scenario_name: str) -> Path:
    """Beside the plan's journal: ``<journal stem>.rehearsal-<scenario>.jsonl``."""
    real = plan.journal_path
    return real.with_name(f"{real.stem}.rehearsal-{scenario_name}.jsonl")


@dataclass
class Prepared:
    plan: Plan
    loaded: LoadedScenario
    journal: Path
    operator: str
    rehearsal: Rehearsal
    sources: dict
    plan_sha256: str
    summary: dict | None = None  # the timing report written at the end (``summarise``)

    @property
    def clock(self):
        return self.rehearsal.clock


def check_speed(speed: object) -> str | None:
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed):
        return f"--speed must be a finite number from {MIN_SPEED:g} to {MAX_SPEED:g}"
    if not MIN_SPEED <= speed <= MAX_SPEED:
        return f"--speed {speed:g} is outside {MIN_SPEED:g}..{MAX_SPEED:g}"
    return None


def prepare(args, *, env=None, now: float | None = None) -> Prepared | int:
    """Everything short of the terminal: the prepared rehearsal, or the exit code after
    saying why not (one line per problem, on stderr)."""
    why = check_speed(args.speed)
    if why:
        return fail(VERB, why)
    try:
        loaded = read_scenario(args.scenario)
    except ScenarioError as exc:
        emit(*(f"cockpit {VERB}: {line}" for line in exc.lines), err=True)
        return 2
    # The scenario is checked against the plan before the plan's secrets are demanded: a
    # misspelt source in `replaces` is the problem to name, not the secret it left wanted.
    try:
        unchecked, _ = load_plan(args.config, for_run=False, env=env)
    except PlanError as exc:
        emit(*(f"cockpit {VERB}: {line}" for line in exc.lines), err=True)
        return 2
    problems = check_against(loaded.scenario, unchecked)
    if problems:
        emit(*(f"cockpit {VERB}: {line}" for line in render(problems, loaded)), err=True)
        return 2
    try:
        plan, warnings = load_rehearsal_plan(args.config, loaded.scenario.replaces, env=env,
                                             unchecked=unchecked)
        baseline.load(plan)  # the rehearsed durations of earlier rehearsals, for the forecast
    except PlanError as exc:
        emit(*(f"cockpit {VERB}: {line}" for line in exc.lines), err=True)
        return 2
    emit(*(f"cockpit {VERB}: {line}" for line in warnings), err=True)
    journal = Path(args.journal) if args.journal else default_journal(plan, loaded.scenario.name)
    why = refuse_for_rehearsal(journal, loaded.sha256, loaded.scenario.name)
    if why:
        return fail(VERB, why)
    try:
        plan_sha = hashlib.sha256(plan.path.read_bytes()).hexdigest() if plan.path else ""
    except OSError as exc:
        return fail(VERB, f"cannot read the plan {plan.path}: {exc.strerror or exc}")
    operator = identity_of(plan, getattr(args, "operator", None)).operator
    return assemble(plan, loaded, journal, args.speed, operator, plan_sha, now=now)


def assemble(plan: Plan, loaded: LoadedScenario, journal: Path, speed: float, operator: str,
             plan_sha256: str, *, now: float | None = None) -> Prepared:
    """The rehearsal of checked inputs (``cockpit rehearse``, ``cockpit demo``): its clock
    starts now on a new journal, and at the journal's last entry on a resumed one, so
    scenario time goes on where the journal ended; the plan's window moved onto that clock
    (the scenario's ``window_opens``)."""
    bounds = _entries_bounds(journal)
    wall = time.time() if now is None else now
    if bounds is None:
        origin = wall  # rehearsal.start is written at once, on this clock
        clock = ScaledClock(speed, start=wall)
        rehearsal = Rehearsal(loaded.scenario, loaded.sha256, speed, clock, loaded.path)
    else:
        origin, last = bounds
        clock = ScaledClock(speed, start=last)
        rehearsal = Rehearsal(loaded.scenario, loaded.sha256, speed, clock, loaded.path,
                              origin=origin, resumed=True)
    plan = on_rehearsal_clock(plan, origin, loaded.scenario.window_opens)
    sources = scripted_sources(plan, loaded.scenario, clock, rehearsal.scenario_time)
    return Prepared(plan, loaded, journal, operator, rehearsal, sources, plan_sha256)


def _entries_bounds(path: Path) -> tuple[float, float] | None:
    """(wall time of the first entry, of the last), or None for a new journal."""
    first = first_entry(path)
    if first is None:
        return None
    from cockpit.journal import lines, read_journal

    entries = lines.parse(read_journal(path) or b"").entries
    return first.wall, (entries[-1].wall if entries else first.wall)


def begin(cockpit, prepared: Prepared) -> None:
    """Under the journal's lock, before ``session.start``: ``rehearsal.start`` on a new journal
    (the rule is checked again: another process may have written it meanwhile), then the
    fault journal."""
    r = prepared.rehearsal
    journal = cockpit.journal
    if not journal.entries:
        entry = write_start(journal, r.name, start_data(
            r.name, r.sha256, r.speed, prepared.plan.path or Path(), prepared.plan_sha256))
        r.origin = entry.wall
    else:
        why = refuse_for_rehearsal(journal.path, r.sha256, r.name)
        if why:
            raise JournalError(why)
        r.origin = journal.entries[0].wall
    cockpit.engine.adopt(c for c in prepared.sources.values() if not isinstance(c, ScriptedSource))
    record_faults(cockpit, r.scenario, r.scenario_time)
    schedule_recon(cockpit, r)


SUMMARY = "rehearsal.summary"


def summarise(cockpit, prepared: Prepared) -> None:
    """At the end of a rehearsal session: the timing report as one ``rehearsal.summary``
    entry (the evidence pack shows it), kept on ``prepared`` to print once the screen is
    gone. On the writer, behind every write of the session; a failure is logged, and
    ``cockpit timings`` gives the same figures."""
    def write() -> None:
        data = summary_entry_data(prepared.plan, cockpit.journal.entries)
        cockpit.journal.append(SUMMARY, actor=Actor.system(), data=data)
        prepared.summary = timings_report(prepared.plan, cockpit.journal.entries)

    cockpit.writer.fire(SUMMARY, write)


def main(args) -> int:
    prepared = prepare(args)
    if isinstance(prepared, int):
        return prepared
    from cockpit.commands.run import launch, refusal

    asked = getattr(args, "operator", None)
    why = refusal(prepared.plan, asked, args.layout)
    if why:  # said again by launch; here so nothing below is printed for nothing
        return fail(VERB, why)
    r = prepared.rehearsal
    state = "resuming" if r.resumed else "new"
    emit(f"cockpit {VERB}: {r.marker} scenario {r.name} (sha256 {r.sha256[:12]}...), "
         f"{state} journal {prepared.journal}", err=True)
    parts = ["cockpit", VERB, args.config, "--scenario", args.scenario, "--speed", f"{args.speed:g}",
             "--journal", str(prepared.journal)]
    resume = " ".join(shlex.quote(p) for p in parts)
    code = launch(VERB, prepared.plan, prepared.journal, asked, layout=args.layout,
                  before_start=lambda cockpit: begin(cockpit, prepared), resume=resume,
                  watch=f"cockpit status {shlex.quote(str(prepared.journal))}",
                  clock=prepared.clock, sources=prepared.sources, rehearsal=r,
                  before_end=lambda cockpit: summarise(cockpit, prepared))
    if prepared.summary is not None:
        emit("", *render_timings(prepared.plan, prepared.summary, str(prepared.journal)),
             f"(recorded as {SUMMARY}; again any time: cockpit timings "
             f"{shlex.quote(str(prepared.journal))})")
    return code
