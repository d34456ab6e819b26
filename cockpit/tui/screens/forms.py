"""Small forms: skip, fail, note, rollback, override. Each dismisses with its fields or None."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, OptionList, Static

from cockpit.tui.panels.style import gate_word
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import KEYS_LINE, CockpitModal, chosen, gate_lines, reason_picker


@dataclass(frozen=True)
class FormResult:
    reason_code: str | None = None
    note: str = ""
    gate: str | None = None
    typed: str | None = None


class FormScreen(CockpitModal[FormResult]):
    """A title, an explanation, an optional reason picker, a note, an optional typed word."""

    TITLE = ""
    SUBMIT = "OK"
    needs_reason = False
    reason_optional = False
    note_required = False
    typed_word: str | None = None

    def __init__(self, explain: Text, reason_codes: dict[str, str] | None = None):
        super().__init__()
        self.explain = explain
        self.reason_codes = reason_codes or {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = self.TITLE
            yield Static(self.explain, id="explain")
            if self.needs_reason or self.reason_optional:
                yield reason_picker(self.reason_codes)
            yield Input(placeholder="note" + ("" if self.note_required else " (optional)"), id="note")
            if self.typed_word:
                yield Input(placeholder=f"type {self.typed_word} to confirm", id="typed")
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="cancel", variant="primary")
                yield Button(f"{self.SUBMIT} (enter)", id="submit", variant="warning")
            yield Static(KEYS_LINE, classes="modal-keys")

    def explain_now(self, gates: dict) -> Text | None:
        """The explanation with the gates as they are now; None: it shows no gate."""
        return None

    def show_gates(self, gates: dict) -> None:
        text = self.explain_now(gates)
        if text is not None:
            self.redraw("#explain", text)

    def on_mount(self) -> None:
        first = self.query("#reason").first() if self.query("#reason") else self.query_one("#note")
        first.focus()

    def _submit(self) -> None:
        code = chosen(self.query_one("#reason", OptionList)) if self.query("#reason") else None
        note = self.query_one("#note", Input).value.strip()
        if self.needs_reason and not code:
            self.say("choose a reason code (up/down in the list, enter)", "#reason")
            return
        if self.note_required and not note:
            self.say("write a note", "#note")
            return
        typed = self.query_one("#typed", Input).value.strip() if self.typed_word else None
        if self.typed_word and typed != self.typed_word:
            self.say(f"type {self.typed_word} exactly", "#typed")
            return
        self.dismiss(self.result(code, note, typed))

    def result(self, code: str | None, note: str, typed: str | None = None) -> FormResult:
        return FormResult(code, note, typed=typed)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.focus_next()

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        # Enter submits from any field; what is missing is said, and focused.
        self._submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._submit()


class SkipScreen(FormScreen):
    """Skipping takes what confirming takes: the typed id of a critical step, and for a
    two-person step a second person's approval (the gates are checked before this opens)."""

    TITLE = "Skip step"
    SUBMIT = "Skip step"
    needs_reason = True

    def __init__(self, step, reason_codes, gates: dict | None = None):
        self.step = step
        if step.critical:
            self.typed_word = step.id
        super().__init__(self.explain_now(gates or {}), reason_codes)

    def explain_now(self, gates: dict) -> Text:
        step = self.step
        explain = Text(end="")
        explain.append(f"Skip {step.id}: ", style="bold")
        explain.append_text(safe(step.title, 200))
        if step.critical:
            explain.append(f"\nCRITICAL step: type {step.id} to skip it", style="bold red")
        if step.two_person:
            explain.append("\nTwo-person step: skipping asks for a second person's approval, "
                           "from their own cockpit", style="bold")
        explain.append_text(gate_lines(step.requires, gates))
        return explain


class FailScreen(FormScreen):
    TITLE = "Mark step failed"
    SUBMIT = "Mark failed"
    reason_optional = True
    note_required = True

    def __init__(self, step, reason_codes):
        explain = Text(end="")
        explain.append(f"Mark {step.id} failed: ", style="bold")
        explain.append_text(safe(step.title, 200))
        explain.append("\nSay what happened in the note; a reason code is optional.", style="dim")
        super().__init__(explain, reason_codes)


class NoteScreen(FormScreen):
    TITLE = "Note to the journal"
    SUBMIT = "Add note"
    note_required = True

    def __init__(self):
        super().__init__(Text("The note is written to the audit journal with your name and the time."
                              " Never put patient details or secrets in it.", end=""))


class RollbackScreen(FormScreen):
    TITLE = "Start ROLLBACK"
    SUBMIT = "Start rollback"
    needs_reason = True
    typed_word = "ROLLBACK"

    def __init__(self, state, reason_codes, rollback_steps, two_person: bool = False):
        explain = Text(end="")
        explain.append("Start the rollback runbook now.", style="bold red")
        if two_person:
            explain.append("\nThis plan asks for a second person's approval first, from their "
                           "own cockpit.", style="bold")
        explain.append(f"\nCurrent phase: {state.phase} · next step: {state.next_step or '-'}")
        explain.append(f"\nThe runbook panel switches to {len(rollback_steps)} rollback steps.")
        super().__init__(explain, reason_codes)


class OverrideScreen(FormScreen):
    TITLE = "Override a blocking gate"
    SUBMIT = "Override gate"
    needs_reason = True
    note_required = True
    typed_word = "OVERRIDE"

    def __init__(self, step, gate_id: str, status, reason_codes):
        self.gate_id = gate_id
        self.step = step
        super().__init__(self.explain_now({gate_id: status}), reason_codes)

    def explain_now(self, gates: dict) -> Text:
        status = gates.get(self.gate_id)
        word, style = gate_word(status)
        explain = Text(end="")
        explain.append(f"Override gate {self.gate_id} for step {self.step.id}", style="bold")
        explain.append("\nnow: ")
        explain.append(word, style=style)
        explain.append("  ")
        explain.append_text(safe(status.reason if status else "not evaluated yet", 200))
        if status is not None and status.passes():
            explain.append("\nthe gate passes now: no override needed (esc)", style="bold green")
        explain.append("\nThe gate snapshot, your reason and note are journalled.", style="dim")
        return explain

    def result(self, code, note, typed=None) -> FormResult:
        return FormResult(code, note, self.gate_id)


class QuarantineScreen(FormScreen):
    """Journal lines a crash left incomplete were moved aside: say what they held (a whole
    entry is named, to be redone if still needed) and record that the operator saw them."""

    TITLE = "Set-aside journal lines"
    SUBMIT = "Acknowledge"
    note_required = True

    def __init__(self, quarantines):
        explain = Text(end="")
        explain.append("These lines were never acknowledged (a crash cut them short) and were "
                       "moved aside; nothing in them counts:", style="bold")
        for q in quarantines[:6]:
            explain.append("\n• ")
            explain.append_text(safe(q.describe(), 300))
        if len(quarantines) > 6:
            explain.append(f"\n… and {len(quarantines) - 6} more (cockpit journal verify)")
        explain.append("\nIn the note, say what you redid or why nothing needs redoing.",
                       style="dim")
        super().__init__(explain)
