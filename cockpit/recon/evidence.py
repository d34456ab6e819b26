"""What the journal's ``recon.run`` entries say was measured, unit by unit, and when.

A reconciliation run measures *units*: ``schema:<table>``, ``counts:<table>``,
``content:<table>``, ``domain:<check id>`` and ``storage``. A partial run (``--table``,
``--layer``, a cancel before a unit started) measures only some; the others keep the value the
last run that measured them found, with that run's time. The gate signals are computed from
this, never from one run alone:

- ``recon.failed_checks``: units whose latest measurement failed (an error, a missing table, a
  domain check or the storage manifest with findings), summed over every unit the plan
  configures; no value until each has been measured at least once; its time is the oldest of
  the measurements it sums, so ``max_staleness`` applies to the oldest evidence.
- ``recon.mismatched_rows``: missing + extra + changed of every configured table's latest
  content measurement, same rules; a table whose latest content attempt errored makes it
  unknown (the newest evidence is "could not compare").
- ``recon.<table>.<kind>``: that table's latest measurement of it, with its time.

``recon.run`` data, format 2 (``"format": 2``): everything of the earlier format (``tables``,
``mismatched_rows`` and ``failed_checks`` of this run alone, ``layers``, ...) plus ``units``::

    "units": {"content:patients": {"layer": "content", "table": "patients", "check": null,
                                    "failed": false, "error": null, "findings": 3,
                                    "missing": 1, "extra": 0, "changed": 2,
                                    "source_rows": 10, "target_rows": 9}, ...}

Exactly the units this run attempted appear (``counts`` units carry ``source_rows`` and
``target_rows``, ``content`` units all five figures, when measured). Earlier entries (no
``format``) are still read: their per-table figures where the run completed them, and their
``failed_checks`` only when the run covered the whole plan, as an aggregate that stays in the
sum (conservatively: it can only add failures) until every unit has been measured again. For a
plan that configures no tables (or no units at all), the latest earlier-format run's own
``mismatched_rows`` (``failed_checks``) is the only evidence there is, and is used as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cockpit.config.plan import Plan

FORMAT = 2
TABLE_LAYERS = ("schema", "counts", "content")
CONTENT_FIGURES = ("missing", "extra", "changed")
ROW_FIGURES = ("source_rows", "target_rows")
LAYERS = ("storage", "schema", "counts", "content", "domain")


def unit_id(layer: str, table: str, check: str | None = None) -> str:
    if layer == "storage":
        return "storage"
    if layer == "domain":
        return f"domain:{check}"
    return f"{layer}:{table}"


def configured_units(recon) -> tuple[str, ...]:
    """Every unit the plan's reconciliation section configures, in a stable order."""
    if recon is None:
        return ()
    units = [unit_id(layer, t.name) for t in recon.tables for layer in TABLE_LAYERS]
    units += [unit_id("domain", "", c.id) for c in recon.domain]
    if recon.storage is not None:
        units.append("storage")
    return tuple(units)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


@dataclass(frozen=True)
class Measurement:
    """The latest attempt at one unit: its run's wall time, and what it found."""

    ts: float
    failed: bool
    error: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """A signal's value with the time of the evidence behind it, or why there is none."""

    value: int | float | None
    ts: float | None
    error: str | None = None


@dataclass(frozen=True)
class ReconEvidence:
    units: Mapping[str, Measurement] = field(default_factory=lambda: MappingProxyType({}))
    configured: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    # (wall ts, failed_checks) of an earlier-format run over the whole plan.
    legacy_failed: tuple[float, int] | None = None
    # (wall ts, failed_checks, mismatched_rows) of the latest run's own totals: the only
    # evidence for a plan that configures no reconciliation units (an earlier-format run, or
    # a rehearsal's scripted run on a plan without a reconciliation section: the demo).
    legacy_last: tuple[float, Any, Any] | None = None

    @classmethod
    def for_plan(cls, plan: Plan) -> ReconEvidence:
        recon = plan.reconciliation
        return cls(configured=configured_units(recon),
                   tables=tuple(t.name for t in recon.tables) if recon is not None else ())

    def fold(self, ts: float, data: Mapping[str, Any]) -> ReconEvidence:
        """The evidence after one ``recon.run`` entry (pure)."""
        units = dict(self.units)
        legacy, last = self.legacy_failed, self.legacy_last
        if data.get("format") == FORMAT and isinstance(data.get("units"), dict):
            for uid, u in data["units"].items():
                if isinstance(uid, str) and isinstance(u, dict):
                    units[uid] = _measurement(ts, u)
            if not self.configured:
                # Nothing configured to sum over (a rehearsal's scripted run on a plan without
                # a reconciliation section): the run's own totals are the evidence, as an
                # earlier-format run's are. A cancelled run's None stays no value.
                last = (ts, _number(data.get("failed_checks")), _number(data.get("mismatched_rows")))
        else:
            legacy = self._fold_legacy(ts, data, units) or legacy
            last = (ts, _number(data.get("failed_checks")), _number(data.get("mismatched_rows")))
        return ReconEvidence(MappingProxyType(units), self.configured, self.tables, legacy, last)

    def _fold_legacy(self, ts: float, data: Mapping[str, Any], units: dict) -> tuple | None:
        layers = data.get("layers")
        layers = set(layers) if isinstance(layers, (dict, list)) else set()
        raw = data.get("tables")
        tables: dict = raw if isinstance(raw, dict) else {}
        for name, t in tables.items():
            if not isinstance(t, dict):
                continue
            error = t.get("error") if isinstance(t.get("error"), str) else None
            rows = {k: _number(t.get(k)) for k in ROW_FIGURES}
            figures = {k: _number(t.get(k)) for k in CONTENT_FIGURES}
            if "content" in layers:
                complete = error is None and all(v is not None for v in figures.values())
                units[unit_id("content", name)] = Measurement(
                    ts, not complete, None if complete else (error or "not compared"),
                    {**figures, **rows} if complete else {})
            if "counts" in layers and error is None and all(v is not None for v in rows.values()):
                units[unit_id("counts", name)] = Measurement(ts, False, None, rows)
        whole = (set(LAYERS) <= layers and set(self.tables) <= set(tables)
                 and not data.get("cancelled"))
        failed = _number(data.get("failed_checks"))
        if whole and failed is not None:
            return (ts, int(failed))
        return None

    # -- the signals ------------------------------------------------------------------------

    def _latest(self, uids) -> tuple[list[Measurement], list[str]]:
        found, missing = [], []
        for uid in uids:
            m = self.units.get(uid)
            if m is None:
                missing.append(uid)
            else:
                found.append(m)
        return found, missing

    def _legacy_only(self, index: int, what: str) -> Figure:
        last = self.legacy_last
        if last is not None and last[index] is not None:
            return Figure(last[index], last[0])
        return Figure(None, None, f"no reconciliation {what} configured")

    def failed_checks(self) -> Figure:
        if not self.configured:
            return self._legacy_only(1, "checks")
        legacy = self.legacy_failed
        newer: list[Measurement] = []
        uncovered: list[str] = []
        for uid in self.configured:
            m = self.units.get(uid)
            if m is not None and (legacy is None or m.ts >= legacy[0]):
                newer.append(m)
            else:
                uncovered.append(uid)
        if uncovered and legacy is None:
            return Figure(None, None, _not_yet(uncovered))
        total = sum(1 for m in newer if m.failed or m.error)
        times = [m.ts for m in newer]
        if uncovered:
            # Units measured last by an earlier-format whole-plan run: its total stands in for
            # them (it can only add failures, never hide one).
            total += legacy[1]  # type: ignore[index]
            times.append(legacy[0])  # type: ignore[index]
        return Figure(total, min(times))

    def mismatched_rows(self) -> Figure:
        if not self.tables:
            return self._legacy_only(2, "tables")
        found, missing = self._latest(unit_id("content", t) for t in self.tables)
        if missing:
            return Figure(None, None, _not_yet(missing))
        for m in found:
            if m.error is not None:
                return Figure(None, m.ts, f"latest content comparison failed: {m.error}")
        total = sum(sum(int(m.values.get(k) or 0) for k in CONTENT_FIGURES) for m in found)
        return Figure(total, min(m.ts for m in found))

    def table_figure(self, table: str, kind: str) -> Figure:
        """``recon.<table>.<kind>``: the latest unit that measures it (row counts come from the
        content or the counts layer, whichever measured last)."""
        layers = ("content",) if kind in CONTENT_FIGURES else ("content", "counts")
        attempts = [m for m in (self.units.get(unit_id(x, table)) for x in layers) if m]
        if not attempts:
            return Figure(None, None, "not measured by any reconciliation run yet")
        latest = max(attempts, key=lambda m: m.ts)
        value = _number(latest.values.get(kind))
        if latest.error is not None:
            return Figure(None, latest.ts, latest.error)
        if value is None:
            return Figure(None, latest.ts, "not reported by the latest reconciliation run")
        return Figure(value, latest.ts)


def _measurement(ts: float, u: Mapping[str, Any]) -> Measurement:
    error = u.get("error") if isinstance(u.get("error"), str) else None
    values = {k: _number(u.get(k)) for k in (*CONTENT_FIGURES, *ROW_FIGURES) if k in u}
    return Measurement(ts, bool(u.get("failed")), error, MappingProxyType(values))


def _not_yet(missing: list[str]) -> str:
    shown = ", ".join(missing[:3]) + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
    return f"not measured yet: {shown}"
