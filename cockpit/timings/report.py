"""The timing report of a journal: planned against actual, the critical path, time to detect
and decide, the rollback drill; against a baseline rehearsal when one is given.

Every time is in seconds, rounded to the millisecond (journal timestamps have no more), and
is an offset from the *anchor*: the moment the runbook's first step became workable, which
``cockpit.runbook.spans`` puts at the journal's first entry (``rehearsal.start`` in a
rehearsal journal, so an offset is scenario time). The main runbook's planned schedule starts
at the anchor; the rollback runbook's at the (first, the one the runbook honours)
``rollback.start``. Start lateness is actual start minus planned start (negative: early);
overrun is actual minus planned duration when positive (0 otherwise; None while unknown or
for a skipped step). Durations are never negative.

The report is JSON-able, small (one list of steps, one of faults, nothing per entry) and holds
no free text but cleaned, bounded strings (scenario name, fault ids, operator names); step ids
come from the plan. ``summary_entry_data`` is what a rehearsal journals at its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cockpit.config.plan import Plan
from cockpit.config.runbook import Phase
from cockpit.journal import Entry
from cockpit.runbook.spans import Span, step_spans
from cockpit.text import clean
from cockpit.timings.faults import fault_answers
from cockpit.timings.schedule import actual_path, planned_path, planned_schedule
from cockpit.units import finite_number

FORMAT = 1
SUMMARY_FAULTS = 100  # faults kept in a rehearsal.summary entry (the rest counted)
NAME_LIMIT = 64


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _since(wall: float | None, anchor: float | None) -> float | None:
    return None if wall is None or anchor is None else _r(wall - anchor)


def timings_report(plan: Plan, entries: Iterable[Entry], *,
                   baseline_entries: Iterable[Entry] | None = None) -> dict[str, Any]:
    """The report of ``entries`` (one journal, in order) against ``plan``; with
    ``baseline_entries`` (another journal of the same plan) a ``baseline`` comparison."""
    report = _measure(plan, list(entries))
    if baseline_entries is not None:
        report["baseline"] = _compare(report, _measure(plan, list(baseline_entries)))
    else:
        report["baseline"] = None
    return report


def summary_entry_data(plan: Plan, entries: Iterable[Entry]) -> dict[str, Any]:
    """The ``data`` of the ``rehearsal.summary`` entry: the report, its fault list bounded."""
    report = timings_report(plan, entries)
    faults = report["faults"]
    report["faults_left_off"] = max(0, len(faults) - SUMMARY_FAULTS)
    report["faults"] = faults[:SUMMARY_FAULTS]
    del report["baseline"]
    return report


def _measure(plan: Plan, entries: Sequence[Entry]) -> dict[str, Any]:
    rb = plan.runbook
    spans = step_spans(plan, entries)
    main_ids = [s.id for s in rb.all_steps()]
    back_ids = [s.id for s in rb.rollback_steps()]
    anchor = spans[main_ids[0]].started
    rehearsal, rollback_at = None, None
    for e in entries:
        if e.action == "rehearsal.start" and rehearsal is None:
            rehearsal = _rehearsal(e)
        elif e.action == "rollback.start" and rollback_at is None:
            rollback_at = e.wall
    last_wall = entries[-1].wall if entries else None

    main_plan = planned_schedule(rb.phases)
    back_plan = planned_schedule(rb.rollback.phases)
    main_path, back_path = planned_path(main_plan), planned_path(back_plan)
    main_actual, back_actual = actual_path(spans, main_ids), actual_path(spans, back_ids)
    back_anchor = _since(rollback_at, anchor)

    steps: list[dict[str, Any]] = []
    for book, phases, sched, offset, on_plan, on_actual in (
            ("runbook", rb.phases, main_plan, 0.0 if anchor is not None else None,
             set(main_path), set(main_actual)),
            ("rollback", rb.rollback.phases, back_plan, back_anchor,
             set(back_path), set(back_actual))):
        for phase in phases:
            for step in phase.steps:
                steps.append(_step(step.id, book, phase, step.planned, spans[step.id],
                                   None if offset is None else offset + sched[step.id].start_s,
                                   anchor, step.id in on_plan, step.id in on_actual))
    by_id = {s["id"]: s for s in steps}

    main_done = all(spans[s].status.finished for s in main_ids)
    back_done = rollback_at is not None and all(spans[s].status.finished for s in back_ids)
    end: float | None
    if main_done:
        end, outcome = max(spans[s].finished or 0.0 for s in main_ids), "finished"
    elif back_done:
        end, outcome = max(spans[s].finished or 0.0 for s in back_ids), "rolled back"
    else:
        end, outcome = last_wall, "unfinished"
    planned_total = _path_s(main_plan, main_path)
    elapsed = _since(end, anchor)
    counts = {k: sum(1 for s in steps if s["status"] == k) for k in ("done", "skipped", "failed")}
    return {
        "format": FORMAT,
        "cutover": plan.cutover.id,
        "rehearsal": rehearsal,
        "anchor_wall": anchor,
        "entries": len(entries),
        "steps": steps,
        "critical_path": {
            "planned": main_path,
            "planned_s": planned_total,
            "actual": main_actual,
            "overruns": _overruns(by_id, main_path, main_actual),
        },
        "faults": fault_answers(entries, anchor),
        "rollback_drill": _drill(rb.rollback.phases, spans, back_plan, back_path, back_actual,
                                 back_anchor, anchor, by_id, back_done),
        "totals": {
            "planned_s": planned_total,
            "elapsed_s": None if elapsed is None else max(0.0, elapsed),
            "over_s": (_r(max(0.0, elapsed - planned_total))
                       if elapsed is not None and outcome == "finished" else None),
            "finished": main_done,
            "outcome": outcome,
            "steps": len(steps),
            **counts,
            "overrun_steps": sum(1 for s in steps if (s["overrun_s"] or 0) > 0),
        },
    }


def _rehearsal(e: Entry) -> dict[str, Any]:
    data = e.data if isinstance(e.data, dict) else {}
    name = e.subject if e.subject is not None else data.get("scenario")
    return {"scenario": clean(name, NAME_LIMIT, single_line=True) if isinstance(name, str) else "",
            "speed": finite_number(data.get("speed"))}


def _step(sid: str, book: str, phase: Phase, planned: float, span: Span,
          planned_start: float | None, anchor: float | None, on_plan: bool,
          on_actual: bool) -> dict[str, Any]:
    actual = span.duration_s
    started = _since(span.started, anchor)
    overrun = None if actual is None or span.skipped else _r(max(0.0, actual - planned))
    part = getattr(phase, "drill_part", None)
    return {
        "id": sid, "book": book, "phase": phase.id, "part": part,
        "status": span.status.value, "skipped": span.skipped,
        "planned_s": _r(planned), "planned_start_s": _r(planned_start),
        "started_s": started, "finished_s": _since(span.finished, anchor),
        "actual_s": _r(actual),
        "lateness_s": (_r(started - planned_start)
                       if started is not None and planned_start is not None else None),
        "overrun_s": overrun,
        "planned_critical": on_plan, "actual_critical": on_actual,
    }


def _path_s(schedule, path: list[str]) -> float:
    return _r(schedule[path[-1]].finish_s) if path else 0.0  # type: ignore[return-value]


def _overruns(by_id: dict[str, dict], planned: list[str], actual: list[str]) -> list[dict]:
    ids = list(dict.fromkeys(planned + actual))
    order = list(by_id)
    ids.sort(key=order.index)
    return [{"id": sid, "overrun_s": by_id[sid]["overrun_s"]} for sid in ids
            if (by_id[sid]["overrun_s"] or 0) > 0]


def _drill(phases: Sequence[Any], spans: dict[str, Span], sched, path: list[str],
           actual: list[str], start: float | None, anchor: float | None,
           by_id: dict[str, dict], finished: bool) -> dict[str, Any] | None:
    if start is None:
        return None
    ids = [s.id for p in phases for s in p.steps]
    finishes = [f for f in (_since(spans[s].finished, anchor) for s in ids) if f is not None]
    duration = _r(max(0.0, max(finishes) - start)) if finishes else None
    planned = _path_s(sched, path)
    parts: dict[str, Any] = {}
    for name in ("transport", "data"):
        mine = [p for p in phases if p.drill_part == name]
        sids = [s.id for p in mine for s in p.steps]
        starts = [t for t in (spans[s].started for s in sids) if t is not None]
        ends = [t for t in (spans[s].finished for s in sids) if t is not None]
        done = bool(sids) and all(spans[s].status.finished for s in sids)
        part_planned = sum(max(sched[s.id].finish_s for s in p.steps)
                           - min(sched[s.id].start_s for s in p.steps) for p in mine)
        parts[name] = {
            "phases": [p.id for p in mine],
            "planned_s": _r(part_planned),
            "duration_s": (_r(max(0.0, max(ends) - min(starts)))
                           if done and starts and ends else None),
            "finished": done,
        }
    return {
        "started_s": start,
        "planned_s": planned,
        "duration_s": duration,
        "finished": finished,
        "over_s": _r(max(0.0, duration - planned)) if finished and duration is not None else None,
        "parts": parts,
        "critical_path": {"planned": path, "planned_s": planned, "actual": actual,
                          "overruns": _overruns(by_id, path, actual)},
    }


def _change(now: float | None, then: float | None) -> dict[str, Any]:
    if now is None or then is None:
        return {"actual_s": now, "baseline_s": then, "delta_s": None, "ratio": None,
                "change": None}
    delta = _r(now - then)
    return {"actual_s": now, "baseline_s": then, "delta_s": delta,
            "ratio": round(now / then, 3) if then > 0 else None,
            "change": "slower" if delta and delta > 0 else "faster" if delta and delta < 0
            else "same"}


def _compare(report: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    base_steps = {s["id"]: s for s in base["steps"]}
    b_drill, drill = base["rollback_drill"], report["rollback_drill"]
    return {
        "rehearsal": base["rehearsal"],
        "entries": base["entries"],
        "steps": [{"id": s["id"], **_change(s["actual_s"], base_steps[s["id"]]["actual_s"])}
                  for s in report["steps"]],
        "total": {**_change(_ended(report), _ended(base)),
                  "outcome": report["totals"]["outcome"],
                  "baseline_outcome": base["totals"]["outcome"]},
        "rollback_drill": None if drill is None and b_drill is None else {
            **_change(_drilled(drill), _drilled(b_drill)),
            "parts": {name: _change(_drilled(drill, name), _drilled(b_drill, name))
                      for name in ("transport", "data")},
        },
    }


def _ended(report: dict[str, Any]) -> float | None:
    """The elapsed time of a night that ended (finished or rolled back), else None."""
    t = report["totals"]
    return t["elapsed_s"] if t["outcome"] != "unfinished" else None


def _drilled(drill: dict[str, Any] | None, part: str | None = None) -> float | None:
    if drill is None:
        return None
    d = drill if part is None else drill["parts"][part]
    return d["duration_s"] if d["finished"] else None
