"""Timings of a rehearsal (or any) journal: planned against actual per step, the critical
path, time to detect and decide after injected faults, the rollback drill, and the change
against a baseline rehearsal. Headless: the verb (``cockpit timings``) and the rehearsal's
closing ``rehearsal.summary`` entry both use :func:`timings_report`."""

from cockpit.timings.report import FORMAT, summary_entry_data, timings_report

__all__ = ["FORMAT", "summary_entry_data", "timings_report"]
