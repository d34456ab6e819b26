"""The timing report as plain text: short lines in aligned columns within 80 columns (all but
the first, which names the journal file whole), no colour needed (an overrun says "+12m
over", a late start "+5m late").

Step titles come from the plan (trusted, still cut to their column); every string that came
from the journal (scenario name, fault ids, operator names) was cleaned and bounded when the
report was built and is cleaned again here, where it is placed.
"""

from __future__ import annotations

from typing import Any

from cockpit.config.plan import Plan
from cockpit.durations import format_duration
from cockpit.text import clean

WIDTH = 80
ON_TIME_S = 1.0  # a start within a second of the plan is on time (timestamps are to the ms)


def _d(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _cut(value: Any, limit: int) -> str:
    return clean("" if value is None else str(value), limit, single_line=True)


def _late(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if abs(seconds) < ON_TIME_S:
        return "on time"
    return f"+{format_duration(seconds)} late" if seconds > 0 else f"{format_duration(-seconds)} early"


def _over(seconds: float | None) -> str:
    return f"+{format_duration(seconds)} over" if seconds else ""


def _change(c: dict[str, Any] | None) -> str:
    if not c or c.get("change") is None:
        return "-"
    if c["change"] == "same":
        return "same"
    return f"{'+' if c['delta_s'] > 0 else '-'}{format_duration(abs(c['delta_s']))} {c['change']}"


def _status(step: dict[str, Any]) -> str:
    return "skipped" if step["skipped"] else step["status"]


def render(plan: Plan, report: dict[str, Any], journal: str) -> list[str]:
    """The report's lines, in order."""
    titles = {s.id: s.title for s in plan.runbook.all_steps() + plan.runbook.rollback_steps()}
    t = report["totals"]
    reh = report["rehearsal"]
    out = [f"timings of {_cut(journal, 500)}"]  # a path is not cut: it must stay usable
    if reh is not None:
        speed = f" at speed x{reh['speed']:g}" if reh["speed"] is not None else ""
        out.append(f"rehearsal {_cut(reh['scenario'], 40)}{speed}, {report['entries']} entries")
    else:
        out.append(f"{report['entries']} entries, not a rehearsal journal")
    outcome = {"finished": "finished", "rolled back": "rolled back",
               "unfinished": "not finished"}[t["outcome"]]
    over = f" ({_over(t['over_s'])})" if t["over_s"] else ""
    out.append(f"planned {_d(t['planned_s'])} on the critical path; actual {_d(t['elapsed_s'])}"
               f"{over}, {outcome}")
    base = report.get("baseline")
    base_steps = {c["id"]: c for c in base["steps"]} if base else {}
    cols = f"{'step':<8} {'status':<8} {'planned':>7} {'actual':>7}  {'start':<12} {'overrun':<11}"
    if base:
        cols += f" {'vs baseline':<14}"
    room = WIDTH - len(cols) - 1
    out.append((cols + (" title" if room >= 6 else "")).rstrip())
    book = None
    for s in report["steps"]:
        if s["book"] != book:
            book = s["book"]
            if book == "rollback":
                if report["rollback_drill"] is None:
                    out.append("rollback: not started")
                    break
                out.append("rollback")
        line = (f"{_cut(s['id'], 8):<8} {_status(s):<8} {_d(s['planned_s']):>7} "
                f"{_d(s['actual_s']):>7}  {_late(s['lateness_s']):<12} {_over(s['overrun_s']):<11}")
        if base:
            line += f" {_change(base_steps.get(s['id'])):<14}"
        if room >= 6:
            line += " " + _cut(titles.get(s["id"], ""), room)
        out.append(line.rstrip())
    out += _paths("critical path", report["critical_path"])
    out += _faults(report["faults"])
    out += _drill(report["rollback_drill"], base)
    if base:
        out.append(f"against the baseline ({_cut((base.get('rehearsal') or {}).get('scenario'), 40) or 'journal'}): "
                   f"total {_change(base['total'])}")
    return out


def _paths(name: str, cp: dict[str, Any]) -> list[str]:
    out = [f"{name}, planned ({_d(cp['planned_s'])}): {' '.join(cp['planned']) or '-'}",
           f"{name}, actual: {' '.join(cp['actual']) or '-'}"]
    if cp["overruns"]:
        out.append("overruns on it: " + ", ".join(f"{o['id']} {_over(o['overrun_s'])}"
                                                  for o in cp["overruns"]))
    return out


def _faults(faults: list[dict[str, Any]]) -> list[str]:
    if not faults:
        return ["faults: none injected"]
    out = [f"{'fault':<14} {'kind':<21} {'at':>6}  {'detected':<15} decided"]
    for f in faults:
        out.append(f"{_cut(f['id'], 14):<14} {_cut(f['kind'], 21):<21} {_d(f['at_s']):>6}  "
                   f"{_answer(f, 'detect_s', 'detected_by'):<15} "
                   f"{_answer(f, 'decide_s', 'decided_by')}")
    return out


def _answer(fault: dict[str, Any], key: str, by: str) -> str:
    if fault[key] is None:
        return "not answered"
    action = fault[by]["action"]
    return f"{_d(fault[key])} {_ANSWER.get(action) or _cut(action, 8)}"


# The answering action in a word (the JSON report has the action itself).
_ANSWER = {"note": "note", "step.fail": "fail", "decision.record": "decision",
           "rollback.start": "rollback", "gate.override": "override",
           "exception.triage": "triage", "step.confirm": "confirm", "step.skip": "skip",
           "step.run": "run", "recon.run": "recon", "journal.quarantine_ack": "ack"}


def _drill(drill: dict[str, Any] | None, base: dict[str, Any] | None) -> list[str]:
    if drill is None:
        return ["rollback drill: not run"]
    parts = drill["parts"]

    def part(name: str) -> str:
        p = parts[name]
        if not p["phases"]:
            return f"{name} -"
        got = _d(p["duration_s"]) if p["finished"] else "not finished"
        vs = f" {_change(base['rollback_drill']['parts'][name])}" if base and base["rollback_drill"] else ""
        return f"{name} {got} of {_d(p['planned_s'])}{vs}"

    state = _d(drill["duration_s"]) if drill["finished"] else "not finished"
    over = f" {_over(drill['over_s'])}" if drill["over_s"] else ""
    vs = f" (baseline: {_change(base['rollback_drill'])})" if base and base["rollback_drill"] else ""
    out = [f"rollback drill: {state} of {_d(drill['planned_s'])} planned{over}{vs}",
           f"  {part('transport')}; {part('data')}"]
    out += ["  " + line for line in _paths("its critical path", drill["critical_path"])]
    return out
