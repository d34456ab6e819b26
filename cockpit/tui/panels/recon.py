"""Reconciliation summary: per table source/target/mismatches, open exceptions by severity."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

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
        tables = data.get("tables") or {}
        width = max((len(str(n)) for n in tables), default=5)
        text.append(f"{'table':<{width}} {'source':>9} {'target':>9} {'mismatch':>8}", style="bold")
        for name, t in tables.items():
            t = t if isinstance(t, dict) else {}
            mism = sum(int(t.get(k) or 0) for k in ("missing", "extra", "changed"))
            text.append("\n")
            shown = safe(name, 40)
            shown.pad_right(max(0, width - len(shown)))  # pad after cleaning: clean folds spaces
            text.append_text(shown)
            text.append(f" {_num(t.get('source_rows')):>9} {_num(t.get('target_rows')):>9} ")
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


class ReconPanel(Static):
    def show(self, state) -> None:
        self.border_title = "Reconciliation"
        self.update(recon_text(state))
