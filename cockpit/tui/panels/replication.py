"""Replication panel: a sparkline of recent lag, the current value and the gate threshold."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from cockpit.durations import format_duration
from cockpit.tui.panels.values import current, is_stale, thresholds
from cockpit.tui.safe import safe
from cockpit.units import signal_format

SPARK_POINTS = 60


class ReplicationPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="repl-text")
        yield Sparkline([], id="repl-spark")

    def show(self, plan, latest, history_of, mono_now: float | None = None) -> None:
        names = [n for n, s in plan.signals.items() if s.panel == "replication"]
        self.border_title = "Replication"
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if not names:
            text.append("no replication signals in this plan", style="dim")
        for i, name in enumerate(names):
            sig = plan.signals[name]
            unit, places = signal_format(plan, name)
            reading = latest.get(name)
            if i:
                text.append("\n")
            text.append_text(safe(sig.title or name, 40))
            text.append("  ")
            if is_stale(reading, name, plan, mono_now):
                text.append(current(reading, unit, places), style="dim strike")
                text.append(f" STALE {format_duration(reading.age(mono_now))} old",
                            style="bold magenta")
            else:
                text.append(current(reading, unit, places), style="bold")
            limit = thresholds(name, plan.gates, unit)
            if limit:
                text.append(f"  (gate needs {', '.join(limit)})", style="dim")
            if reading is not None and reading.error:
                text.append("  ")
                text.append_text(safe(reading.error, 80, style="red"))
        self.query_one("#repl-text", Static).update(text)
        spark = self.query_one("#repl-spark", Sparkline)
        if names:
            values = [float(r.value) for r in history_of(names[0])[-SPARK_POINTS:] if r.ok]
            spark.data = values or [0.0]
