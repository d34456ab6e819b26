"""Help-desk and clinical signals: current value, change over 15 minutes, newest ticket titles."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.durations import format_duration
from cockpit.tui.panels.values import change, current, is_stale
from cockpit.tui.safe import safe
from cockpit.units import signal_format

MAX_TITLES = 3


def signal_lines(plan, panel: str, latest, history_of, now_wall: float,
                 mono_now: float | None = None) -> Text:
    names = [n for n, s in plan.signals.items() if s.panel == panel]
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if not names:
        text.append(f"no {panel} signals in this plan", style="dim")
    titles: list[str] = []
    for i, name in enumerate(names):
        sig = plan.signals[name]
        unit, places = signal_format(plan, name)
        reading = latest.get(name)
        if i:
            text.append("\n")
        text.append_text(safe(sig.title or name, 34))
        text.append(": ")
        if is_stale(reading, name, plan, mono_now):
            # The last value is history, not the present: say so in words, never in colour.
            text.append(current(reading, unit, places), style="dim strike")
            text.append(f" STALE {format_duration(reading.age(mono_now))} old", style="bold magenta")
        else:
            text.append(current(reading, unit, places), style="bold")
        delta = change(history_of(name), now_wall, unit=unit, decimals=places)
        if delta:
            text.append(f"  ({delta})", style="dim")
        if reading is not None and reading.error:
            text.append("  ")
            text.append_text(safe(reading.error, 80, style="red"))
        titles.extend((reading.detail if reading is not None else ())[:MAX_TITLES])
    # Every value first, the newest titles after them: a short panel cuts titles, never a value.
    for title in titles[:MAX_TITLES * 2]:
        text.append("\n  • ")
        text.append_text(safe(title, 120))
    return text


class SignalPanel(Static):
    """One panel per signal group (``helpdesk``, ``clinical``)."""

    def __init__(self, panel: str, title: str, **kwargs):
        super().__init__(**kwargs)
        self.panel = panel
        self.border_title = title

    def show(self, plan, latest, history_of, now_wall: float, mono_now: float | None = None) -> None:
        self.update(signal_lines(plan, self.panel, latest, history_of, now_wall, mono_now))
