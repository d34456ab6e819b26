"""What every modal shares: escape cancels (and writes nothing), a one-line message area,
and a reason-code picker fed from the plan."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cockpit.tui.safe import safe


class CockpitModal(ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]
    DEFAULT_CSS = """
    CockpitModal { align: center middle; }
    CockpitModal > .modal-box {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; padding: 0 1; background: $surface;
    }
    CockpitModal .modal-error { color: $error; text-style: bold; height: auto; }
    CockpitModal .modal-buttons { height: auto; margin-top: 1; }
    CockpitModal .modal-buttons Button { margin-right: 1; min-width: 10; }
    CockpitModal OptionList { height: auto; max-height: 7; }
    CockpitModal Input { margin: 0; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)

    def say(self, message: str) -> None:
        """A validation problem, shown in the modal (our own words, plain text)."""
        self.query_one(".modal-error", Static).update(Text(message, end=""))


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
