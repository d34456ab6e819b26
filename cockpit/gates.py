"""Gate evaluation: expression + observation window + staleness -> GO / HOLD / NO-GO / UNKNOWN.

Stale is not green: a gate whose signals are missing, erroring or older than ``max_staleness``
is UNKNOWN, whatever the last value said. A true condition becomes GO only after it has held,
with fresh data, for ``hold_for``; until then it is HOLD with its progress. Any evaluation that
is not true (NO-GO or UNKNOWN) restarts the window.

A window is met only by readings that cover it (a clock running on with no new reading proves
nothing). For every polled signal the gate reads: the window opens at the newest reading that
made the condition true (so there is a reading at its start), every later reading must follow
the one before within the signal's ``every + timeout`` (a longer gap restarts the window at the
reading after it), and the window is held only up to the newest reading of the signal that was
read least recently. So GO needs at least two readings of each polled signal, ``hold_for``
apart. Built-in signals (``recon.*``, ``exceptions.*``) are derived from the journal, which the
cockpit observes continuously: they cover the time they are evaluated at, and their age (the
age of the evidence, e.g. the reconciliation run) is held to ``max_staleness`` like any other.

A gate gets worse at once and better only on evidence: after a NO-GO (even with UNKNOWN
between), the condition must have held for the gate's ``settle`` (default 10s; covered by
readings as above) before the gate shows HOLD or GO; until then it stays NO-GO, saying it is
settling. So a signal hovering at its threshold does not flip the gate every poll.

Values are typed by how the expression uses them: a name compared with a number (or with a
name that is) must hold a number, a name used as a condition or compared with true/false must
hold true/false. A value of the other kind (a JSON ``false`` where a number belongs) makes the
gate UNKNOWN, never a number. Any failure while evaluating a gate makes that gate UNKNOWN with
the reason; it never reaches the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from cockpit import expr
from cockpit.clock import Clock
from cockpit.durations import format_duration
from cockpit.signals.reading import Reading
from cockpit.text import clean


class GateState(StrEnum):
    GO = "GO"
    HOLD = "HOLD"
    NO_GO = "NO-GO"
    UNKNOWN = "UNKNOWN"


# Symbol and word together, so the state reads without colour (PRODUCT: colour second).
SYMBOLS = {GateState.GO: "✔", GateState.HOLD: "◐", GateState.NO_GO: "✖", GateState.UNKNOWN: "?"}


@dataclass(frozen=True)
class GateStatus:
    gate: str
    state: GateState
    reason: str
    since: float  # wall ts (clock.now()) when this state began
    held_s: float = 0.0
    hold_for_s: float = 0.0
    readings: Mapping[str, Reading] = field(default_factory=dict)
    # Extension: clock.monotonic() of the evaluation, so reading ages can be reported later.
    evaluated_mono: float = 0.0

    def label(self) -> str:
        if self.state is GateState.HOLD:
            return f"HOLD {_whole(self.held_s)}/{_whole(self.hold_for_s)}"
        return self.state.value

    def passes(self) -> bool:
        return self.state is GateState.GO

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.state]

    def to_json(self) -> dict:
        return {
            "gate": self.gate,
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since,
            "held_s": round(self.held_s, 3),
            "hold_for_s": self.hold_for_s,
            "readings": {name: _reading_json(r, self.evaluated_mono)
                         for name, r in self.readings.items()},
        }


def _whole(seconds: float) -> str:
    """Window progress in whole seconds: "0s", never "0ms"."""
    return format_duration(math.floor(seconds))


def _json_value(value: float | bool | None) -> float | bool | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _reading_json(reading: Reading, mono_now: float) -> dict:
    return {
        "value": _json_value(reading.value),
        "error": reading.error,
        "ts": reading.ts,
        "age_s": round(reading.age(mono_now), 3),
        "latency_ms": None if reading.latency_ms is None else round(reading.latency_ms, 3),
    }


NUMBER, BOOLEAN = "a number", "true/false"


def value_kinds(node: expr.Node) -> dict[str, str | None]:
    """What each name of ``node`` must hold (NUMBER or BOOLEAN); None when it is used as both."""
    kinds: dict[str, str | None] = {}

    def need(name: str, kind: str) -> None:
        kinds[name] = kind if kinds.get(name, kind) == kind else None

    def operand_kind(n: expr.Node) -> str | None:
        if isinstance(n, expr.Num):
            return NUMBER
        if isinstance(n, (expr.Bool, expr.Not, expr.BoolOp, expr.Compare)):
            return BOOLEAN
        return None  # a name: its kind comes from the other side

    def walk(n: expr.Node, as_condition: bool) -> None:
        if isinstance(n, expr.Name):
            if as_condition:
                need(n.name, BOOLEAN)
        elif isinstance(n, expr.Not):
            walk(n.operand, True)
        elif isinstance(n, expr.BoolOp):
            for part in n.operands:
                walk(part, True)
        elif isinstance(n, expr.Compare):
            left, right = operand_kind(n.left), operand_kind(n.right)
            for side, other in ((n.left, right), (n.right, left)):
                if isinstance(side, expr.Name):
                    # Two names compared with each other are numbers unless an ordering says
                    # nothing else: true/false is only ever compared with a literal.
                    need(side.name, other or NUMBER)
                else:
                    walk(side, True)

    walk(node, True)
    return kinds


def _kind_problem(name: str, value: object, kind: str | None) -> str | None:
    if kind is None:
        return f"{name}: used both as a number and as true/false in this gate"
    is_bool = isinstance(value, bool)
    if kind == BOOLEAN and not is_bool:
        return f"{name}: expected true/false, got a number"
    if kind == NUMBER and is_bool:
        return f"{name}: expected a number, got {'true' if value else 'false'}"
    if kind == NUMBER and not (isinstance(value, int)
                               or (isinstance(value, float) and math.isfinite(value))):
        return f"{name}: not a finite number"
    return None


@dataclass
class _Gate:
    id: str
    node: expr.Node
    names: tuple[str, ...]
    hold_for: float
    max_staleness: float
    kinds: dict[str, str | None]
    # Polled signals: the longest a reading may follow the one before it inside a window.
    max_gap: dict[str, float]
    settle: float = 0.0
    units: dict[str, str] = field(default_factory=dict)  # declared ``unit:`` of its signals
    true_since: float | None = None  # monotonic start of the current fresh-and-true window
    # Newest reading (monotonic time) of each polled signal seen inside the current window.
    seen: dict[str, float] = field(default_factory=dict)
    # Set by a NO-GO, cleared once the condition has held for ``settle`` again.
    settling: bool = False


class GateBook:
    """Every gate of a plan, evaluated against the newest readings.

    ``update`` returns the state changes as ``(new, old)`` pairs; ``old`` is None the first time
    a gate is evaluated. HOLD progress (HOLD 2m/10m -> HOLD 3m/10m) is not a change.
    """

    def __init__(self, plan, clock: Clock):
        self.clock = clock
        self._gates: dict[str, _Gate] = {}
        for gate_id, gate in plan.gates.items():
            try:
                node = expr.parse(gate.expr)
            except expr.ExprError as exc:  # load_plan checks this; a bug if it happens here
                raise ValueError(f"gate {gate_id}: {exc}") from None
            names = tuple(expr.names(node))
            max_gap = {n: float(plan.signals[n].every) + float(plan.signals[n].timeout)
                       for n in names if n in plan.signals}
            self._gates[gate_id] = _Gate(gate_id, node, names, float(gate.hold_for),
                                         float(gate.max_staleness), value_kinds(node), max_gap,
                                         float(gate.settle),
                                         {n: plan.signals[n].unit for n in names
                                          if n in plan.signals and plan.signals[n].unit})
        self.statuses: dict[str, GateStatus] = {}
        # Which gates read which signal: a new reading re-evaluates only those.
        self.by_signal: dict[str, list[str]] = {}
        for g in self._gates.values():
            for name in g.names:
                self.by_signal.setdefault(name, []).append(g.id)

    def signals_of(self, gate_id: str) -> tuple[str, ...]:
        return self._gates[gate_id].names

    @property
    def signal_names(self) -> set[str]:
        return set(self.by_signal)

    def update(self, latest: Mapping[str, Reading],
               gates: Iterable[str] | None = None) -> list[tuple[GateStatus, GateStatus | None]]:
        """Re-evaluate ``gates`` (default: all) against ``latest``; return the state changes."""
        mono, wall = self.clock.monotonic(), self.clock.now()
        changes: list[tuple[GateStatus, GateStatus | None]] = []
        for gate_id in (self._gates if gates is None else gates):
            g = self._gates[gate_id]
            try:
                new = self._evaluate(g, latest, mono, wall)
            except Exception as exc:  # noqa: BLE001 - one gate's failure is that gate's UNKNOWN
                g.true_since = None
                new = self._status(g, GateState.UNKNOWN,
                                   f"gate could not be evaluated: {type(exc).__name__}: {exc}",
                                   {}, mono, wall)
            old = self.statuses.get(gate_id)
            if old is not None and old.state is new.state:
                new = _keep_since(new, old.since)
            else:
                changes.append((new, old))
            self.statuses[gate_id] = new
        return changes

    def snapshot(self) -> dict:
        """JSON-able view of every gate, for the journal (what the operator saw)."""
        return {gate_id: status.to_json() for gate_id, status in self.statuses.items()}

    def halt(self, reason: str) -> list[tuple[GateStatus, GateStatus | None]]:
        """Every gate UNKNOWN with ``reason`` (the loop that feeds them has stopped)."""
        mono, wall = self.clock.monotonic(), self.clock.now()
        changes: list[tuple[GateStatus, GateStatus | None]] = []
        for g in self._gates.values():
            g.true_since = None
            new = self._status(g, GateState.UNKNOWN, reason, {}, mono, wall)
            old = self.statuses.get(g.id)
            if old is not None and old.state is new.state:
                new = _keep_since(new, old.since)
            else:
                changes.append((new, old))
            self.statuses[g.id] = new
        return changes

    @staticmethod
    def _status(g: _Gate, state: GateState, reason: str, used: Mapping[str, Reading],
                mono: float, wall: float, held: float = 0.0) -> GateStatus:
        return GateStatus(gate=g.id, state=state, reason=clean(reason, 500, single_line=True),
                          since=wall, held_s=held, hold_for_s=g.hold_for, readings=used,
                          evaluated_mono=mono)

    def _evaluate(self, g: _Gate, latest: Mapping[str, Reading], mono: float,
                  wall: float) -> GateStatus:
        used = {name: latest[name] for name in g.names if name in latest}
        problems: list[str] = []
        values: dict[str, expr.Value] = {}
        for name in g.names:
            reading = used.get(name)
            if reading is None:
                problems.append(f"{name}: no reading yet")
            elif reading.error is not None:
                problems.append(f"{name}: {reading.error}")
            elif reading.value is None:
                problems.append(f"{name}: no value")
            elif (why := _kind_problem(name, reading.value, g.kinds.get(name, NUMBER))):
                problems.append(why)
            elif reading.age(mono) > g.max_staleness:
                problems.append(f"{name} stale for {format_duration(reading.age(mono))}")
            else:
                values[name] = reading.value

        def status(state: GateState, reason: str, held: float = 0.0) -> GateStatus:
            return self._status(g, state, reason, used, mono, wall, held)

        if problems:
            g.true_since = None
            return status(GateState.UNKNOWN, "; ".join(problems))
        try:
            truth, reasons = expr.evaluate(g.node, values, g.units)
        except expr.Unknown as exc:  # every name was checked above; kept as a backstop
            g.true_since = None
            return status(GateState.UNKNOWN, f"{exc.name}: {exc.reason}")
        why = "; ".join(reasons)
        if not truth:
            g.true_since = None
            g.settling = g.settle > 0
            return status(GateState.NO_GO, why)
        held = self._held(g, used, mono)
        if g.settling:
            if held < g.settle:
                return status(GateState.NO_GO,
                              f"settling after NO-GO: true for {_whole(held)} of "
                              f"{_whole(g.settle)}: {why}")
            g.settling = False
        if held >= g.hold_for:
            return status(GateState.GO, why, held)
        return status(GateState.HOLD, f"holding {_whole(held)} of {_whole(g.hold_for)}: {why}",
                      held)

    @staticmethod
    def _held(g: _Gate, used: Mapping[str, Reading], mono: float) -> float:
        """How much of the window the readings cover (see the module docstring)."""
        if g.true_since is None:
            # The window opens at the newest reading that made it true, never earlier: an old
            # (still fresh) reading says nothing about the time before the condition turned.
            g.true_since = min(mono, max((used[n].mono for n in g.names), default=mono))
            g.seen = {n: used[n].mono for n in g.max_gap}
        else:
            for n, gap in g.max_gap.items():
                at = used[n].mono
                if at > g.seen[n] + gap:
                    # Unobserved time inside the window: it starts again at this reading.
                    g.true_since = min(mono, max(used[m].mono for m in g.names))
                    g.seen = {m: used[m].mono for m in g.max_gap}
                    break
                g.seen[n] = max(g.seen[n], at)
        covered = min([mono, *g.seen.values()])
        return max(0.0, covered - g.true_since)


def _keep_since(status: GateStatus, since: float) -> GateStatus:
    return GateStatus(gate=status.gate, state=status.state, reason=status.reason, since=since,
                      held_s=status.held_s, hold_for_s=status.hold_for_s,
                      readings=status.readings, evaluated_mono=status.evaluated_mono)


def as_of(plan, statuses: Mapping[str, GateStatus], mono: float) -> dict[str, GateStatus]:
    """The gates as they may be shown and acted on at monotonic time ``mono``: a GO or HOLD
    that has not been re-evaluated (or whose readings are older) than the gate's
    ``max_staleness`` is UNKNOWN, so a stopped tick or poll loop never leaves a gate green."""
    shown = dict(statuses)
    for gid, status in statuses.items():
        gate = plan.gates.get(gid)
        if gate is None or status.state in (GateState.UNKNOWN, GateState.NO_GO):
            continue
        ages = [r.age(mono) for r in status.readings.values()]
        if status.evaluated_mono:
            ages.append(max(0.0, mono - status.evaluated_mono))
        oldest = max(ages, default=0.0)
        if oldest > float(gate.max_staleness):
            shown[gid] = replace(status, state=GateState.UNKNOWN, held_s=0.0,
                                 reason=f"not re-evaluated for {format_duration(oldest)} (stale)")
    return shown
