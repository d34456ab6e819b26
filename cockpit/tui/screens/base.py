"""What every modal shares: one key model, a one-line message area, the live gate lines and
a reason-code picker fed from the plan.

The key model, the same in every modal (and printed inside each, on its buttons and in
``KEYS_LINE``; the ``?`` help repeats it):

- ``escape`` cancels: the modal closes and nothing is written.
- ``tab`` / ``shift+tab`` move between the fields, lists and buttons; up/down move in a list
  and ``enter`` picks the highlighted entry (and moves on).
- A form (a modal with text fields): ``enter`` submits it from any field once it is valid;
  if something is missing the modal says what, in one line, and moves to that field.
- A question without text fields (confirm a plain step, quit, start a reconciliation): ``y``
  answers yes; ``enter`` presses the focused button, and focus starts on the safe one.
- Every other action a modal offers is a ``ctrl`` chord printed on its button
  (``^o`` override, ``^f`` fail, ``^g`` GO, ``^n`` NO-GO). Chords work from any field and are
  never typed into it; a plain letter never acts while a text field has focus.
- A decision has no default: ``enter`` never records GO or NO-GO, only ``^g`` / ``^n`` (or
  their buttons) do.

Each modal is a ``ModalScreen[T]`` dismissed with its typed result, or ``None`` for cancel;
it writes nothing itself: the main screen turns the result into one ``Operations`` call.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.button import ButtonVariant
from textual.widgets.option_list import Option

from cockpit.tui.panels.style import gate_word
from cockpit.tui.safe import safe

T = TypeVar("T")


KEYS_LINE = "esc cancel · tab next field · enter submit"


class CockpitModal(ModalScreen[T]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]
    DEFAULT_CSS = """
    CockpitModal { align: center middle; }
    CockpitModal > .modal-box {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; padding: 0 1; background: $surface;
    }
    CockpitModal .modal-error { color: $error; text-style: bold; height: auto; }
    CockpitModal .modal-keys { color: $text-muted; height: 1; }
    CockpitModal .modal-buttons { height: auto; margin-top: 1; }
    CockpitModal .modal-buttons Button { margin-right: 1; min-width: 10; }
    CockpitModal OptionList { height: auto; max-height: 7; }
    CockpitModal Input { margin: 0; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)

    def refresh_gates(self, gates: dict) -> None:
        """The app's 1 Hz tick: redraw the gates on a modal that is on top. The tick can land
        between a push and the modal's compose (a mounted, current screen whose children are
        not there yet) or during its dismissal, so ``show_gates`` draws through ``redraw``,
        which skips a widget that is not there: the next tick draws it."""
        if self.is_mounted and self.is_current:
            self.show_gates(gates)

    def redraw(self, selector: str, content) -> None:
        """Update the Static(s) matching ``selector``, if they exist yet (see refresh_gates)."""
        for node in self.query(selector).results(Static):
            node.update(content)

    def show_gates(self, gates: dict) -> None:
        """The gates as they are now: a modal that shows gate states redraws them, so nothing
        on it is a frozen copy."""

    def say(self, message: str, field: str | None = None) -> None:
        """A validation problem, shown in the modal (our own words, plain text); ``field``:
        the selector of the widget to fill, which gets the focus."""
        self.query_one(".modal-error", Static).update(Text(message, end=""))
        if field is not None and self.query(field):
            self.query_one(field).focus()


def reason_picker(reason_codes: dict[str, str], id: str = "reason") -> OptionList:
    options = []
    for code, why in reason_codes.items():
        label = Text(end="")
        label.append_text(safe(code, 40, style="bold"))
        label.append("  ")
        label.append_text(safe(why, 80))
        options.append(Option(label, id=code))
    picker = OptionList(*options, id=id)
    picker.border_title = "reason code"
    return picker


def chosen(picker: OptionList) -> str | None:
    if picker.highlighted is None:
        return None
    return picker.get_option_at_index(picker.highlighted).id


def gate_lines(gate_ids, gates: dict) -> Text:
    """One line per required gate, as it is now: word, id, reason (for modals that show them)."""
    text = Text(end="")
    text.append("\nrequires: ")
    if not gate_ids:
        text.append("no gates", style="dim")
    for gid in gate_ids:
        status = gates.get(gid)
        word, style = gate_word(status)
        text.append("\n  ")
        text.append(f"{word:<15}", style=style)
        text.append(f" {gid}  ")
        text.append_text(safe(status.reason if status else "not evaluated yet", 80, style="dim"))
    return text


class AskScreen(CockpitModal[bool]):
    """The one yes/no modal: ``y`` (or the yes button) dismisses with True; escape or the
    no button with None. Focus starts on the no button: enter alone never says yes."""

    BINDINGS = [Binding("y", "yes", "Yes")]

    def __init__(self, title: str, body: Text | str, yes_label: str, no_label: str = "Cancel (esc)",
                 yes_variant: ButtonVariant = "warning"):
        super().__init__()
        self.yes_variant = yes_variant
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
                yield Button(self.yes_label, id="yes", variant=self.yes_variant)
            yield Static("esc no · tab next button · y yes", classes="modal-keys")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def action_yes(self) -> None:
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(True if event.button.id == "yes" else None)
