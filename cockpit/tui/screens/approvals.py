"""Pending two-person requests: pick one, see the gates it was asked under beside today's,
and approve (the step id typed, or ROLLBACK), reject (a note) or, for your own, withdraw.

The key model is the one of ``cockpit.tui.screens.base``: up/down in the list (the details
follow the highlighted request), tab to the fields; ``enter`` approves once the id is typed;
``^r`` rejects (the note says why) and ``^w`` withdraws, from any field. The modal checks only
what it can see (the typed id, a note for a reject); every rule (another person, not
expired, gates still GO, authority) is :class:`cockpit.runbook.Operations`', which says why
in one line. Today's gates are redrawn on the app's tick, and so is the time left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.durations import format_duration
from cockpit.gates import SYMBOLS, GateState
from cockpit.runbook.state import ApprovalRequest
from cockpit.tui.panels.style import GATE_STYLE, gate_word
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal

KIND_WORDS = {"confirm": "confirm", "skip": "skip", "rollback": "start the rollback"}


@dataclass(frozen=True)
class ApprovalChoice:
    kind: str  # "approve", "reject", "withdraw"
    request: int  # the request's seq
    typed: str | None = None
    note: str = ""


def typed_word(req: ApprovalRequest) -> str:
    """What the approver types: the step id, or ROLLBACK."""
    return "ROLLBACK" if req.kind == "rollback" else req.subject


def request_line(req: ApprovalRequest, now: float) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(f"#{req.seq} ", style="dim")
    text.append_text(safe(req.subject, 24, style="bold"))
    text.append(f" {KIND_WORDS.get(req.kind, req.kind)} · by ")
    text.append_text(safe(req.requester.operator, 24))
    text.append(f" {format_duration(max(0.0, now - req.at))} ago · ")
    if req.expired(now):
        text.append(f"EXPIRED {format_duration(now - req.expires_at)} ago", style="bold")
    else:
        text.append(f"expires in {format_duration(req.expires_at - now)}")
    return text


def _then_word(snap) -> tuple[str, str]:
    """A gate as the request's snapshot has it (journal data: checked, never trusted)."""
    state = snap.get("state") if isinstance(snap, dict) else None
    try:
        gs = GateState(str(state))
    except ValueError:
        gs = GateState.UNKNOWN
    return f"{SYMBOLS[gs]} {gs.value}", GATE_STYLE[gs]


def request_detail(plan, req: ApprovalRequest, gates: dict, now: float) -> Text:
    """Who asked what, when, and each required gate then (the request's snapshot) and now."""
    text = Text(end="")
    step = plan.runbook.step(req.subject) if req.kind != "rollback" else None
    text.append_text(safe(req.requester.operator, 40, style="bold"))
    text.append(f" ({safe(req.requester.os_user, 32).plain}@{safe(req.requester.host, 40).plain})")
    text.append(f" asks to {KIND_WORDS.get(req.kind, req.kind)} ")
    text.append_text(safe(req.subject, 24, style="bold"))
    if step is not None:
        text.append(": ")
        text.append_text(safe(step.title, 120))
        if step.critical:
            text.append(" · CRITICAL", style="bold red")
    if req.reason_code:
        text.append("\nreason ")
        text.append_text(safe(req.reason_code, 40, style="bold"))
    if req.note:
        text.append("  ")
        text.append_text(safe(req.note, 200, style="dim"))
    text.append("\n")
    text.append_text(request_line(req, now))
    required = list(step.requires) if step is not None else []
    text.append("\n\ngate                      when asked       now", style="bold")
    if not required:
        text.append("\n  no gates required", style="dim")
    for gid in required:
        then_word, then_style = _then_word(req.gates.get(gid))
        now_word, now_style = gate_word(gates.get(gid))
        text.append("\n  ")
        text.append_text(safe(gid, 22))
        text.append(" " * max(1, 24 - min(22, len(gid))))
        text.append(f"{then_word:<16}", style=then_style)
        text.append(" ")
        text.append(now_word, style=now_style)
        if then_word != now_word:
            text.append("  changed", style="bold yellow")
    return text


class ApprovalsScreen(CockpitModal[ApprovalChoice]):
    BINDINGS = [
        Binding("ctrl+r", "reject", "Reject", priority=True),
        Binding("ctrl+w", "withdraw", "Withdraw", priority=True),
    ]
    DEFAULT_CSS = """
    ApprovalsScreen > .modal-box { width: 100%; max-width: 100; }
    ApprovalsScreen OptionList { max-height: 5; }
    """

    def __init__(self, plan, requests: list[ApprovalRequest], gates: dict,
                 now: Callable[[], float], mine: Callable[[ApprovalRequest], bool],
                 via: str | None = None):
        """``mine(req)``: whether the request is this cockpit's person's own (withdraw it,
        never approve it); ``via``: a line saying how the answer travels (a watching cockpit
        hands it to the one that writes)."""
        super().__init__()
        self.plan = plan
        self.requests = sorted(requests, key=lambda r: r.seq)
        self.gates = gates
        self.now = now
        self.mine = mine
        self.via = via

    def compose(self) -> ComposeResult:
        now = self.now()
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = f"Pending approvals ({len(self.requests)})"
            picker = OptionList(*(Option(request_line(r, now), id=str(r.seq))
                                  for r in self.requests), id="requests")
            picker.border_title = "requests"
            yield picker
            yield Static("", id="detail")
            if self.via:
                yield Static(Text(self.via, style="dim", end=""), id="via")
            yield Input(placeholder="type the step id (or ROLLBACK) to approve", id="typed")
            yield Input(placeholder="note (a reject needs one)", id="note")
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="cancel", variant="primary")
                yield Button("Approve (enter)", id="approve", variant="success")
                yield Button("Reject ^r", id="reject", variant="error")
                yield Button("Withdraw ^w", id="withdraw")
            yield Static("esc cancel · tab next field · enter approve · ^r reject · ^w withdraw",
                         classes="modal-keys")

    def on_mount(self) -> None:
        picker = self.query_one("#requests", OptionList)
        if self.requests:
            picker.highlighted = 0
        picker.focus()
        self.show_gates(self.gates)

    def selected(self) -> ApprovalRequest | None:
        picker = self.query_one("#requests", OptionList)
        if picker.highlighted is None or not self.requests:
            return None
        return self.requests[min(picker.highlighted, len(self.requests) - 1)]

    def show_gates(self, gates: dict) -> None:
        self.gates = gates
        if self.query("#requests"):
            # The list's ages and time left move on with the tick, as the detail's do.
            picker, now = self.query_one("#requests", OptionList), self.now()
            for i, r in enumerate(self.requests):
                picker.replace_option_prompt_at_index(i, request_line(r, now))
        req = self.selected() if self.query("#requests") else None
        if req is None:
            self.redraw("#detail", Text("no request waits for approval", style="dim", end=""))
            return
        detail = request_detail(self.plan, req, gates, self.now())
        if self.mine(req):
            detail.append("\nthis is your own request: a second person approves it "
                          "(^w withdraws it)", style="bold")
        self.redraw("#detail", detail)

    @on(OptionList.OptionHighlighted, "#requests")
    def _highlighted(self) -> None:
        self.show_gates(self.gates)

    @on(OptionList.OptionSelected, "#requests")
    def _picked(self) -> None:
        self.query_one("#typed", Input).focus()

    def _field(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def _approve(self) -> None:
        req = self.selected()
        if req is None:
            self.say("no request selected", "#requests")
            return
        if self.mine(req):
            self.say("this is your own request: a second person approves it from their "
                     "own cockpit", "#requests")
            return
        word = typed_word(req)
        typed = self._field("#typed")
        if typed != word:
            self.say(f"type {word} exactly to approve", "#typed")
            return
        self.dismiss(ApprovalChoice("approve", req.seq, typed, self._field("#note")))

    def action_reject(self) -> None:
        req = self.selected()
        if req is None:
            self.say("no request selected", "#requests")
            return
        note = self._field("#note")
        if not note:
            self.say("write in the note why you reject it", "#note")
            return
        self.dismiss(ApprovalChoice("reject", req.seq, None, note))

    def action_withdraw(self) -> None:
        req = self.selected()
        if req is None:
            self.say("no request selected", "#requests")
            return
        if not self.mine(req):
            self.say("only the person who asked may withdraw it: ^r rejects it", "#note")
            return
        self.dismiss(ApprovalChoice("withdraw", req.seq, None, self._field("#note")))

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        self._approve()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        which = event.button.id
        if which == "cancel":
            self.dismiss(None)
        elif which == "approve":
            self._approve()
        elif which == "reject":
            self.action_reject()
        elif which == "withdraw":
            self.action_withdraw()
