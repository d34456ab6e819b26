"""Header line: cutover, phase (ROLLBACK in reverse video), T+ clock, window left, operator,
journal head (``#seq`` and 8 hash characters, to read out on the bridge), and "recording…"
while an action waits on a slow journal (plain text, no animation)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.durations import format_clock, format_duration
from cockpit.tui.safe import safe


def cutover_clock(state, plan, now: float) -> str:
    if state.clock_started_at is not None:
        return "T+" + format_clock(now - state.clock_started_at)
    start = plan.cutover.window.start.timestamp()
    if now < start:
        return "T-" + format_clock(start - now)
    return "T+--:--:--"


def window_left(plan, now: float) -> str:
    end = plan.cutover.window.end.timestamp()
    if now >= end:
        return f"window OVER by {format_duration(now - end)}"
    left = end - now
    if left < 86400 * 2:
        return f"{format_duration(left)} left"
    return f"window ends {plan.cutover.window.end:%Y-%m-%d}"


def header_text(plan, state, operator: str, now: float, readonly: bool = False,
                recording: bool = False, quarantined: int = 0) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if quarantined:
        # Journal lines set aside since the last acknowledgement: first, so nothing hides it.
        text.append(f" ⚠ {quarantined} SET-ASIDE LINE{'S' if quarantined > 1 else ''} "
                    "(ctrl+p: acknowledge) ", style="bold reverse")
    if state.rollback_active:
        text.append(" ROLLBACK ", style="bold reverse")
    else:
        text.append_text(safe(f" {state.phase or '-'} ", 20, style="bold"))
    text.append(" ")
    text.append(cutover_clock(state, plan, now), style="bold")
    text.append(f"  {window_left(plan, now)}  ")
    text.append_text(safe(operator, 24))
    if readonly:
        text.append(" (read-only)", style="bold")
    seq, digest = state.head
    text.append(f"  #{seq} {digest[:8]}  ", style="bold")
    if recording:
        text.append("recording…  ", style="bold")
    text.append_text(safe(plan.cutover.name, 80, style="dim"))
    return text


class HeaderBar(Static):
    def show(self, plan, state, operator: str, now: float, readonly: bool = False,
             recording: bool = False, quarantined: int = 0) -> None:
        self.update(header_text(plan, state, operator, now, readonly, recording, quarantined))
