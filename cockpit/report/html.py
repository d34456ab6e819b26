"""``index.html``: one self-contained page. No script at all, no external style, font or image;
a Content-Security-Policy meta (``default-src 'none'; style-src 'unsafe-inline'; img-src
data:``) makes any browser refuse whatever might still try to load. Charts are inline SVG
(``cockpit.report.svg``). A print stylesheet drops backgrounds and starts each section on a new
page, so the browser's "Save as PDF" gives a usable document. The timeline is in ``<details>``
blocks, one per hour and at most :data:`PER_BLOCK` entries each, so a 100,000-entry journal
stays usable. Every value that came from outside goes through ``escape.h``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from cockpit.durations import format_duration
from cockpit.report import svg
from cockpit.report.escape import h
from cockpit.report.facts import Facts, StepFact, TimelineEntry

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
PER_BLOCK = 500
UNVERIFIED = '<strong class="unverified">UNVERIFIED</strong>'

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;color:#111}
h1{font-size:1.6em}h2{border-bottom:2px solid #444;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #999;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{padding:.8em 1em;border:3px solid #2a6;font-weight:bold}
.verdict.bad{border-color:#c00;background:#fee}
.unverified{color:#c00}.overrun{font-weight:bold}
.hl td{background:#fff8e0}
details{margin:.2em 0}summary{cursor:pointer;font-weight:bold}
.chart{margin:.6em 0}.mono{font-family:ui-monospace,monospace;word-break:break-all}
@media print{
 body{max-width:none;color:#000}th,.hl td,.verdict.bad{background:none}
 section{break-before:page}section.first{break-before:auto}
 details::details-content{content-visibility:visible;display:block}tr{break-inside:avoid}
 .verdict{border-color:#000}
}
"""


def _d(seconds: float | None) -> str:
    return "" if seconds is None else h(format_duration(seconds))


def _v(ok: bool) -> str:
    return "" if ok else " " + UNVERIFIED


def _table(head: Iterable[str], rows: Iterable[str]) -> str:
    ths = "".join(f"<th>{c}</th>" for c in head)
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _tr(*cells: object, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<tr{c}>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>"


def _hhmm(wall: float | None) -> str:
    return "" if wall is None else time.strftime("%H:%M", time.gmtime(wall))


def render(f: Facts) -> str:
    s, v = f.summary, f.summary.verification
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Evidence pack: {h(s.name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Evidence pack: {h(s.name)} <span class=\"mono\">({h(s.cutover)})</span></h1>",
             f'<p class="verdict{"" if v.ok else " bad"}">{h(v.words)}</p>']
    parts.append(_summary(f))
    parts.append(_charts(f))
    parts.append(_steps(f))
    parts.append(_highlights(f))
    parts.append(_recon(f))
    if f.rehearsal is not None:
        parts.append(_rehearsal(f))
    parts.append(_signals(f))
    parts.append(_timeline(f.timeline))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _summary(f: Facts) -> str:
    s, v = f.summary, f.summary.verification
    rows = [
        _tr("Cutover", f"{h(s.name)} ({h(s.cutover)})"),
        _tr("Kind", "rehearsal" if s.rehearsal else "cutover night"),
        _tr("Window", f"{h(s.window_start or 'not known')} to {h(s.window_end or 'not known')}"),
        _tr("Outcome", f"<strong>{h(s.outcome_words)}</strong>"),
        _tr("Operators", h(", ".join(s.operators) or "none")),
        _tr("Entries", f"{v.entries} ({v.verified_entries} verified)"),
        _tr("First entry", h(s.first_entry or "")), _tr("Last entry", h(s.last_entry or "")),
        _tr("Journal head", f'<span class="mono">#{v.head_seq} {h(v.head_hash or "none")}</span>'),
        _tr("Journal", f'<span class="mono">{h(s.journal)}</span>'),
        _tr("Generated", h(f.generated)),
    ]
    warn = "".join(f"<li>Warning: {h(w)}</li>" for w in f.warnings)
    src = "".join(f"<li>{h(k)}: {h(val)}</li>" for k, val in f.sources.items())
    return (f'<section class="first"><h2>Summary</h2>{_table(["Item", "Value"], rows)}'
            f"{'<ul>' + warn + '</ul>' if warn else ''}"
            f"<h3>Where the figures come from</h3><ul>{src}</ul></section>")


def _gantt_row(st: StepFact, t1: float) -> svg.GanttRow:
    planned = actual = base = None
    if st.started_wall is not None:
        planned = (st.started_wall, st.started_wall + st.planned_s)
        actual = (st.started_wall, st.finished_wall if st.finished_wall is not None else t1)
        if st.baseline_s is not None:
            base = (st.started_wall, st.started_wall + st.baseline_s)
    status = st.status + ("" if st.verified else " UNVERIFIED")
    return svg.GanttRow(f"{st.id} {st.title}", planned, actual, base, bool(st.overrun_s), status)


def _charts(f: Facts) -> str:
    c = f.charts
    out = ['<section><h2>Charts</h2>']
    if c.t0 is None or c.t1 is None or c.t1 <= c.t0:
        out.append("<p>Nothing to chart: the journal spans no time.</p></section>")
        return "".join(out)
    t0, t1 = c.t0, c.t1
    rows = [_gantt_row(st, t1) for st in f.steps if st.started_wall is not None]
    if rows:
        out.append('<div class="chart">' + svg.gantt(
            rows, t0=t0, t1=t1, title="Runbook steps: planned (from the actual start), "
                                      "rehearsed and actual") + "</div>")
    if c.gates:
        out.append(f"<p>Gate states over time, from {h(f.sources['gate bands'])}.</p>")
        out.append('<div class="chart">' + svg.gate_bands(
            [(b.gate, b.spans) for b in c.gates], t0=t0, t1=t1, title="Gate states over time")
            + "</div>")
    drawn = [sg for sg in c.signals if sg.drawn and sg.points]
    if drawn:
        out.append(f"<p>Signals from {h(f.sources['signal charts'])}; the gate thresholds are "
                   "drawn as lines.</p>")
    for sg in drawn:
        series = [svg.Series(sg.signal, sg.points, sg.band or None)]
        ths = [svg.Threshold(t.value, t.label) for t in sg.thresholds]
        out.append('<div class="chart">' + svg.line_chart(
            series, t0=t0, t1=t1, unit=sg.unit, title=sg.signal, thresholds=ths) + "</div>")
    out.append("</section>")
    return "".join(out)


def _steps(f: Facts) -> str:
    if not f.steps:
        return ("<section><h2>Runbook steps</h2><p>No plan: the steps are in the timeline."
                "</p></section>")
    rows = []
    for st in f.steps:
        over = f'<span class="overrun">OVERRUN {_d(st.overrun_s)}</span>' if st.overrun_s else ""
        rows.append(_tr(h(st.id) + (" (critical)" if st.critical else "")
                        + (" (two-person)" if st.two_person else ""),
                        h(st.title), h(st.book), h(st.status) + _v(st.verified), h(st.by or ""),
                        _d(st.planned_s), _d(st.baseline_s), _d(st.actual_s), over,
                        h(st.finished or "")))
    return ("<section><h2>Runbook steps: planned against actual</h2>"
            + _table(["Step", "Title", "Book", "Status", "By", "Planned", "Rehearsed", "Actual",
                      "Overrun", "Finished"], rows) + "</section>")


def _highlights(f: Facts) -> str:
    if not f.highlights:
        body = "<p>None recorded.</p>"
    else:
        rows = []
        for x in f.highlights:
            gates = "<br>".join(f"{h(g.gate)}: {h(g.state)} ({h(g.reason)})" for g in x.gates)
            rows.append(_tr(f"{x.seq}{_v(x.verified)}", h(x.ts),
                            f"<strong>{h(x.kind)}</strong>: {h(x.detail)}", h(x.who),
                            h(x.requested_by or ""), h(x.reason_code or ""), h(x.note), gates,
                            cls="hl"))
        body = _table(["#", "Time", "What", "Who", "Requested by", "Reason code", "Note",
                       "Gates at the time"], rows)
    return ("<section><h2>Overrides, skips, approvals, decisions and rollbacks</h2>"
            + body + "</section>")


def _recon(f: Facts) -> str:
    out = ["<section><h2>Reconciliation per table and layer</h2>"]
    if f.recon:
        rows = []
        for u in f.recon:
            figures = ", ".join(f"{h(k)} {'?' if n is None else f'{n:g}'}" for k, n in u.figures.items())
            result = "<strong>FAILED</strong>" if u.failed else "ok"
            if u.error:
                result += f": {h(u.error)}"
            rows.append(_tr(f"{u.seq}{_v(u.verified)}", h(u.ts), h(u.layer), h(u.table), result,
                            u.findings, figures))
        out.append(_table(["Run #", "Time", "Layer", "Table or check", "Result", "Findings",
                           "Figures"], rows))
    else:
        out.append("<p>No reconciliation run recorded.</p>")
    out.append("<h3>Exception queue and triage</h3>")
    if f.exceptions:
        rows = []
        for x in f.exceptions:
            tri = "<br>".join(f"{h(t.ts)} {h(t.who)}: {h(t.category)} {h(t.reason_code or '')} "
                              f"{h(t.note)}{_v(t.verified)}" for t in x.triage) or "not triaged"
            rows.append(_tr(f'<span class="mono">{h(x.id)}</span>{_v(x.verified)}', h(x.title),
                            h(x.layer), h(x.table), h(x.severity), h(x.status), h(x.category),
                            x.keys, tri))
        out.append(_table(["Exception", "Title", "Layer", "Table", "Severity", "Status",
                           "Category", "Keys", "Triage (when, who, category, reason, note)"], rows))
    else:
        out.append("<p>No exceptions.</p>")
    out.append("</section>")
    return "".join(out)


def _rehearsal(f: Facts) -> str:
    r = f.rehearsal
    assert r is not None
    rows = [_tr(h(ft.id), h(ft.kind), _d(ft.at_s), _d(ft.detect_s), h(ft.detected_by or ""),
                _d(ft.decide_s), h(ft.decided_by or ""), h(ft.outcome)) for ft in r.faults]
    return (f"<section><h2>Rehearsal timing report</h2><p>Scenario {h(r.scenario)}, speed "
            f"{h(r.speed)}x{_v(r.verified)}. Rollback drill: started "
            f"{_d(r.drill_started_s) or 'never'} after the start, planned {_d(r.drill_planned_s)}, "
            f"took {_d(r.drill_duration_s) or 'unfinished'}.</p>"
            + (_table(["Fault", "Kind", "At", "Time to detect", "By", "Time to decide", "By",
                       "Outcome"], rows) if rows else "<p>No fault injected.</p>") + "</section>")


def _signals(f: Facts) -> str:
    c = f.charts
    if not c.signals:
        return ("<section><h2>Signals</h2><p>No signal history beside the journal.</p>"
                "</section>")
    rows = [_tr(h(sg.signal), h(sg.unit), _n(sg.lo), _n(sg.hi), _n(sg.last),
                sg.minutes if sg.drawn else "", sg.errors if sg.drawn else "", h("; ".join(t.label for t in sg.thresholds)),
                "yes" if sg.drawn else "no (not read)") for sg in c.signals]
    return ("<section><h2>Signals (from the signal history)</h2>"
            + _table(["Signal", "Unit", "Min", "Max", "Last", "Minutes", "Errors",
                      "Gate thresholds", "Charted"], rows) + "</section>")


def _n(x: float | None) -> str:
    return "" if x is None else h(f"{x:g}")


def _timeline(timeline: list[TimelineEntry]) -> str:
    out = [f"<section><h2>Timeline</h2><p>{len(timeline)} entries, in blocks of at most "
           f"{PER_BLOCK} per hour (open a block to read it).</p>"]
    head = ("<table><thead><tr><th>#</th><th>Time</th><th>Who</th><th>Action</th>"
            "<th>Subject</th><th>Reason</th><th>Note</th></tr></thead><tbody>")
    block: list[str] = []
    key: tuple[str] | None = None

    def close() -> None:
        if block and key is not None:
            out.append(f"<details><summary>{h(key[0])}:00 UTC, entries #{first} to #{last} "
                       f"({len(block)})</summary>{head}{''.join(block)}</tbody></table></details>")

    first = last = 0
    for t in timeline:
        hour = t.ts[:13] if len(t.ts) >= 13 else "?"
        if key is None or hour != key[0] or len(block) >= PER_BLOCK:
            close()
            block, key, first = [], (hour,), t.seq
        last = t.seq
        mark = "" if t.verified else " " + UNVERIFIED
        block.append(f"<tr><td>{t.seq}{mark}</td><td>{h(t.ts)}</td><td>{h(t.who)}</td>"
                     f"<td>{h(t.action)}</td><td>{h(t.subject)}</td><td>{h(t.reason_code or '')}"
                     f"</td><td>{h(t.note)}</td></tr>")
    close()
    out.append("</section>")
    return "".join(out)
