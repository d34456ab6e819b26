"""Starting and cancelling a reconciliation run: say what will be compared, then ``y``.
Escape (or the Cancel button) answers no and writes nothing."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from cockpit.durations import format_duration
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal


def start_text(recon) -> Text:
    text = Text(end="")
    text.append("Compare ")
    text.append_text(safe(recon.source, 60, style="bold"))
    text.append(" with ")
    text.append_text(safe(recon.target, 60, style="bold"))
    text.append(f": {len(recon.tables)} table(s), {len(recon.domain)} domain check(s)")
    if recon.storage is not None:
        text.append(", the storage manifest")
    text.append(f".\nRead-only sessions, at most {recon.max_concurrent} per database, "
                f"statement timeout {format_duration(recon.statement_timeout)}.")
    text.append("\nThe result is journalled (exceptions opened and closed, then recon.run) "
                "when the run ends.", style="dim")
    return text


CANCEL_TEXT = ("Cancel the reconciliation run?\nChecks already running finish; nothing new "
               "starts. What was found is journalled, and a cancelled run never counts as clean.")


class AskScreen(CockpitModal):
    """A yes/no question: ``y`` dismisses with True; escape or "No" with None/False."""

    BINDINGS = [Binding("y", "yes", "Yes")]

    def __init__(self, title: str, body: Text | str, yes_label: str, no_label: str = "Cancel (esc)"):
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes_label = yes_label
        self.no_label = no_label

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = self.title_text
            body = self.body if isinstance(self.body, Text) else Text(self.body, end="")
            yield Static(body, id="ask-body")
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(self.no_label, id="no", variant="primary")
                yield Button(self.yes_label, id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def action_yes(self) -> None:
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(True if event.button.id == "yes" else None)


def start_screen(recon) -> AskScreen:
    return AskScreen("Run reconciliation", start_text(recon), "Start (y)")


def cancel_screen() -> AskScreen:
    return AskScreen("Cancel the run?", CANCEL_TEXT, "Cancel the run (y)", "Keep running (esc)")
