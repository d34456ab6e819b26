"""The output of a step's commands as it streams, then the outcome and what to do next."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Log, Static

from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal


class RunScreen(CockpitModal):
    """Dismisses with "confirm" (exit 0, operator asks to confirm) or None (close)."""

    BINDINGS = [Binding("y", "offer_confirm", "Confirm step")]
    DEFAULT_CSS = """
    RunScreen > .modal-box { width: 100%; height: 100%; }
    RunScreen Log { height: 1fr; border: round $panel; }
    """

    def __init__(self, step):
        super().__init__()
        self.step = step
        self.exit_code: int | None = None
        self.finished = False
        self._pending: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = Text.assemble("Run ", safe(self.step.id, 20))
            yield Static(Text(f"running {len(self.step.run)} command(s) for {self.step.id}…", end=""),
                         id="run-status")
            yield Log(id="run-log", auto_scroll=True)
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Close (esc)", id="cancel", variant="primary")

    def add_line(self, line: str) -> None:
        # The worker may start before this screen is composed: keep lines until it is.
        logs = self.query(Log)
        if logs:
            logs.first(Log).write_line(line)
        else:
            self._pending.append(line)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.write_lines(self._pending)
        self._pending.clear()

    def finish(self, exit_code: int | None, outcome: Text) -> None:
        self.exit_code = exit_code
        self.finished = True
        self.query_one("#run-status", Static).update(outcome)
        if exit_code == 0:
            self.query_one(".modal-buttons").mount(
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
