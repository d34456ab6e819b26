"""The cockpit's own signals, read from the replayed journal: ``recon.*`` and ``exceptions.*``.

Reconciliation readings carry the ``recon.run`` entry's time, so a gate's ``max_staleness``
applies to them: an old run goes UNKNOWN instead of staying green. Before the first run there
are no ``recon.*`` readings at all (gates on them are UNKNOWN). ``recon.last_run_age_s`` and
``exceptions.*`` are fresh readings of the state as it is now.
"""

from __future__ import annotations

from cockpit.config.plan import RECON_TABLE_SIGNALS
from cockpit.runbook.ages import Ages
from cockpit.runbook.state import RunbookState
from cockpit.signals.reading import Reading
from cockpit.text import clean


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def builtin_readings(state: RunbookState, clock, ages: Ages | None = None) -> dict[str, Reading]:
    """``ages`` (one per process, see ``cockpit.runbook.ages``) measures the age of a run on
    the monotonic clock; without it the wall clock is trusted (one-shot views)."""
    now, mono = clock.now(), clock.monotonic()
    ages = ages or Ages(clock)
    out: dict[str, Reading] = {}
    if state.last_recon is not None:
        ts, data = state.last_recon
        run_mono = ages.mono_of(ts)
        future = ("recorded later than now: the wall clock stepped back, so the run's age is "
                  "unknown") if run_mono is None else None

        def put(name: str, value, error: str | None = None) -> None:
            value = _number(value)
            error = future or error
            if value is None and error is None:
                error = "not reported by the last reconciliation run"
            out[name] = Reading(name, ts, mono if run_mono is None else run_mono,
                                None if error else value, error)

        put("recon.mismatched_rows", data.get("mismatched_rows"))
        put("recon.failed_checks", data.get("failed_checks"))
        tables = data.get("tables") if isinstance(data.get("tables"), dict) else {}
        for table, t in tables.items():
            t = t if isinstance(t, dict) else {}
            err = t.get("error")
            err = clean(err, 200, single_line=True) if err else None
            for kind in RECON_TABLE_SIGNALS:
                put(f"recon.{table}.{kind}", t.get(kind), err)
        out["recon.last_run_age_s"] = Reading("recon.last_run_age_s", now, mono,
                                              ages.age_of(ts), future)
    open_ = state.open_exceptions()
    out["exceptions.open"] = Reading("exceptions.open", now, mono, len(open_))
    out["exceptions.open_critical"] = Reading(
        "exceptions.open_critical", now, mono, sum(1 for e in open_ if e.severity == "critical"))
    return out
