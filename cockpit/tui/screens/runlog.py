"""The output of a step's commands as it streams, then the outcome and what to do next.

The lines come from ``cockpit.runbook.commands`` already cleaned, redacted and capped; this
screen only shows the newest ``TAIL_LINES`` of them. Lines are batched (at most one redraw
per ``FLUSH_S``) and both the batch and the log are bounded, so a command printing millions
of lines costs the view no more than one that prints a thousand.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Log, Static

from cockpit.runbook.commands import TAIL_LINES
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal

if TYPE_CHECKING:
    from textual.timer import Timer

FLUSH_S = 0.1


class RunScreen(CockpitModal[str]):
    """Dismisses with "confirm" (exit 0, operator asks to confirm) or None (close)."""

    BINDINGS = [Binding("y", "offer_confirm", "Confirm step")]
    DEFAULT_CSS = """
    RunScreen > .modal-box { width: 100%; height: 100%; }
    RunScreen Log { height: 1fr; border: round $panel; }
    """

    def __init__(self, step, tail_lines: int = TAIL_LINES):
        super().__init__()
        self.step = step
        self.exit_code: int | None = None
        self.finished = False
        self.tail_lines = tail_lines
        self.lines_seen = 0
        self._pending: deque[str] = deque(maxlen=tail_lines)
        self._flush_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = Text.assemble("Run ", safe(self.step.id, 20))
            yield Static(Text(f"running {len(self.step.run)} command(s) for {self.step.id}…", end=""),
                         id="run-status")
            yield Log(id="run-log", auto_scroll=True, max_lines=self.tail_lines)
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Close (esc)", id="cancel", variant="primary")
            yield Static("esc close (a running command goes on) · y confirm the step once it "
                         "exited 0", classes="modal-keys")

    def add_line(self, line: str, seen: int | None = None) -> None:
        """One shown line (clean already); ``seen``: lines of output so far, shown or not.
        Held until the next flush; only the newest ``tail_lines`` are ever held or shown."""
        self.lines_seen = self.lines_seen + 1 if seen is None else seen
        self._pending.append(line or " ")  # a Log drops an empty line
        if self._flush_timer is None and self.is_mounted:
            self._flush_timer = self.set_timer(FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if not self._pending:
            return
        lines = list(self._pending)
        self._pending.clear()
        log = self.query_one(Log)
        log.write_lines(lines)
        if self.lines_seen > self.tail_lines:
            log.border_title = (f"last {self.tail_lines} of {self.lines_seen} lines; "
                                "the whole output is saved")

    def on_mount(self) -> None:
        self._flush()  # what came before the screen was composed

    def finish(self, exit_code: int | None, outcome: Text) -> None:
        self.exit_code = exit_code
        self.finished = True
        if self._flush_timer is not None:
            self._flush_timer.stop()
        self._flush()
        self.query_one("#run-status", Static).update(outcome)
        if exit_code == 0:
            self.query_one(".modal-buttons", Horizontal).mount(
                Button("Confirm step… (y)", id="confirm", variant="success"))
        self.refresh_bindings()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "offer_confirm":
            return self.finished and self.exit_code == 0
        return True

    def action_offer_confirm(self) -> None:
        if self.check_action("offer_confirm", ()):
            self.dismiss("confirm")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss("confirm" if event.button.id == "confirm" else None)
