"""Read-only screens: help, gate details, quit confirmation, terminal too small."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Static

from cockpit.durations import format_duration
from cockpit.tui.panels.style import gate_word
from cockpit.tui.panels.values import fmt
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal

HELP = [
    ("up/down, j/k", "select a runbook step"),
    ("enter, c", "confirm the selected step (decision: GO / NO-GO)"),
    ("s", "skip the step (reason code)"),
    ("o", "override a gate blocking the step (reason, note, type OVERRIDE)"),
    ("r", "run the step's commands (output saved next to the journal)"),
    ("b", "start the rollback (reason, type ROLLBACK)"),
    ("x", "exception queue and triage"),
    ("n", "add a note to the journal"),
    ("g", "gate details: expression, readings with age, window"),
    ("1-4", "compact layout: show replication / recon / signals / audit"),
    ("0", "compact layout: hide the extra panel"),
    ("ctrl+p", "command palette with every action (also: fail step)"),
    ("?", "this help"),
    ("R", "run reconciliation; while it runs, R or escape: cancel it"),
    ("q", "quit (asks if a command or reconciliation is running)"),
    ("escape", "cancel any dialog; a cancel writes nothing"),
]


def help_text() -> Text:
    text = Text(end="")
    text.append("Every action is written to the audit journal (fsync) before the screen shows it.\n"
                "States read by symbol and word: ✔ GO  ◐ HOLD  ✖ NO-GO  ? UNKNOWN (stale is not green).\n"
                "Steps: · pending  ▶ active  ✔ done  ↷ skipped  ✖ failed   ! critical  ◆ decision\n\n")
    for key, what in HELP:
        text.append(f"{key:>14}  ", style="bold")
        text.append(what + "\n")
    text.append("\nIn tmux, `set -s escape-time 10` makes escape answer at once.", style="dim")
    return text


class HelpScreen(CockpitModal):
    BINDINGS = [Binding("question_mark,q", "cancel", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = "Help"
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


class GateDetailsScreen(CockpitModal):
    BINDINGS = [Binding("g,q", "cancel", "Close")]

    def __init__(self, body: Text):
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = "Gate details"
            yield Static(self.body)
            yield Static("", classes="modal-error")


class QuitScreen(CockpitModal):
    BINDINGS = [Binding("y", "quit_anyway", "Quit anyway")]

    def __init__(self, why: str, stopped: str = "The command is stopped and its run is not journalled."):
        super().__init__()
        self.why = why
        self.stopped = stopped

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = "Quit?"
            yield Static(Text(f"{self.why}\nQuit anyway? {self.stopped}", end=""))
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Stay (esc)", id="cancel", variant="primary")
                yield Button("Quit anyway (y)", id="quit", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel").focus()

    def action_quit_anyway(self) -> None:
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit")


class TooSmallScreen(Screen):
    """Shown instead of a broken layout; the app pops it when the terminal grows."""

    BINDINGS = [Binding("q,ctrl+c", "app.quit", "Quit")]
    DEFAULT_CSS = "TooSmallScreen { align: center middle; } TooSmallScreen Static { width: auto; }"

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def show(self, width: int, height: int, need: tuple[int, int]) -> None:
        self.query_one("#too-small", Static).update(
            Text(f"terminal too small: need {need[0]}x{need[1]} (now {width}x{height})", end=""))
