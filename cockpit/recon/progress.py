"""A running reconciliation in words: checks and rows done of total, elapsed, an ETA once
there is something to estimate from, and what is being checked now. Shared by any view of
``runner.RunProgress`` (the cockpit's panel); pure, no I/O."""

from __future__ import annotations

from cockpit.durations import format_duration
from cockpit.recon.runner import RunProgress
from cockpit.text import clean

# An ETA from the first second of a run is noise (connections, schema queries): show none yet.
MIN_ELAPSED_FOR_ETA_S = 1.0


def fraction(p: RunProgress) -> float:
    """How much of the run is done, 0..1: by rows once the content layer has estimates
    (rows dominate the time), else by checks."""
    if p.rows_total:
        return min(1.0, max(0.0, p.rows_done / p.rows_total))
    if p.units_total:
        return min(1.0, max(0.0, p.units_done / p.units_total))
    return 0.0


def eta_s(p: RunProgress, elapsed_s: float | None = None) -> float | None:
    """Seconds still to go at the rate so far, or None when it cannot be estimated yet."""
    elapsed = p.elapsed_s if elapsed_s is None else elapsed_s
    done = fraction(p)
    if not 0 < done < 1 or elapsed < MIN_ELAPSED_FOR_ETA_S:
        return None
    return elapsed * (1 - done) / done


def progress_parts(p: RunProgress, elapsed_s: float | None = None) -> list[str]:
    """``["3/9 checks", "1,200/4,000 rows", "elapsed 12s", "ETA 30s", "patients"]``; the rows,
    ETA and current parts only when known. ``elapsed_s`` overrides the figure in ``p`` (a view
    redrawing between progress reports knows the time better)."""
    elapsed = p.elapsed_s if elapsed_s is None else max(elapsed_s, p.elapsed_s)
    parts = [f"{p.units_done}/{p.units_total} checks"]
    if p.rows_total:
        parts.append(f"{p.rows_done:,}/{p.rows_total:,} rows")
    parts.append(f"elapsed {format_duration(elapsed)}")
    eta = eta_s(p, elapsed)
    if eta is not None:
        parts.append(f"ETA {format_duration(eta)}")
    if p.current:
        parts.append(clean(p.current, 40, single_line=True))
    return parts


__all__ = ["MIN_ELAPSED_FOR_ETA_S", "eta_s", "fraction", "progress_parts"]
