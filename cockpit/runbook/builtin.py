"""The cockpit's own signals, read from the replayed journal: ``recon.*``, ``exceptions.*``
and the forecast's ``runbook.forecast_margin_s`` and ``runbook.late_steps``.

Reconciliation readings are computed over every ``recon.run`` so far, unit by unit
(``cockpit.recon.evidence``): a partial run changes only what it measured, and a reading
carries the time of the evidence behind it (for a sum, the oldest measurement in it), so a
gate's ``max_staleness`` applies to that evidence: an old measurement goes UNKNOWN instead of
staying green. A sum has no value (UNKNOWN) until every configured unit has been measured.
Before the first run there are no ``recon.*`` readings at all (gates on them are UNKNOWN).
``recon.last_run_age_s`` and ``exceptions.*`` are fresh readings of the state as it is now.

The age of evidence is measured on the monotonic clock (``cockpit.runbook.ages``): a wall
clock stepping back never makes a run fresher, and a run stamped in the future is UNKNOWN.
"""

from __future__ import annotations

from cockpit.config.plan import RECON_TABLE_SIGNALS
from cockpit.recon.evidence import Figure, ReconEvidence
from cockpit.runbook.ages import Ages
from cockpit.runbook.forecast import Forecast
from cockpit.runbook.state import RunbookState
from cockpit.signals.reading import Reading
from cockpit.text import clean

NOT_REPORTED = "not reported by the reconciliation runs"
FUTURE = "recorded later than now: the wall clock stepped back, so the run's age is unknown"


def builtin_readings(state: RunbookState, clock, ages: Ages | None = None) -> dict[str, Reading]:
    """``ages`` (one per process, see ``cockpit.runbook.ages``) measures the age of evidence on
    the monotonic clock; without it the wall clock is trusted (one-shot views)."""
    now, mono = clock.now(), clock.monotonic()
    ages = ages or Ages(clock)
    out: dict[str, Reading] = {}
    if state.last_recon is not None:
        last_ts, _data = state.last_recon
        evidence = state.recon_evidence or ReconEvidence()

        def put(name: str, figure: Figure) -> None:
            ts = figure.ts if figure.ts is not None else last_ts
            run_mono = ages.mono_of(ts)
            error = None
            if run_mono is None:
                error = FUTURE
            elif figure.value is None:
                error = clean(figure.error or NOT_REPORTED, 200, single_line=True)
            out[name] = Reading(name, ts, mono if run_mono is None else run_mono,
                                None if error else figure.value, error)

        put("recon.mismatched_rows", evidence.mismatched_rows())
        put("recon.failed_checks", evidence.failed_checks())
        for table in evidence.tables:
            for kind in RECON_TABLE_SIGNALS:
                put(f"recon.{table}.{kind}", evidence.table_figure(table, kind))
        age = ages.age_of(last_ts)
        out["recon.last_run_age_s"] = Reading("recon.last_run_age_s", now, mono, age,
                                              FUTURE if age is None else None)
    open_ = state.open_exceptions()
    out["exceptions.open"] = Reading("exceptions.open", now, mono, len(open_))
    out["exceptions.open_critical"] = Reading(
        "exceptions.open_critical", now, mono, sum(1 for e in open_ if e.severity == "critical"))
    return out


def forecast_readings(fc: Forecast | None, clock) -> dict[str, Reading]:
    """``runbook.forecast_margin_s`` (seconds from the forecast finish to the window's end,
    negative past it) and ``runbook.late_steps`` (:func:`cockpit.runbook.forecast.late_steps`):
    fresh readings of the forecast as it is now; none while nothing can be forecast (a gate
    on them is UNKNOWN then, never green)."""
    if fc is None:
        return {}
    now, mono = clock.now(), clock.monotonic()
    return {"runbook.forecast_margin_s": Reading("runbook.forecast_margin_s", now, mono,
                                                 round(fc.margin_s, 3)),
            "runbook.late_steps": Reading("runbook.late_steps", now, mono, fc.late_steps)}
