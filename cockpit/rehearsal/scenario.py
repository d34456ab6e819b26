"""A rehearsal scenario: the YAML model, and its loader with the plan loader's errors.

A scenario scripts the signals of the sources it ``replaces`` over scenario time ``t``
(seconds since the rehearsal started, see ``cockpit.rehearsal.running``) and names the faults
it injects. It is read by the plan loader's rules (``cockpit.config.loader.read_text``,
``cockpit.config.yamlpos``) and every problem is one ``FILE:LINE:COL: path: message`` line;
then it is checked against the plan it is used with (``check_against``), because a signal or a
source name is only right or wrong for a given plan.

Schema (durations as in plans: ``30s``, ``10m``, ``1h30m``)::

    name: lag-crisis                 # an id: letters, digits, '-', '_', '.'
    description: free text
    duration: 2h                     # optional; every time in the file must lie within it
    window_opens: 30m                # when the plan's window opens, in scenario time (default 0s)
    replaces: [cloud_db, prometheus] # the plan's sources answered by this script
    default: {constant: 0}           # optional script for a replaced signal not listed
    signals:
      replication_lag_s:             # one curve: constant | ramp | step ...
        constant: 1.5
        noise: {amplitude: 0.4, seed: 7}   # deterministic, per (seed, signal, t)
        gaps: [{at: 40m, for: 2m, error: connection refused}]   # the source is down
        minimum: 0                   # clamp, then round to ``decimals`` (default 3)
      interface_backlog:
        step: [{at: 0s, value: 120}, {at: 15m, value: 0}]
      login_success_rate:
        ramp: {from: 0.9, to: 0.995, start: 0s, end: 10m}
      chart_access_tickets:
        constant: 1
        titles: ["Cannot open chart for bed 12"]  # detail lines (untrusted text)
    faults:                          # each journalled once as rehearsal.fault at ``at``
      - {id: lag-spike, kind: replication_lag_spike, at: 20m, for: 30m,
         signals: [replication_lag_s], peak: 45, rise: 2m, fall: 5m}
      - {id: logins, kind: login_drop, at: 1h, for: 10m, signals: [login_success_rate], value: 0.82}
      - {id: surge, kind: helpdesk_surge, at: 50m, for: 20m, signals: [chart_access_tickets],
         count: 9, titles: ["Chart access denied after cutover"]}
      - {id: hang, kind: source_hang, at: 1h20m, for: 3m, source: prometheus}
      - {id: junk, kind: source_garbage, at: 1h30m, for: 2m, signals: [login_success_rate]}
      - id: mismatch
        kind: recon_mismatch
        at: 30m
        until: 1h
        findings:                    # synthetic keys only: SIM-<fault>-<n>
          - {table: medication_orders, kind: changed, count: 3, columns: [dose]}
          - {check: duplicate_mrn, count: 1}
    reconciliation:                  # what R runs in a rehearsal (cockpit.rehearsal.recon)
      duration: 2m                   # scenario time one run takes
      tables: {patients: {rows: 48210}}
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from cockpit.config.base import Duration, Ident, SignalName, Strict, within
from cockpit.config.loader import _ordered, read_text
from cockpit.config.loader import schema_problems as loader_schema_problems
from cockpit.config.plan import Plan
from cockpit.config.problems import PlanError, Problem
from cockpit.config.yamlpos import Mark, Path, Positions, YamlProblem, load
from cockpit.text import clean

FAULT_KINDS = ("replication_lag_spike", "recon_mismatch", "helpdesk_surge", "login_drop",
               "source_hang", "source_garbage")
MAX_TITLES = 20
EMPTY = "the file is empty: a scenario needs at least 'name' and 'replaces'"
GARBAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"


class ScenarioError(PlanError):
    """The scenario cannot be used; ``lines`` hold every problem, one per line."""


Value = float | bool
Title = Annotated[str, Field(max_length=200)]


class Ramp(Strict):
    """Linear from ``from`` (until ``start``) to ``to`` (from ``end`` on)."""

    from_: float = Field(alias="from")
    to: float
    start: Duration = 0.0
    end: Duration

    @model_validator(mode="after")
    def _order(self) -> Ramp:
        if self.end <= self.start:
            raise ValueError("a ramp's 'end' must come after its 'start'")
        return self


class Step(Strict):
    at: Duration
    value: Value


class Noise(Strict):
    amplitude: float = Field(ge=0)
    seed: int = 0


class Window(Strict):
    """From ``at`` to ``until`` (or ``at`` + ``for``); neither: to the end of the scenario."""

    at: Duration
    until: Duration | None = None
    for_: Duration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _span(self) -> Window:
        if self.until is not None and self.for_ is not None:
            raise ValueError("give 'until' or 'for', not both")
        if self.until is not None and self.until <= self.at:
            raise ValueError("'until' must come after 'at'")
        if self.for_ is not None and self.for_ <= 0:
            raise ValueError("'for' must be longer than 0s")
        return self

    @property
    def end(self) -> float | None:
        """Scenario seconds it ends at, or None: it never ends."""
        if self.until is not None:
            return self.until
        return None if self.for_ is None else self.at + self.for_

    def active(self, t: float) -> bool:
        end = self.end
        return self.at <= t and (end is None or t < end)


class Gap(Window):
    error: Annotated[str, Field(min_length=1, max_length=200)] = "connection refused"


class Script(Strict):
    """One signal's curve: exactly one of ``constant``, ``ramp``, ``step``."""

    constant: Value | None = None
    ramp: Ramp | None = None
    step: list[Step] | None = Field(default=None, min_length=1)
    noise: Noise | None = None
    gaps: list[Gap] = []
    minimum: float | None = None
    maximum: float | None = None
    decimals: int = Field(default=3, ge=0, le=6)
    titles: list[Title] = Field(default=[], max_length=MAX_TITLES)

    @model_validator(mode="after")
    def _one_curve(self) -> Script:
        given = [k for k in ("constant", "ramp", "step") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a signal's script needs exactly one of 'constant', 'ramp' or 'step'"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.step is not None:
            ats = [s.at for s in self.step]
            if ats != sorted(ats) or len(set(ats)) != len(ats):
                raise ValueError("'step' times must be in increasing order, each once")
            if len({isinstance(s.value, bool) for s in self.step}) > 1:
                raise ValueError("'step' values must all be numbers or all be true/false")
        if self.boolean and (self.noise is not None or self.minimum is not None
                             or self.maximum is not None):
            raise ValueError("a true/false script takes no 'noise', 'minimum' or 'maximum'")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("'minimum' is above 'maximum'")
        return self

    @property
    def boolean(self) -> bool:
        if self.constant is not None:
            return isinstance(self.constant, bool)
        if self.step:
            return isinstance(self.step[0].value, bool)
        return False


class _Fault(Window):
    id: Ident


class _OnSignals(_Fault):
    signals: list[SignalName] = Field(min_length=1)


class LagSpike(_OnSignals):
    """The lag climbs to ``peak`` over ``rise``, holds, and falls back over ``fall``."""

    kind: Literal["replication_lag_spike"]
    peak: float = Field(gt=0)
    rise: Annotated[Duration, within("0s", "1d")] = 60.0
    fall: Annotated[Duration, within("0s", "1d")] = 60.0


class LoginDrop(_OnSignals):
    """The signals answer ``value`` for the fault's duration."""

    kind: Literal["login_drop"]
    value: float


class HelpdeskSurge(_OnSignals):
    """``count`` more tickets (reached over ``rise``), their ``titles`` shown first."""

    kind: Literal["helpdesk_surge"]
    count: int = Field(ge=1, le=100_000)
    rise: Annotated[Duration, within("0s", "1d")] = 0.0
    titles: list[Title] = Field(default=[], max_length=MAX_TITLES)


class _OnSource(_Fault):
    signals: list[SignalName] = []
    source: str | None = None

    @model_validator(mode="after")
    def _target(self) -> _OnSource:
        if (self.source is None) == (not self.signals):
            raise ValueError("name the 'source' it hits or its 'signals', one of the two")
        return self


class SourceHang(_OnSource):
    """The source never answers: only the engine's timeout ends each read."""

    kind: Literal["source_hang"]


class SourceGarbage(_OnSource):
    """The source answers ``answer`` (text), which a reading refuses: an error, never a value."""

    kind: Literal["source_garbage"]
    answer: Annotated[str, Field(min_length=1, max_length=2000)] = GARBAGE


class ScriptedFinding(Strict):
    """``count`` findings on a table's content (``table``) or from a domain check (``check``)."""

    table: str | None = None
    check: str | None = None
    kind: Literal["missing", "extra", "changed"] = "changed"
    count: int = Field(default=1, ge=1, le=1000)
    columns: list[Annotated[str, Field(min_length=1, max_length=64)]] = []

    @model_validator(mode="after")
    def _where(self) -> ScriptedFinding:
        if (self.table is None) == (self.check is None):
            raise ValueError("a finding names a 'table' (content) or a 'check' (domain), one of the two")
        return self


class ReconMismatch(_Fault):
    kind: Literal["recon_mismatch"]
    findings: list[ScriptedFinding] = Field(min_length=1)


Fault = Annotated[LagSpike | ReconMismatch | HelpdeskSurge | LoginDrop | SourceHang | SourceGarbage,
                  Field(discriminator="kind")]


class TableRows(Strict):
    rows: int = Field(ge=0, le=10**12)


class ReconScript(Strict):
    duration: Annotated[Duration, within("1s", "6h")] = 120.0
    """Scenario time one scripted run takes."""
    tables: dict[str, TableRows] = {}
    runs: list[Duration] = []
    """Scenario times at which a run starts by itself, as a scheduled reconciliation job
    would (``cockpit.rehearsal.scheduled``): journalled by the system, so the panel and the
    exception queue move without anyone pressing R (the demo)."""


class Scenario(Strict):
    name: Ident
    description: str = ""
    duration: Annotated[Duration, within("1s", "30d")] | None = None
    window_opens: Annotated[Duration, within("0s", "30d")] = 0.0
    """Scenario time at which the plan's cutover window opens: a rehearsal moves the window
    (same length) onto its own clock, so the header's countdown and the forecast's margin
    mean what they will on the night (``cockpit.rehearsal.plan.on_rehearsal_clock``)."""
    replaces: list[str]
    default: Script | None = None
    signals: dict[str, Script] = {}
    faults: list[Fault] = []
    reconciliation: ReconScript | None = None

    def script_for(self, signal: str) -> Script | None:
        return self.signals.get(signal, self.default)

    def fault(self, fault_id: str):
        return next((f for f in self.faults if f.id == fault_id), None)


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario with where it came from: ``sha256`` of its bytes (``rehearsal.start``)."""

    scenario: Scenario
    path: FsPath
    sha256: str
    positions: Positions
    name: str  # the file name as given, for messages


def read_scenario(path: str | os.PathLike) -> LoadedScenario:
    """The scenario as written (schema only), or :class:`ScenarioError` with every problem."""
    name = str(path)
    fs_path = FsPath(path)
    try:
        raw, text = read_text(fs_path, name, what="scenario", empty=EMPTY)
    except PlanError as exc:
        raise ScenarioError(exc.lines) from None
    try:
        data, pos, dups = load(text, empty=EMPTY)
    except YamlProblem as exc:
        mark = exc.mark or Mark(1, 1)
        raise ScenarioError([f"{name}:{mark.line}:{mark.col}: {clean(exc.message, 300, single_line=True)}"]) from None
    problems = [Problem(d.path, f"duplicate key '{d.path[-1]}' (first at line {d.first.line})", mark=d.mark)
                for d in dups]
    if not isinstance(data, dict):
        raise ScenarioError([f"{name}:1:1: (top): a scenario is a mapping with 'name', 'replaces', "
                             "'signals', 'faults' ... at the top"])
    scenario = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems += schema_problems(exc, data)
    if problems or scenario is None:
        raise ScenarioError(_render(problems, name, pos) or [f"{name}:1:1: (top): invalid scenario"])
    return LoadedScenario(scenario, fs_path.resolve(), hashlib.sha256(raw).hexdigest(), pos, name)


def load_scenario(path: str | os.PathLike, plan: Plan) -> LoadedScenario:
    """The scenario, checked against ``plan``; :class:`ScenarioError` otherwise."""
    loaded = read_scenario(path)
    problems = check_against(loaded.scenario, plan)
    if problems:
        raise ScenarioError(_render(problems, loaded.name, loaded.positions))
    return loaded


def _render(problems: Sequence[Problem], name: str, pos: Positions) -> list[str]:
    return [p.render(name, pos) for p in _ordered(list(problems), pos) if not p.warning]


def render(problems: Sequence[Problem], loaded: LoadedScenario) -> list[str]:
    """``FILE:LINE:COL: path: message`` lines, in file order."""
    return _render(problems, loaded.name, loaded.positions)


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for obj in list(globals().values()):
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == __name__:
            for fname, finfo in obj.model_fields.items():
                words.add(finfo.alias or fname)
    return sorted(words)


def schema_problems(exc: ValidationError, data: Any) -> list[Problem]:
    """The plan loader's wording (``cockpit.config.loader``), the scenario's vocabulary."""
    return loader_schema_problems(exc, data, _vocabulary(), tag="kind", tag_words=_fault_kind_words)


def _fault_kind_words(err) -> str | None:
    if err["type"] == "union_tag_invalid":
        return (f"unknown fault kind {clean(str(err.get('ctx', {}).get('tag')), 60)!r}: "
                f"expected one of {', '.join(FAULT_KINDS)}")
    if err["type"] == "union_tag_not_found":
        return f"missing 'kind': one of {', '.join(FAULT_KINDS)}"
    return None


# -- against the plan ---------------------------------------------------------------------

def _close(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _names(choices: Iterable[str]) -> str:
    return ", ".join(sorted(choices)) or "none"


def fault_signals(fault, plan: Plan) -> list[str]:
    """The plan signals a fault acts on (a source-wide fault: every signal of that source)."""
    if isinstance(fault, ReconMismatch):
        return []
    if isinstance(fault, (SourceHang, SourceGarbage)) and fault.source is not None:
        return sorted(n for n, s in plan.signals.items() if s.source == fault.source)
    return list(dict.fromkeys(fault.signals))


def _effective_end(fault) -> float | None:
    end = fault.end
    if isinstance(fault, LagSpike) and end is not None:
        return end + fault.fall  # its fall still shapes the curve
    return end


def check_against(sc: Scenario, plan: Plan) -> list[Problem]:
    """Everything about the scenario that is wrong for this plan, each at its place."""
    p: list[Problem] = []
    sources = set(plan.sources)
    replaced = set(sc.replaces)
    seen: set[str] = set()
    for i, name in enumerate(sc.replaces):
        if name not in sources:
            p.append(Problem(("replaces", i), f"the plan has no source '{clean(name, 60)}'"
                             f"{_close(name, sources)}; its sources: {_names(sources)}"))
        elif name in seen:
            p.append(Problem(("replaces", i), f"source '{name}' is listed twice"))
        seen.add(name)
    for sig, script in sc.signals.items():
        where: Path = ("signals", sig)
        spec = plan.signals.get(sig)
        if spec is None:
            p.append(Problem(where, f"the plan has no signal '{clean(sig, 80)}'"
                             f"{_close(sig, plan.signals)}", at_key=True))
            continue
        if spec.source not in replaced:
            p.append(Problem(where, f"signal '{sig}' is read from source '{spec.source}', which "
                             "'replaces' does not list: add the source to 'replaces' or drop this script",
                             at_key=True))
        p += _times(sc, script, where)
    unscripted: dict[str, list[str]] = {}
    for name, spec in plan.signals.items():
        if spec.source in replaced and sc.script_for(name) is None:
            unscripted.setdefault(spec.source, []).append(name)
    for source, missing in unscripted.items():
        p.append(Problem(("replaces", sc.replaces.index(source)),
                         f"source '{source}' is replaced, but its signal{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(sorted(missing))} {'have' if len(missing) > 1 else 'has'} no script: "
                         "add each under 'signals', or a 'default' script"))
    for name, spec in plan.signals.items():
        hb = spec.heartbeat
        if hb is not None and (hb.target in replaced) != (spec.source in replaced):
            p.append(Problem(("replaces",), f"signal '{name}' reads source '{spec.source}' and "
                             f"writes its heartbeat to '{hb.target}': replace both or neither"))
    p += _recon_sources(sc, plan, replaced)
    p += _faults(sc, plan, replaced)
    if sc.default is not None:
        p += _times(sc, sc.default, ("default",))
    p += _recon_script(sc, plan)
    return p


def _recon_sources(sc: Scenario, plan: Plan, replaced: set[str]) -> list[Problem]:
    recon = plan.reconciliation
    if recon is None or sc.reconciliation is not None:
        return []
    hit = [s for s in (recon.source, recon.target) if s in replaced]
    if not hit:
        return []
    return [Problem(("replaces", sc.replaces.index(hit[0])),
                    f"replaces '{hit[0]}', which the plan's reconciliation compares, but scripts no "
                    "reconciliation: add a 'reconciliation' section (R then runs it) or do not "
                    "replace the source")]


def _in_scenario(sc: Scenario, seconds: float | None, where: Path) -> list[Problem]:
    if sc.duration is None or seconds is None or seconds <= sc.duration:
        return []
    from cockpit.durations import format_duration

    return [Problem(where, f"{format_duration(seconds)} is after the end of the scenario "
                           f"(duration: {format_duration(sc.duration)})")]


def _times(sc: Scenario, script: Script, where: Path) -> list[Problem]:
    p: list[Problem] = []
    if script.ramp is not None:
        p += _in_scenario(sc, script.ramp.start, (*where, "ramp", "start"))
        p += _in_scenario(sc, script.ramp.end, (*where, "ramp", "end"))
    for i, step in enumerate(script.step or ()):
        p += _in_scenario(sc, step.at, (*where, "step", i, "at"))
    for i, gap in enumerate(script.gaps):
        p += _window(sc, gap, (*where, "gaps", i))
    return p


def _window(sc: Scenario, w: Window, where: Path) -> list[Problem]:
    p = _in_scenario(sc, w.at, (*where, "at"))
    if not p:
        p = _in_scenario(sc, w.end, (*where, "until" if w.until is not None else "for"))
    return p


def _faults(sc: Scenario, plan: Plan, replaced: set[str]) -> list[Problem]:
    p: list[Problem] = []
    ids: dict[str, int] = {}
    spans: dict[str, list[tuple[int, float, float | None]]] = {}
    for i, f in enumerate(sc.faults):
        where: Path = ("faults", i)
        if f.id in ids:
            p.append(Problem((*where, "id"), f"fault id '{f.id}' is used twice (first: faults[{ids[f.id]}])"))
        ids.setdefault(f.id, i)
        p += _window(sc, f, where)
        if isinstance(f, (SourceHang, SourceGarbage)) and f.source is not None:
            if f.source not in plan.sources:
                p.append(Problem((*where, "source"), f"the plan has no source '{clean(f.source, 60)}'"
                                 f"{_close(f.source, plan.sources)}"))
                continue
            if f.source not in replaced:
                p.append(Problem((*where, "source"), f"source '{f.source}' is not replaced: a scenario "
                                 "can only script what it replaces (a real source's faults are the lab's)"))
                continue
        for j, sig in enumerate(getattr(f, "signals", [])):
            spec = plan.signals.get(sig)
            if spec is None:
                p.append(Problem((*where, "signals", j), f"the plan has no signal '{clean(sig, 80)}'"
                                 f"{_close(sig, plan.signals)}"))
            elif spec.source not in replaced:
                p.append(Problem((*where, "signals", j), f"signal '{sig}' is read from source "
                                 f"'{spec.source}', which is not replaced: a scenario can only "
                                 "script what it replaces (a real source's faults are the lab's)"))
            else:
                script = sc.script_for(sig)
                if (script is not None and script.boolean
                        and isinstance(f, (LagSpike, LoginDrop, HelpdeskSurge))):
                    p.append(Problem((*where, "signals", j), f"signal '{sig}' is scripted true/false; "
                                     f"a {f.kind} sets a number"))
        if isinstance(f, ReconMismatch):
            p += _findings(sc, plan, f, where)
        # A source that hangs or answers garbage says nothing else: over a value fault it
        # wins (no ambiguity); two of one family on one signal at once are ambiguous.
        family = "source" if isinstance(f, (SourceHang, SourceGarbage)) else "value"
        for sig in fault_signals(f, plan):
            spans.setdefault(f"{family}:{sig}", []).append((i, f.at, _effective_end(f)))
    for key, items in spans.items():
        sig = key.split(":", 1)[1]
        items.sort(key=lambda x: x[1])
        for (i, _a0, e0), (j, a1, _e1) in zip(items, items[1:], strict=False):
            if e0 is None or a1 < e0:
                p.append(Problem(("faults", j, "at"), f"fault '{sc.faults[j].id}' overlaps fault "
                                 f"'{sc.faults[i].id}' on signal '{sig}': which one answers is "
                                 "ambiguous; end one before the other starts"))
    return p


def recon_tables(sc: Scenario, plan: Plan) -> list[str]:
    """The tables a scripted reconciliation covers: the plan's, else the scenario's."""
    if plan.reconciliation is not None and plan.reconciliation.tables:
        return [t.name for t in plan.reconciliation.tables]
    return list(sc.reconciliation.tables) if sc.reconciliation is not None else []


def _findings(sc: Scenario, plan: Plan, f: ReconMismatch, where: Path) -> list[Problem]:
    p: list[Problem] = []
    if sc.reconciliation is None:
        p.append(Problem((*where, "kind"), "a recon_mismatch needs the scenario's 'reconciliation' "
                                           "section (what R runs in a rehearsal)"))
    tables = recon_tables(sc, plan)
    checks = [c.id for c in plan.reconciliation.domain] if plan.reconciliation is not None else []
    for k, finding in enumerate(f.findings):
        if finding.table is not None and finding.table not in tables:
            p.append(Problem((*where, "findings", k, "table"),
                             f"no reconciliation table '{clean(finding.table, 60)}'"
                             f"{_close(finding.table, tables)}; tables: {_names(tables)}"))
        if finding.check is not None and finding.check not in checks:
            p.append(Problem((*where, "findings", k, "check"),
                             f"the plan has no domain check '{clean(finding.check, 60)}'"
                             f"{_close(finding.check, checks)}; checks: {_names(checks)}"))
    return p


def _recon_script(sc: Scenario, plan: Plan) -> list[Problem]:
    script = sc.reconciliation
    if script is None:
        return []
    p: list[Problem] = []
    for i, at in enumerate(script.runs):
        p += _in_scenario(sc, at, ("reconciliation", "runs", i))
        if i and at <= script.runs[i - 1]:
            p.append(Problem(("reconciliation", "runs", i), "runs must be in increasing order"))
    if plan.reconciliation is None:
        if not script.tables:
            return p + [Problem(("reconciliation",), "the plan has no reconciliation section: list "
                                                     "the tables to simulate under reconciliation.tables")]
        return p
    names = [t.name for t in plan.reconciliation.tables]
    return p + [Problem(("reconciliation", "tables", t), f"the plan's reconciliation has no table "
                    f"'{clean(t, 60)}'{_close(t, names)}; tables: {_names(names)}", at_key=True)
            for t in script.tables if t not in names]
