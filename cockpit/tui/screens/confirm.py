"""Confirm the selected step: what it is, what it needs, and a deliberate keypress.

Normal step: ``y`` (or enter on the Confirm button). Critical step: its id typed, then enter.
A ``two_person`` step: the same, and the modal says it asks for a second person's approval
(the second person answers from their own cockpit: ``a``). A decision step gets GO (``^g``) / NO-GO (``^n``) instead,
and enter picks neither. If a required gate is not GO the modal says why and offers the
override path (``^o``) instead of a confirm; ``^f`` marks the step failed. Escape cancels and
nothing is written. The gates shown are redrawn on the app's tick (``show_gates``). The key
model is the one of ``cockpit.tui.screens.base``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Static

from cockpit.durations import format_duration
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal, gate_lines


@dataclass(frozen=True)
class ConfirmChoice:
    kind: str  # "confirm", "decide", "override", "fail"
    typed: str | None = None
    call: str | None = None
    note: str = ""


def step_text(step, gates, blocked: str | None, opened: dict | None = None) -> Text:
    """What the step is, its gates as ``gates`` has them now; ``opened``: the gates when the
    modal opened (a gate that passes or fails differently since says so)."""
    text = Text(end="")
    text.append(f"{step.id}  ", style="bold")
    text.append_text(safe(step.title, 200, style="bold"))
    text.append("\nowner ")
    text.append_text(safe(step.owner, 40))
    text.append(f" · planned {format_duration(step.planned)}")
    if step.critical:
        text.append(" · CRITICAL", style="bold red")
    if step.kind == "decision":
        text.append(" · decision")
    if step.two_person:
        text.append(" · two-person")
    for cmd in step.run:
        text.append("\n  $ ")
        text.append_text(safe(cmd, 200))
    if step.description:
        text.append("\n")
        text.append_text(safe(step.description, 400, single_line=False, style="dim"))
    text.append_text(gate_lines(step.requires, gates))
    if step.two_person and step.kind != "decision":
        text.append("\nconfirming asks for a second person's approval, from their own cockpit "
                    "(a: pending approvals); the step is done when they approve", style="bold")
    if blocked:
        text.append("\nREFUSED: ", style="bold red")
        text.append_text(safe(blocked, 200))
    if opened is not None and passing(step, opened) != passing(step, gates):
        text.append("\ngates changed since this opened: esc, then enter to check again",
                    style="bold yellow")
    return text


def passing(step, gates) -> tuple[bool, ...]:
    return tuple(bool(gates.get(g) is not None and gates[g].passes()) for g in step.requires)


class ConfirmScreen(CockpitModal[ConfirmChoice]):
    # ``y`` only where no text field is shown (a plain step); the chords from any field.
    BINDINGS = [
        Binding("y", "confirm", "Confirm"),
        Binding("ctrl+o", "override", "Override gate", priority=True),
        Binding("ctrl+f", "fail", "Fail step", priority=True),
        Binding("ctrl+g", "decide('GO')", "GO", priority=True),
        Binding("ctrl+n", "decide('NO-GO')", "NO-GO", priority=True),
    ]

    def __init__(self, step, gates, blocked: str | None, can_override: bool):
        super().__init__()
        self.step = step
        self.gates = gates
        self.opened_gates = gates
        self.blocked = blocked
        self.can_override = can_override

    @property
    def needs_typing(self) -> bool:
        return bool(self.step.critical)

    def compose(self) -> ComposeResult:
        step = self.step
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = "Decision" if step.kind == "decision" else "Confirm step"
            yield Static(step_text(step, self.gates, self.blocked), id="step-info")
            if step.critical and (not self.blocked or step.kind == "decision"):
                yield Input(placeholder=f"type {step.id} to confirm", id="typed")
            if step.kind == "decision":
                yield Input(placeholder="note (optional)", id="note")
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="cancel", variant="primary")
                if step.kind == "decision":
                    if not self.blocked:
                        yield Button("GO ^g", id="go", variant="success")
                    yield Button("NO-GO ^n", id="nogo", variant="error")
                elif not self.blocked:
                    word = "Ask for approval" if step.two_person else "Confirm"
                    yield Button(f"{word} (y)" if not self.needs_typing else f"{word} (enter)",
                                 id="confirm", variant="success")
                if self.blocked and self.can_override:
                    yield Button("Override… ^o", id="override", variant="warning")
                yield Button("Fail… ^f", id="fail")
            yield Static(self.keys_line(), classes="modal-keys")

    def show_gates(self, gates: dict) -> None:
        self.gates = gates
        self.redraw("#step-info", step_text(self.step, gates, self.blocked, self.opened_gates))

    def on_mount(self) -> None:
        # Typing the id is itself the deliberate act; elsewhere focus rests on Cancel.
        first = self.query("#typed").first() if self.query("#typed") else None
        (first or self.query_one("#cancel", Button)).focus()

    def keys_line(self) -> str:
        if self.step.kind == "decision":
            keys = "^n NO-GO" if self.blocked else "^g GO · ^n NO-GO"
            return f"esc cancel · tab next field · {keys} · ^f fail"
        if self.blocked:
            over = " · ^o override" if self.can_override else ""
            return f"esc cancel · tab next{over} · ^f fail"
        submit = "enter confirm" if self.needs_typing else "y confirm"
        return f"esc cancel · tab next field · {submit} · ^f fail"

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "confirm":
            return self.step.kind != "decision" and not self.blocked and not self.needs_typing
        if action == "override":
            return bool(self.blocked) and self.can_override
        if action == "decide":
            return self.step.kind == "decision" and (parameters[:1] != ("GO",) or not self.blocked)
        return True

    def action_decide(self, call: str) -> None:
        if self.check_action("decide", (call,)):
            self._submit("decide", call)

    def _value(self, selector: str) -> str | None:
        found = self.query(selector)
        return found.first(Input).value.strip() if found else None

    def _submit(self, kind: str, call: str | None = None) -> None:
        step = self.step
        typed = self._value("#typed")
        signed = kind in ("confirm", "decide") and not (kind == "decide" and call == "NO-GO"
                                                         and not step.critical)
        if signed and step.critical and typed != step.id:
            self.say(f"type {step.id} exactly to confirm this critical step", "#typed")
            return
        self.dismiss(ConfirmChoice(kind, typed=typed, call=call,
                                   note=self._value("#note") or ""))

    def action_confirm(self) -> None:
        if self.check_action("confirm", ()):
            self._submit("confirm")

    def action_override(self) -> None:
        if self.check_action("override", ()):
            self.dismiss(ConfirmChoice("override"))

    def action_fail(self) -> None:
        self.dismiss(ConfirmChoice("fail"))

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        if self.step.kind != "decision" and not self.blocked:
            self._submit("confirm")
        elif self.step.kind == "decision":
            self.focus_next()  # a decision has no default: ^g or ^n

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        which = event.button.id
        if which == "cancel":
            self.dismiss(None)
        elif which == "confirm":
            self._submit("confirm")
        elif which == "go":
            self._submit("decide", "GO")
        elif which == "nogo":
            self._submit("decide", "NO-GO")
        elif which == "override":
            self.dismiss(ConfirmChoice("override"))
        elif which == "fail":
            self.dismiss(ConfirmChoice("fail"))
