"""The facts of an evidence pack: one pure function from the journal (its entries and its
verification), the plan when there is one and the signal history when there is one, to a typed
object that ``html``, ``markdown`` and ``jsonout`` only lay out. One source of every figure, so
the three files cannot disagree.

- Entries up to the last verified one are *verified*; entries read after damage (by a lenient
  reading of the lines past it, see ``cockpit.report.source``) are kept, each marked
  unverified, and so is every figure that any of them changed (a step finished after the
  damage, a triage recorded after it...).
- Step timings are the span rule (``cockpit.runbook.spans``) and the timing report
  (``cockpit.timings``); the rehearsed duration is the median over the plan's baselines
  (``cockpit.runbook.baseline``), as the forecast reads them.
- Charts come from the signal history (evidence's helper, not the truth) and gate bands from it
  or, without history, from the journal's ``gate.change`` entries; ``Charts.source`` says which.
- Every string that came from outside (notes, titles, operator names, errors) is passed through
  ``cockpit.text.clean`` here; escaping for HTML or Markdown is each renderer's job.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from cockpit import expr
from cockpit.config.plan import Plan
from cockpit.journal import Entry
from cockpit.journal.entry import format_ts
from cockpit.journal.verify import VerifyResult
from cockpit.runbook.spans import SpanFold
from cockpit.text import clean
from cockpit.timings import timings_report
from cockpit.units import finite_number, unit_of

SCHEMA_VERSION = 1
SYSTEM = "system"
TEXT_LIMIT = 500
NAME_LIMIT = 64
MAX_CHARTS = 12  # signals charted (with their figures); the others are listed by name
OUTCOMES = ("completed", "rolled back", "abandoned", "in progress")


class HistoryLike(Protocol):
    """What the facts read of ``cockpit.history.store.History``."""

    def signals(self) -> list[str]: ...
    def gates(self) -> list[str]: ...
    def series(self, signal: str, t0: float | None = None, t1: float | None = None) -> list[Any]: ...
    def gate_changes(self, gate: str | None = None) -> list[Any]: ...
    def span(self) -> tuple[float, float] | None: ...


@functools.lru_cache(maxsize=1 << 16)
def _cleaned(value: str, limit: int) -> str:
    return clean(value, limit, single_line=True)


def _t(value: object, limit: int = TEXT_LIMIT) -> str:
    """One cleaned line (a journal repeats its actors, actions and subjects: cached)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _cleaned(value, limit)
    return clean(value, limit, single_line=True)


def _ts(wall: float | None) -> str | None:
    return None if wall is None else format_ts(wall)


@dataclass(frozen=True)
class Verification:
    ok: bool
    intact: bool
    words: str  # the result in plain words, first thing the reader sees
    entries: int  # entries in the pack (verified and not)
    verified_entries: int
    verified_through_seq: int  # every entry up to this seq verified; 0 when none
    head_seq: int
    head_hash: str | None
    bad_seq: int | None
    problem: str | None
    unreadable_lines: int  # lines after the damage that could not be read at all
    expect_head: str | None


@dataclass(frozen=True)
class Summary:
    cutover: str
    name: str
    window_start: str | None
    window_end: str | None
    rehearsal: bool
    outcome: str
    outcome_words: str
    operators: list[str]
    first_entry: str | None
    last_entry: str | None
    journal: str
    verification: Verification


@dataclass(frozen=True)
class StepFact:
    id: str
    title: str
    book: str  # runbook | rollback
    phase: str
    critical: bool
    two_person: bool
    status: str
    by: str | None
    planned_s: float
    baseline_s: float | None  # rehearsed (median over the plan's baselines), None without one
    started: str | None
    finished: str | None
    actual_s: float | None
    overrun_s: float | None
    started_wall: float | None
    finished_wall: float | None
    verified: bool


@dataclass(frozen=True)
class GateSeen:
    gate: str
    state: str
    reason: str


@dataclass(frozen=True)
class Highlight:
    kind: str  # override | skip | critical skip | approval | rollback | decision | request end
    seq: int
    ts: str
    who: str
    subject: str
    reason_code: str | None
    note: str
    detail: str
    requested_by: str | None
    gates: list[GateSeen]
    verified: bool


@dataclass(frozen=True)
class ReconUnit:
    seq: int
    ts: str
    unit: str
    layer: str
    table: str
    failed: bool
    error: str
    findings: int
    figures: dict[str, float | None]
    verified: bool


@dataclass(frozen=True)
class TriageFact:
    seq: int
    ts: str
    who: str
    category: str
    reason_code: str | None
    note: str
    verified: bool


@dataclass(frozen=True)
class ExceptionFact:
    id: str
    layer: str
    table: str
    kind: str
    severity: str
    category: str
    title: str
    keys: int  # how many keys (hashed where identifying): their values stay in the journal
    opened: str
    opened_seq: int
    status: str
    closed: str | None
    triage: list[TriageFact]
    verified: bool


@dataclass(slots=True)  # not frozen: 100,000 of them, and a frozen __init__ costs twice as much
class TimelineEntry:
    seq: int
    ts: str
    wall: float
    who: str
    action: str
    subject: str
    reason_code: str | None
    note: str
    verified: bool


@dataclass(frozen=True)
class Fault:
    id: str
    kind: str
    at_s: float | None
    detect_s: float | None
    decide_s: float | None
    detected_by: str | None
    decided_by: str | None
    outcome: str


@dataclass(frozen=True)
class RehearsalFacts:
    scenario: str
    speed: float | None
    faults: list[Fault]
    drill_started_s: float | None
    drill_planned_s: float | None
    drill_duration_s: float | None
    drill_finished: bool
    verified: bool


@dataclass(frozen=True)
class Threshold:
    gate: str
    value: float
    label: str


@dataclass(frozen=True)
class SignalChart:
    signal: str
    unit: str
    points: list[tuple[float, float]]  # (minute, last)
    band: list[tuple[float, float, float]]  # (minute, lo, hi)
    thresholds: list[Threshold]
    lo: float | None
    hi: float | None
    last: float | None
    minutes: int
    errors: int
    drawn: bool


@dataclass(frozen=True)
class GateBand:
    gate: str
    spans: list[tuple[float, float, str]]  # (start, end, state)


@dataclass(frozen=True)
class Charts:
    t0: float | None
    t1: float | None
    gate_source: str  # "history" | "journal" | "none"
    signal_source: str  # "history" | "none"
    gates: list[GateBand]
    signals: list[SignalChart]


@dataclass(frozen=True)
class Facts:
    schema_version: int
    generated: str
    summary: Summary
    steps: list[StepFact]
    highlights: list[Highlight]
    recon: list[ReconUnit]
    exceptions: list[ExceptionFact]
    rehearsal: RehearsalFacts | None
    charts: Charts
    timeline: list[TimelineEntry]
    sources: dict[str, str] = field(default_factory=dict)  # which figures come from where
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return orjson.loads(self.to_bytes())

    def to_bytes(self) -> bytes:
        """evidence.json's bytes: orjson writes dataclasses as objects (and is 20x faster
        than ``asdict`` + ``json.dumps`` on a 100,000-entry timeline)."""
        return orjson.dumps(self)


# -- verification ----------------------------------------------------------------------------


def verification(result: VerifyResult, verified: int, total: int, unreadable: int,
                 expect_head: str | None) -> Verification:
    """``result`` (``cockpit.journal.verify``) in plain words; ``verified`` of ``total``
    entries are the intact ones."""
    through = verified  # seq is 1, 2, 3... so the n-th intact entry has seq n
    head = f"#{result.head_seq} {result.head_hash}" if result.head_hash else "#0 (empty)"
    if result.ok:
        words = (f"The journal verifies: all {verified} entries are intact and chained, "
                 f"head {head}"
                 + (", which is the head recorded elsewhere." if expect_head else
                    ". Compare this head with the one recorded elsewhere (witness)."))
    else:
        where = f" at entry #{result.bad_seq}" if result.bad_seq is not None else ""
        after = total - verified
        words = (f"THE JOURNAL DOES NOT VERIFY{where}: {_t(result.problem, 300)}. "
                 f"Entries #1 to #{through} are intact (head {head}); "
                 + (f"the {after} entries read after that point and every figure they "
                    "touch are marked UNVERIFIED." if after else
                    "nothing after that point could be read, so it is not in this report.")
                 + (f" {unreadable} more lines could not be read at all." if unreadable else ""))
    return Verification(bool(result.ok), bool(result.intact if result.intact is not None
                                              else result.ok),
                        words, total, verified, through, result.head_seq, result.head_hash,
                        result.bad_seq, _t(result.problem, 300) or None, unreadable,
                        _t(expect_head, 80) or None)


# -- the one function ------------------------------------------------------------------------


def build_facts(entries: Sequence[Entry], result: Verification, *, plan: Plan | None = None,
                history: HistoryLike | None = None, baseline: Mapping[str, float] | None = None,
                journal_label: str = "", generated: float = 0.0,
                warnings: Iterable[str] = ()) -> Facts:
    """Everything the pack shows. ``entries`` are the journal's entries in order, the first
    ``result.verified_entries`` of them verified; ``baseline`` is step id -> rehearsed seconds
    (``cockpit.runbook.baseline.read``)."""
    ok_through = result.verified_through_seq

    def verified(seq: int) -> bool:
        return seq <= ok_through

    timeline = [TimelineEntry(e.seq, e.ts, e.wall, _t(e.actor.operator, NAME_LIMIT), _t(e.action, 40),
                              _t(e.subject, 120), _t(e.reason_code, 40) or None, _t(e.note),
                              verified(e.seq)) for e in entries]
    steps, outcome = _steps(plan, entries, baseline or {}, verified)
    highlights = _highlights(plan, entries, verified)
    recon, exceptions = _recon(entries, verified)
    rehearsal = _rehearsal(plan, entries, verified)
    charts = _charts(plan, entries, history)
    operators = sorted({t.who for t in timeline if t.who != SYSTEM})
    if plan is not None:
        window = (_ts(plan.cutover.window.start.timestamp()), _ts(plan.cutover.window.end.timestamp()))
        name, cutover, is_rehearsal = _t(plan.cutover.name, 200), plan.cutover.id, plan.cutover.rehearsal
    else:
        window = (None, None)
        cutover = _t(entries[0].cutover, NAME_LIMIT) if entries else ""
        name, is_rehearsal = cutover, False
    is_rehearsal = is_rehearsal or any(e.action == "rehearsal.start" for e in entries)
    summary = Summary(cutover, name, window[0], window[1], is_rehearsal, outcome,
                      _outcome_words(outcome, plan), operators,
                      entries[0].ts if entries else None, entries[-1].ts if entries else None,
                      _t(journal_label, 300), result)
    sources = {
        "steps, highlights, reconciliation, exceptions, timeline, outcome": "the journal",
        "planned durations, step titles, gate thresholds": "the plan" if plan is not None
        else "no plan: step titles and planned durations are not shown",
        "rehearsed durations": "the plan's baseline journals" if baseline else "no baseline",
        "gate bands": {"history": "the signal history (gate changes as the cockpit saw them)",
                       "journal": "the journal's gate.change entries (no signal history)",
                       "none": "no gate changes recorded"}[charts.gate_source],
        "signal charts": ("the signal history (per-minute min, max and last; evidence's helper, "
                          "not the truth)" if charts.signal_source == "history"
                          else "no signal history beside the journal"),
    }
    return Facts(SCHEMA_VERSION, _ts(generated) or "", summary, steps, highlights, recon,
                 exceptions, rehearsal, charts, timeline, sources, [_t(w) for w in warnings])


def _outcome_words(outcome: str, plan: Plan | None) -> str:
    return {
        "completed": "Completed: every step of the runbook was done or skipped.",
        "rolled back": "Rolled back: the rollback runbook was started.",
        "abandoned": "Abandoned: a go/no-go decision was NO-GO and nothing was done after it.",
        "in progress": ("In progress: the runbook is not finished and no rollback was started."
                        if plan is not None else
                        "In progress (no plan: whether the runbook finished cannot be told)."),
    }[outcome]


def _steps(plan: Plan | None, entries: Sequence[Entry], baseline: Mapping[str, float],
           verified) -> tuple[list[StepFact], str]:
    rolled_back = any(e.action == "rollback.start" for e in entries)
    last_call = None
    for e in entries:
        if e.action == "decision.record" and isinstance(e.data, dict):
            last_call = e.data.get("call")
    if plan is None:
        return [], "rolled back" if rolled_back else ("abandoned" if last_call == "NO-GO"
                                                       else "in progress")
    fold = SpanFold(plan)
    last_seq: dict[str, int] = {}
    for e in entries:
        fold.apply(e)
        if e.subject and e.action.startswith(("step.", "decision.")):
            last_seq[e.subject] = e.seq
    spans, state = fold.spans(), fold.state()
    rb = plan.runbook
    out: list[StepFact] = []
    for book, phases in (("runbook", rb.phases), ("rollback", rb.rollback.phases)):
        for phase in phases:
            for step in phase.steps:
                sp, st = spans[step.id], state.steps[step.id]
                actual = sp.duration_s
                overrun = (None if actual is None or sp.skipped
                           else round(max(0.0, actual - step.planned), 3))
                out.append(StepFact(
                    step.id, _t(step.title, 200), book, phase.id, bool(step.critical),
                    bool(step.two_person), st.status.value, _t(st.actor, NAME_LIMIT) or None,
                    float(step.planned), baseline.get(step.id), _ts(sp.started), _ts(sp.finished),
                    None if actual is None else round(actual, 3), overrun, sp.started,
                    sp.finished, verified(last_seq.get(step.id, 0))))
    main = [s for s in out if s.book == "runbook"]
    if rolled_back:  # even after every step was done: the night ended going back
        outcome = "rolled back"
    elif main and all(s.status in ("done", "skipped") for s in main):
        outcome = "completed"
    elif last_call == "NO-GO":
        outcome = "abandoned"
    else:
        outcome = "in progress"
    return out, outcome


def _gates_seen(snapshot: Any) -> list[GateSeen]:
    if not isinstance(snapshot, dict):
        return []
    seen = []
    for gate, status in snapshot.items():
        st = status if isinstance(status, dict) else {}
        seen.append(GateSeen(_t(gate, NAME_LIMIT), _t(st.get("state") or "UNKNOWN", 20),
                             _t(st.get("reason"), 300)))
    return seen


def _highlights(plan: Plan | None, entries: Sequence[Entry], verified) -> list[Highlight]:
    critical = ({s.id for s in plan.runbook.all_steps() + plan.runbook.rollback_steps()
                 if s.critical} if plan is not None else set())
    out: list[Highlight] = []
    for e in entries:
        a = e.action
        data = e.data if isinstance(e.data, dict) else {}
        approval = data.get("approval") if isinstance(data.get("approval"), dict) else None
        requested_by = None
        if approval is not None:
            rb = approval.get("requested_by")
            requested_by = _t(rb.get("operator") if isinstance(rb, dict) else None, NAME_LIMIT) or None
        if a == "gate.override":
            kind = "override"
            detail = f"gate {_t(e.subject, NAME_LIMIT)} overridden for step {_t(data.get('step'), NAME_LIMIT)}"
            gates = _gates_seen({e.subject: data.get("gate")} if e.subject else {})
        elif a == "step.skip":
            kind = "critical skip" if e.subject in critical else "skip"
            detail = f"step {_t(e.subject, NAME_LIMIT)} skipped"
            gates = _gates_seen(data.get("gates"))
        elif a == "rollback.start":
            kind = "rollback"
            detail = (f"rollback started in phase {_t(data.get('phase'), NAME_LIMIT)}"
                      f" (next step was {_t(data.get('next_step'), NAME_LIMIT)})")
            gates = _gates_seen(data.get("gates"))
        elif a == "decision.record":
            kind = "decision"
            detail = f"decision {_t(e.subject, NAME_LIMIT)}: {_t(data.get('call'), 10)}"
            gates = _gates_seen(data.get("gates"))
        elif a == "step.confirm" and approval is not None:
            kind = "approval"
            detail = f"step {_t(e.subject, NAME_LIMIT)} confirmed"
            gates = _gates_seen(data.get("gates"))
        elif a in ("approval.request", "approval.reject", "approval.withdraw"):
            kind = a.replace(".", " ")
            what = _t(data.get("kind"), 20) if a == "approval.request" else f"request #{_t(data.get('request'), 20)}"
            detail = f"{a.split('.')[1]} for {_t(e.subject, NAME_LIMIT)} ({what})"
            gates = _gates_seen(data.get("gates"))
        else:
            continue
        if approval is not None:
            kind = f"two-person {kind}"
            detail += f", approved on request #{_t(approval.get('request'), 20)}"
        out.append(Highlight(kind, e.seq, e.ts, _t(e.actor.operator, NAME_LIMIT),
                             _t(e.subject, 120), _t(e.reason_code, 40) or None, _t(e.note),
                             detail, requested_by, gates, verified(e.seq)))
    return out


def _recon(entries: Sequence[Entry], verified) -> tuple[list[ReconUnit], list[ExceptionFact]]:
    units: list[ReconUnit] = []
    exc: dict[str, dict[str, Any]] = {}
    for e in entries:
        data = e.data if isinstance(e.data, dict) else {}
        if e.action == "recon.run":
            raw_units = data.get("units")
            if not isinstance(raw_units, dict):
                continue
            for uid, u in raw_units.items():
                if not isinstance(u, dict):
                    continue
                figures = {k: finite_number(u.get(k)) for k in ("source_rows", "target_rows", "missing",
                                                        "extra", "changed") if k in u}
                units.append(ReconUnit(e.seq, e.ts, _t(uid, 120), _t(u.get("layer"), 20),
                                       _t(u.get("table") or u.get("check"), 120),
                                       bool(u.get("failed")), _t(u.get("error"), 300),
                                       int(finite_number(u.get("findings")) or 0), figures,
                                       verified(e.seq)))
        elif e.action == "exception.open" and e.subject:
            keys = data.get("keys")
            exc[e.subject] = {
                "id": _t(e.subject, 64), "layer": _t(data.get("layer"), 20),
                "table": _t(data.get("table"), 120), "kind": _t(data.get("kind"), 40),
                "severity": _t(data.get("severity"), 20), "category": _t(data.get("category"), 40),
                "title": _t(data.get("title"), 300),
                "keys": len(keys) if isinstance(keys, list) else 0,
                "opened": e.ts, "opened_seq": e.seq, "status": "open", "closed": None,
                "triage": [], "verified": verified(e.seq)}
        elif e.action in ("exception.triage", "exception.close") and e.subject in exc:
            x = exc[e.subject]
            x["verified"] = x["verified"] and verified(e.seq)
            if e.action == "exception.close":
                x["status"], x["closed"] = "closed", e.ts
            else:
                x["category"] = _t(data.get("category"), 40)
                x["triage"].append(TriageFact(e.seq, e.ts, _t(e.actor.operator, NAME_LIMIT),
                                              x["category"], _t(e.reason_code, 40) or None,
                                              _t(e.note), verified(e.seq)))
    return units, [ExceptionFact(**x) for x in exc.values()]


def _rehearsal(plan: Plan | None, entries: Sequence[Entry], verified) -> RehearsalFacts | None:
    start = next((e for e in entries if e.action == "rehearsal.start"), None)
    if start is None or plan is None:
        return None
    report = timings_report(plan, entries)
    faults = [Fault(_t(f["id"], 64), _t(f["kind"], 40), f["at_s"], f["detect_s"], f["decide_s"],
                    _t((f["detected_by"] or {}).get("operator"), NAME_LIMIT) or None,
                    _t((f["decided_by"] or {}).get("operator"), NAME_LIMIT) or None,
                    _t(f["outcome"], 40)) for f in report["faults"]]
    drill = report["rollback_drill"] or {}
    r = report["rehearsal"] or {}
    return RehearsalFacts(_t(r.get("scenario"), 64), r.get("speed"), faults,
                          drill.get("started_s"), drill.get("planned_s"), drill.get("duration_s"),
                          bool(drill.get("finished")), all(verified(e.seq) for e in entries))


# -- charts ----------------------------------------------------------------------------------


def thresholds(plan: Plan | None) -> dict[str, list[Threshold]]:
    """Signal -> the numbers its gates compare it with (``lag_s < 5`` -> 5 for ``lag_s``)."""
    out: dict[str, list[Threshold]] = {}
    if plan is None:
        return out
    for gid, gate in plan.gates.items():
        try:
            node = expr.parse(gate.expr)
        except expr.ExprError:
            continue
        for name, op, value in _comparisons(node):
            out.setdefault(name, []).append(Threshold(gid, value, f"{gid}: {name} {op} {value:g}"))
    return out


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def _comparisons(node: expr.Node) -> list[tuple[str, str, float]]:
    if isinstance(node, expr.Compare):
        left, right = node.left, node.right
        if isinstance(left, expr.Name) and isinstance(right, expr.Num):
            return [(left.name, node.op, float(right.value))]
        if isinstance(left, expr.Num) and isinstance(right, expr.Name):
            return [(right.name, _FLIP[node.op], float(left.value))]
        return []
    if isinstance(node, expr.BoolOp):
        return [c for o in node.operands for c in _comparisons(o)]
    if isinstance(node, expr.Not):
        return _comparisons(node.operand)
    return []


def _priority(name: str, gated: set[str]) -> tuple[int, str]:
    """Replication lag first, then what a gate reads (clinical and help-desk signals), then
    the rest by name."""
    low = name.lower()
    if "lag" in low:
        return (0, name)
    if name in gated:
        return (1, name)
    if any(w in low for w in ("login", "chart", "order", "queue", "ticket", "helpdesk", "complaint")):
        return (2, name)
    return (3, name)


def _charts(plan: Plan | None, entries: Sequence[Entry], history: HistoryLike | None) -> Charts:
    limits = thresholds(plan)
    t0 = entries[0].wall if entries else None
    t1 = entries[-1].wall if entries else None
    signals: list[SignalChart] = []
    bands: list[GateBand] = []
    gate_source, signal_source = "none", "none"
    if history is not None:
        span = history.span()
        if span is not None:
            t0 = span[0] if t0 is None else min(t0, span[0])
            t1 = span[1] if t1 is None else max(t1, span[1])
        names = sorted(history.signals(), key=lambda n: _priority(n, set(limits)))
        for i, name in enumerate(names):
            drawn = i < MAX_CHARTS
            sig = plan.signals.get(name) if plan is not None else None
            unit = unit_of(name, getattr(sig, "unit", "") or "")
            if not drawn:  # listed by name: reading 24 h of every one of 200 signals costs seconds
                signals.append(SignalChart(_t(name, 120), unit, [], [], limits.get(name, []),
                                           None, None, None, 0, 0, False))
                continue
            buckets = history.series(name)
            points, band, errors = [], [], 0
            lo = hi = last = None
            for b in buckets:
                errors += int(b.errors or 0)
                v = finite_number(b.last)
                if v is not None:
                    points.append((float(b.start), v))
                    last = v
                blo, bhi = finite_number(b.lo), finite_number(b.hi)
                if blo is not None and bhi is not None:
                    band.append((float(b.start), blo, bhi))
                    lo = blo if lo is None else min(lo, blo)
                    hi = bhi if hi is None else max(hi, bhi)
            signals.append(SignalChart(_t(name, 120), unit, points, band, limits.get(name, []),
                                       lo, hi, last, len(buckets), errors, True))
        if signals:
            signal_source = "history"
        changes = history.gate_changes()
        if changes:
            gate_source = "history"
            bands = _bands(((c.gate, c.wall, c.status) for c in changes), t1)
    if gate_source == "none":
        journal_changes = [(e.subject, e.wall, e.data.get("state")) for e in entries
                           if e.action == "gate.change" and e.subject and isinstance(e.data, dict)]
        if journal_changes:
            gate_source = "journal"
            bands = _bands(journal_changes, t1)
    return Charts(t0, t1, gate_source, signal_source, bands, signals)


def _bands(changes: Iterable[tuple[Any, float, Any]], t1: float | None) -> list[GateBand]:
    per: dict[str, list[tuple[float, str]]] = {}
    for gate, wall, state in changes:
        per.setdefault(_t(gate, NAME_LIMIT), []).append((float(wall), _t(state or "UNKNOWN", 20)))
    out = []
    for gate in sorted(per):
        seq = sorted(per[gate], key=lambda c: c[0])
        end = t1 if t1 is not None else seq[-1][0]
        spans = [(w, seq[i + 1][0] if i + 1 < len(seq) else max(end, w), s)
                 for i, (w, s) in enumerate(seq)]
        out.append(GateBand(gate, spans))
    return out
