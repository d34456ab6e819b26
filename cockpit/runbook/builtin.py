"""The cockpit's own signals, read from the replayed journal: ``recon.*`` and ``exceptions.*``.

Reconciliation readings are computed over every ``recon.run`` so far, unit by unit
(``cockpit.recon.evidence``): a partial run changes only what it measured, and a reading
carries the time of the evidence behind it (for a sum, the oldest measurement in it), so a
gate's ``max_staleness`` applies to that evidence: an old measurement goes UNKNOWN instead of
staying green. A sum has no value (UNKNOWN) until every configured unit has been measured.
Before the first run there are no ``recon.*`` readings at all (gates on them are UNKNOWN).
``recon.last_run_age_s`` and ``exceptions.*`` are fresh readings of the state as it is now.
"""

from __future__ import annotations

from cockpit.config.plan import RECON_TABLE_SIGNALS
from cockpit.recon.evidence import Figure, ReconEvidence
from cockpit.runbook.state import RunbookState
from cockpit.signals.reading import Reading
from cockpit.text import clean

NOT_REPORTED = "not reported by the reconciliation runs"


def builtin_readings(state: RunbookState, clock) -> dict[str, Reading]:
    now, mono = clock.now(), clock.monotonic()
    out: dict[str, Reading] = {}
    if state.last_recon is not None:
        last_ts, _data = state.last_recon
        evidence = state.recon_evidence or ReconEvidence()

        def put(name: str, figure: Figure) -> None:
            ts = figure.ts if figure.ts is not None else last_ts
            run_mono = mono - max(0.0, now - ts)
            error = None
            if figure.value is None:
                error = clean(figure.error or NOT_REPORTED, 200, single_line=True)
            out[name] = Reading(name, ts, run_mono, None if error else figure.value, error)

        put("recon.mismatched_rows", evidence.mismatched_rows())
        put("recon.failed_checks", evidence.failed_checks())
        for table in evidence.tables:
            for kind in RECON_TABLE_SIGNALS:
                put(f"recon.{table}.{kind}", evidence.table_figure(table, kind))
        out["recon.last_run_age_s"] = Reading(
            "recon.last_run_age_s", now, mono, max(0.0, now - last_ts))
    open_ = state.open_exceptions()
    out["exceptions.open"] = Reading("exceptions.open", now, mono, len(open_))
    out["exceptions.open_critical"] = Reading(
        "exceptions.open_critical", now, mono, sum(1 for e in open_ if e.severity == "critical"))
    return out
