"""``evidence.md``: the facts as Markdown, for a ticket or a wiki. Every value that came from
outside goes through :func:`cockpit.report.escape.md`; the structure (headings, tables) is
ours alone."""

from __future__ import annotations

from cockpit.durations import format_duration
from cockpit.report.escape import md
from cockpit.report.facts import Facts

UNVERIFIED = "UNVERIFIED"


def _d(seconds: float | None) -> str:
    return "" if seconds is None else md(format_duration(seconds))


def _v(ok: bool) -> str:
    return "" if ok else f" **{UNVERIFIED}**"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render(f: Facts) -> str:
    s, v = f.summary, f.summary.verification
    out: list[str] = [f"# Evidence pack: {md(s.name)} ({md(s.cutover)})", ""]
    out += [f"**Verification:** {md(v.words)}", ""]
    if not v.ok:
        out += [f"> **{UNVERIFIED}:** every figure marked {UNVERIFIED} below comes from an "
                "entry after the damage and is not evidence.", ""]
    out += ["## Summary", "",
            _row("Item", "Value"), _row("---", "---"),
            _row("Cutover", f"{md(s.name)} ({md(s.cutover)})"),
            _row("Kind", "rehearsal" if s.rehearsal else "cutover night"),
            _row("Window", f"{md(s.window_start or 'not known')} to {md(s.window_end or 'not known')}"),
            _row("Outcome", md(s.outcome_words)),
            _row("Operators", md(", ".join(s.operators) or "none")),
            _row("Entries", f"{v.entries} ({v.verified_entries} verified)"),
            _row("First entry", md(s.first_entry or "")),
            _row("Last entry", md(s.last_entry or "")),
            _row("Journal head", f"#{v.head_seq} {md(v.head_hash or 'none')}"),
            _row("Journal", md(s.journal)),
            _row("Generated", md(f.generated)), ""]
    for w in f.warnings:
        out.append(f"- Warning: {md(w)}")
    out += ["", "### Where the figures come from", ""]
    out += [f"- {md(k)}: {md(val)}" for k, val in f.sources.items()]
    out += ["", "## Runbook steps: planned against actual", ""]
    if f.steps:
        out += [_row("Step", "Title", "Book", "Status", "By", "Planned", "Rehearsed", "Actual",
                     "Overrun", "Finished"), _row(*["---"] * 10)]
        for st in f.steps:
            flag = " (critical)" if st.critical else ""
            out.append(_row(md(st.id) + flag, md(st.title), st.book, md(st.status) + _v(st.verified),
                            md(st.by or ""), _d(st.planned_s), _d(st.baseline_s), _d(st.actual_s),
                            ("OVERRUN " + _d(st.overrun_s)) if st.overrun_s else "",
                            md(st.finished or "")))
    else:
        out.append("No plan: the steps are in the timeline below.")
    out += ["", "## Overrides, skips, approvals, decisions and rollbacks", ""]
    if f.highlights:
        out += [_row("#", "Time", "What", "Who", "Requested by", "Reason code", "Note",
                     "Gates at the time"), _row(*["---"] * 8)]
        for x in f.highlights:
            gates = "; ".join(f"{md(g.gate)} {md(g.state)}" for g in x.gates)
            out.append(_row(f"{x.seq}{_v(x.verified)}", md(x.ts), f"{md(x.kind)}: {md(x.detail)}",
                            md(x.who), md(x.requested_by or ""), md(x.reason_code or ""),
                            md(x.note), gates))
    else:
        out.append("None recorded.")
    out += ["", "## Reconciliation per table and layer", ""]
    if f.recon:
        out += [_row("Run #", "Time", "Layer", "Table or check", "Result", "Findings", "Figures"),
                _row(*["---"] * 7)]
        for u in f.recon:
            figures = ", ".join(f"{k} {'?' if n is None else f'{n:g}'}" for k, n in u.figures.items())
            result = "FAILED" if u.failed else "ok"
            if u.error:
                result += f": {md(u.error)}"
            out.append(_row(f"{u.seq}{_v(u.verified)}", md(u.ts), md(u.layer), md(u.table), result,
                            u.findings, md(figures)))
    else:
        out.append("No reconciliation run recorded.")
    out += ["", "## Exception queue and triage", ""]
    if f.exceptions:
        out += [_row("Exception", "Title", "Layer", "Table", "Severity", "Status", "Category",
                     "Triage (when, who, category, reason, note)"), _row(*["---"] * 8)]
        for ex in f.exceptions:
            tri = "; ".join(f"{md(t.ts)} {md(t.who)} {md(t.category)} {md(t.reason_code or '')} "
                            f"{md(t.note)}{_v(t.verified)}" for t in ex.triage) or "not triaged"
            out.append(_row(md(ex.id) + _v(ex.verified), md(ex.title), md(ex.layer), md(ex.table),
                            md(ex.severity), md(ex.status), md(ex.category), tri))
    else:
        out.append("No exceptions.")
    if f.rehearsal is not None:
        r = f.rehearsal
        out += ["", "## Rehearsal timing report", "",
                f"Scenario {md(r.scenario)}, speed {md(r.speed)}x{_v(r.verified)}.", "",
                f"Rollback drill: started {_d(r.drill_started_s) or 'never'} after the start, "
                f"planned {_d(r.drill_planned_s)}, took {_d(r.drill_duration_s) or 'unfinished'}.", ""]
        if r.faults:
            out += [_row("Fault", "Kind", "At", "Time to detect", "By", "Time to decide", "By",
                         "Outcome"), _row(*["---"] * 8)]
            for ft in r.faults:
                out.append(_row(md(ft.id), md(ft.kind), _d(ft.at_s), _d(ft.detect_s),
                                md(ft.detected_by or ""), _d(ft.decide_s), md(ft.decided_by or ""),
                                md(ft.outcome)))
    c = f.charts
    out += ["", "## Gates and signals", "",
            f"Gate bands from: {md(f.sources['gate bands'])}.", ""]
    for band in c.gates:
        changes = ", ".join(f"{md(state)} from {md(_hhmm(a))}" for a, _b, state in band.spans[:50])
        more = f" (and {len(band.spans) - 50} more changes)" if len(band.spans) > 50 else ""
        out.append(f"- {md(band.gate)}: {changes}{more}")
    if c.signals:
        out += ["", _row("Signal", "Unit", "Min", "Max", "Last", "Minutes", "Errors", "Gate thresholds"),
                _row(*["---"] * 8)]
        for sig in c.signals:
            out.append(_row(md(sig.signal), md(sig.unit), _n(sig.lo), _n(sig.hi), _n(sig.last),
                            sig.minutes if sig.drawn else "", sig.errors if sig.drawn else "", md("; ".join(t.label for t in sig.thresholds))))
    out += ["", "## Timeline", "", f"{len(f.timeline)} entries.", "",
            _row("#", "Time", "Who", "Action", "Subject", "Reason", "Note"), _row(*["---"] * 7)]
    mark = f" **{UNVERIFIED}**"
    out += [f"| {t.seq}{'' if t.verified else mark} | {md(t.ts)} | {md(t.who)} | {md(t.action)} | "
            f"{md(t.subject)} | {md(t.reason_code or '')} | {md(t.note)} |" for t in f.timeline]
    return "\n".join(out) + "\n"


def _n(x: float | None) -> str:
    return "" if x is None else md(f"{x:g}")


def _hhmm(wall: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.gmtime(wall))
