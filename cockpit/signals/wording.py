"""How a source's failure to answer in time is worded: in the words of the setting involved.

One rule for every source client (http, prometheus, help desk, postgres): the time waited,
then the plan setting that bounded it and its configured value, so the operator knows which
line of the plan to look at: ``timed out after 5s (timeout: 5s)``, ``connect timed out after
3s (connect_timeout: 3s)``. Never the text of whatever layer noticed first (a TLS read that
"did not complete", libpq's "timeout expired"): that is the same event in other words.
"""

from __future__ import annotations

from cockpit.durations import format_duration


def seconds(value: float) -> str:
    """A duration as the plan writes it (``300ms``, ``5s``, ``1m30s``); tenths of a second
    where the plan's units would round them away (``1.6s``, not ``1s``)."""
    if value >= 1 and abs(value - round(value)) >= 0.05:
        return f"{round(value, 1):g}s"
    return format_duration(value)


def timed_out(after: float, setting: str, configured: float | None = None, *,
              what: str = "timed out", also: str = "") -> str:
    """``{what} after {after} ({setting}: {configured}[; also])``; ``configured`` defaults to
    ``after`` (the setting was the bound)."""
    value = seconds(after if configured is None else configured)
    return f"{what} after {seconds(after)} ({setting}: {value}{'; ' + also if also else ''})"
