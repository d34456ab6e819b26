"""Exception queue: open exceptions with a filter; choose one, a category, a reason code."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.runbook import TRIAGE_CATEGORIES
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import KEYS_LINE, CockpitModal, chosen, reason_picker

SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "info": 3}


@dataclass(frozen=True)
class TriageChoice:
    exception_id: str
    category: str
    reason_code: str
    note: str


def matches(exc, needle: str) -> bool:
    """Filter: every word must appear in severity, layer, table, kind, id or keys."""
    hay = " ".join(str(v) for v in (exc.id, exc.severity, exc.layer, exc.table, exc.kind,
                                    exc.keys, exc.title, exc.category)).lower()
    return all(word in hay for word in needle.lower().split())


class TriageScreen(CockpitModal[TriageChoice]):
    """Everything fits 80x24 without scrolling: the table takes what the fields leave, the
    two pickers sit side by side, the text fields are one line each."""

    DEFAULT_CSS = """
    TriageScreen > .modal-box { width: 100%; height: 100%; }
    TriageScreen DataTable { height: 1fr; min-height: 3; }
    TriageScreen #pickers { height: auto; }
    TriageScreen #category { width: 28; }
    TriageScreen #reason { width: 1fr; }
    TriageScreen Input { height: 1; border: none; padding: 0 1; background: $boost; }
    TriageScreen Input:focus { background: $accent 30%; }
    TriageScreen .modal-buttons { margin-top: 0; }
    """

    def __init__(self, exceptions, reason_codes):
        super().__init__()
        self.exceptions = sorted(exceptions, key=lambda e: (SEVERITY_RANK.get(str(e.severity), 9), e.id))
        self.reason_codes = reason_codes

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = f"Exception queue ({len(self.exceptions)} open)"
            yield Input(placeholder="filter: severity, layer, table or text", id="filter")
            yield DataTable(id="exceptions", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="pickers"):
                categories = OptionList(*(Option(c, id=c) for c in TRIAGE_CATEGORIES),
                                        id="category")
                categories.border_title = "category"
                yield categories
                yield reason_picker(self.reason_codes)
            yield Input(placeholder="note (optional)", id="note")
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="cancel", variant="primary")
                yield Button("Triage (enter)", id="submit", variant="warning")
            yield Static(KEYS_LINE, classes="modal-keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "severity", "layer", "table", "kind", "keys", "category")
        self._fill("")
        table.focus()

    def _fill(self, needle: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for e in self.exceptions:
            if needle and not matches(e, needle):
                continue
            sev = str(e.severity or "?")
            table.add_row(safe(e.id, 24), Text(sev, style="bold red" if sev == "critical" else ""),
                          safe(e.layer or "", 12), safe(e.table or "", 24), safe(e.kind or "", 16),
                          safe(e.keys, 40), safe(e.category or "", 24), key=e.id)

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _submit(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            self.say("no exception selected")
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        category = chosen(self.query_one("#category", OptionList))
        code = chosen(self.query_one("#reason", OptionList))
        if not category:
            self.say("choose a category", "#category")
            return
        if not code:
            self.say("choose a reason code", "#reason")
            return
        self.dismiss(TriageChoice(str(row_key.value), category, code,
                                  self.query_one("#note", Input).value.strip()))

    @on(Input.Submitted, "#note")
    def _entered(self) -> None:
        self._submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._submit()
