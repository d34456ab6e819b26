"""Read-only screens: help, gate details, quit confirmation, terminal too small."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from cockpit.durations import format_duration
from cockpit.tui.keymap import help_rows
from cockpit.tui.panels.style import STEP_SYMBOL, gate_word
from cockpit.tui.panels.values import fmt
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import AskScreen, CockpitModal

HELP = help_rows()


# What each mark on a runbook row means, in words (the row: selection, status, id, flags).
LEGEND = [
    ("›", "the selected step (the one the keys act on)"),
    (STEP_SYMBOL["pending"], "pending: not workable yet (an earlier step, or its phase, first)"),
    (STEP_SYMBOL["active"], "active: workable now; the time is elapsed/planned, OVER past plan"),
    (STEP_SYMBOL["done"], "done: confirmed (the row names who and when)"),
    (STEP_SYMBOL["skipped"], "skipped, with a reason code"),
    (STEP_SYMBOL["failed"], "failed"),
    ("!", "critical: type the step id to confirm or skip it"),
    ("◆", "decision: records GO or NO-GO with the gate snapshot"),
    ("phase 2 of 3", "in the runbook title: the phase shown (browse with [ and ])"),
]

MODAL_KEYS = [
    ("esc", "cancel: the dialog closes and nothing is written"),
    ("tab, shift+tab", "next / previous field or button; up/down + enter pick from a list"),
    ("enter", "in a form: submit from any field (says what is missing, and goes there)"),
    ("y", "yes, in a dialog without text fields (plain confirm, quit, reconcile)"),
    ("^o ^f", "override a gate / mark the step failed (ctrl chords: never typed into a field)"),
    ("^g ^n", "decision: record GO / NO-GO (enter never picks one)"),
]


def help_text() -> Text:
    text = Text(end="")
    text.append("Every action is written to the audit journal (fsync) before the screen shows it.\n"
                "Gates read by symbol and word: ✔ GO  ◐ HOLD  ✖ NO-GO  ? UNKNOWN "
                "(stale is not green).\n")
    text.append("\nKeys\n", style="bold underline")
    for key, what in HELP:
        text.append(f"{key:>14}  ", style="bold")
        text.append(what + "\n")
    text.append("\nIn a dialog\n", style="bold underline")
    for key, what in MODAL_KEYS:
        text.append(f"{key:>14}  ", style="bold")
        text.append(what + "\n")
    text.append("\nRunbook marks\n", style="bold underline")
    for mark, what in LEGEND:
        text.append(f"{mark:>14}  ", style="bold")
        text.append(what + "\n")
    text.append("\nA key that cannot act now is greyed; pressing it says why.\n"
                "In tmux, `set -s escape-time 10` makes escape answer at once.", style="dim")
    return text


class HelpScreen(CockpitModal[None]):
    """The keys (from ``cockpit.tui.keymap``), the dialog key model, the runbook marks."""

    BINDINGS = [Binding("question_mark,q", "cancel", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = "Help · esc, q or ? closes · up/down scroll"
            yield Static(help_text())
            yield Static("", classes="modal-error")


def gate_detail_text(plan, gate_ids, statuses, history_of, mono_now: float) -> Text:
    text = Text(end="")
    for n, gid in enumerate(gate_ids):
        gate = plan.gates[gid]
        status = statuses.get(gid)
        word, style = gate_word(status)
        if n:
            text.append("\n\n")
        text.append(f"{word:<15} ", style=style)
        text.append(gid, style="bold")
        if gate.title:
            text.append("  ")
            text.append_text(safe(gate.title, 80))
        text.append("\n  expr: ")
        text.append_text(safe(gate.expr, 300))
        text.append(f"\n  window: hold {format_duration(gate.hold_for)}")
        if status is not None and gate.hold_for:
            text.append(f" (held {format_duration(status.held_s)})")
        text.append(f" · max staleness {format_duration(gate.max_staleness)}")
        if status is not None:
            text.append("\n  why: ")
            text.append_text(safe(status.reason, 300))
            for name, reading in status.readings.items():
                unit = plan.signals[name].unit if name in plan.signals else ""
                text.append(f"\n    {name} = ")
                if reading.error:
                    text.append_text(safe(reading.error, 120, style="red"))
                else:
                    text.append(fmt(reading.value, unit), style="bold")
                text.append(f"  age {format_duration(reading.age(mono_now))}", style="dim")
                recent = [r for r in history_of(name)[-6:] if r.ok]
                if len(recent) > 1:
                    text.append("  recent: " + " ".join(fmt(r.value) for r in recent), style="dim")
    return text


class GateDetailsScreen(CockpitModal[None]):
    BINDINGS = [Binding("g,q", "cancel", "Close")]

    def __init__(self, body: Text, rebuild=None):
        """``rebuild(gates)``: the body as the gates are now (redrawn on the app's tick)."""
        super().__init__()
        self.body = body
        self.rebuild = rebuild

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = "Gate details · esc, q or g closes · up/down scroll"
            yield Static(self.body, id="gate-details")
            yield Static("", classes="modal-error")

    def show_gates(self, gates: dict) -> None:
        if self.rebuild is not None:
            self.redraw("#gate-details", self.rebuild(gates))


class QuitScreen(AskScreen):
    """Quit while something runs: the shared yes/no modal, saying what quitting stops."""

    def __init__(self, why: str, stopped: str = "The command is stopped and its run is not journalled."):
        super().__init__("Quit?", f"{why}\nQuit anyway? {stopped}", "Quit anyway (y)",
                         "Stay (esc)", yes_variant="error")


class TooSmallScreen(Screen):
    """Shown instead of a broken layout; the app pops it when the terminal grows."""

    BINDINGS = [Binding("q,ctrl+c", "app.quit", "Quit")]
    DEFAULT_CSS = "TooSmallScreen { align: center middle; } TooSmallScreen Static { width: auto; }"

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def show(self, width: int, height: int, need: tuple[int, int]) -> None:
        self.query_one("#too-small", Static).update(
            Text(f"terminal too small: need {need[0]}x{need[1]} (now {width}x{height})", end=""))
