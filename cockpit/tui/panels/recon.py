"""Reconciliation summary: per table source/target/mismatches, open exceptions by severity,
and while a run is going its progress above the last journalled run."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from cockpit.durations import format_duration
from cockpit.recon.progress import progress_parts
from cockpit.tui.safe import safe

SEVERITY_ORDER = ("critical", "major", "minor", "info")


def recon_data(last_recon) -> dict | None:
    """``state.last_recon`` is ``(wall ts, data)``; the panel wants the data."""
    if last_recon is None:
        return None
    data = last_recon[1] if isinstance(last_recon, tuple) else last_recon
    return data if isinstance(data, dict) else None


def open_exceptions(exceptions) -> list:
    items = exceptions.values() if isinstance(exceptions, dict) else (exceptions or ())
    return [e for e in items if str(getattr(e, "status", "open")).lower().endswith("open")]


def recon_text(state) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    data = recon_data(getattr(state, "last_recon", None))
    if data is None:
        text.append("no reconciliation run recorded yet", style="dim")
    else:
        if data.get("simulated"):
            text.append("SIMULATED", style="bold reverse")
            text.append(" run (rehearsal): scripted results, no database was read\n")
        tables = data.get("tables") or {}
        width = max((len(str(n)) for n in tables), default=5)
        text.append(f"{'table':<{width}} {'source':>9} {'target':>9} {'mismatch':>8}", style="bold")
        for name, t in tables.items():
            t = t if isinstance(t, dict) else {}
            figures = [t.get(k) for k in ("missing", "extra", "changed")]
            text.append("\n")
            shown = safe(name, 40)
            shown.pad_right(max(0, width - len(shown)))  # pad after cleaning: clean folds spaces
            text.append_text(shown)
            text.append(f" {_num(t.get('source_rows')):>9} {_num(t.get('target_rows')):>9} ")
            if all(f is None for f in figures):
                # Not measured (content layer not run, cancelled, errored): never a green 0.
                text.append(f"{'—':>8}", style="dim")
            else:
                mism = sum(int(f or 0) for f in figures)
                text.append(f"{mism:>8}", style="bold red" if mism else "green")
            if t.get("error"):
                text.append("  ")
                text.append_text(safe(t["error"], 60, style="red"))
    opened = open_exceptions(getattr(state, "exceptions", {}))
    counts = Counter(str(getattr(e, "severity", "?")) for e in opened)
    text.append("\nopen exceptions: ")
    if not opened:
        text.append("none", style="green")
    else:
        order = [s for s in SEVERITY_ORDER if s in counts] + sorted(set(counts) - set(SEVERITY_ORDER))
        text.append_text(safe(", ".join(f"{counts[s]} {s}" for s in order), 80,
                              style="bold red" if counts.get("critical") else "bold yellow"))
        text.append("  (x: triage)", style="dim")
    return text


def _num(value) -> str:
    return "—" if value is None else str(value)


def running_text(progress, elapsed_s: float, cancelling: bool = False,
                 simulated: bool = False) -> Text:
    """The line a running reconciliation shows (progress is a ``runner.RunProgress`` or None
    before the first report); a rehearsal's scripted run says it is simulated."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    word = "cancelling" if cancelling else "running"
    text.append(f"▶ {'simulated, ' if simulated else ''}{word}: ", style="bold yellow")
    if progress is None:
        text.append(f"starting… elapsed {format_duration(elapsed_s)}")
    else:
        text.append_text(safe(" · ".join(progress_parts(progress, elapsed_s)), 200))
    if not cancelling:
        text.append("  (R/esc: cancel)", style="dim")
    return text


class ReconPanel(Static):
    def show(self, state, running: tuple | None = None) -> None:
        """``running`` is ``(progress or None, elapsed_s, cancelling, simulated)`` while a run
        is going."""
        self.border_title = "Reconciliation"
        body = recon_text(state)
        if running is not None:
            top = running_text(*running)
            top.append("\n")
            top.append_text(body)
            body = top
            self.border_subtitle = "running"
        else:
            data = recon_data(getattr(state, "last_recon", None))
            self.border_subtitle = "simulated" if data and data.get("simulated") else ""
        self.update(body)
