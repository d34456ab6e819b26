"""Messages the command channel never received (the notify outbox's dead letters): pick one,
see why it failed, and send it again or give up on it, each with a note that says why.

The key model is the one of ``cockpit.tui.screens.base``: up/down in the list (the details
follow the highlighted letter), tab to the note; ``enter`` retries once a note is written,
``^d`` dismisses. The modal checks only what it can see (a letter picked, a note); the rule
(who may, a key of this plan) is :class:`cockpit.runbook.Operations`', which journals the
choice as ``notify.retry`` / ``notify.dismiss``: the outbox acts on that entry, so a retry
or a dismissal made on another cockpit of a shared journal counts too. The error is the
delivery's own line (already redacted by the outbox: no URL, no token); it is shown as text.
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
from cockpit.notify import DeadLetter
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import CockpitModal


@dataclass(frozen=True)
class LetterChoice:
    kind: str  # "retry" or "dismiss"
    key: str  # the message's key, cutover:seq:target
    note: str


def letter_line(letter: DeadLetter, now: float) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append_text(safe(letter.target, 24, style="bold"))
    text.append(" · ")
    text.append_text(safe(letter.event, 32))
    text.append(f" · seq {letter.seq} · {letter.attempts} attempt"
                f"{'' if letter.attempts == 1 else 's'}")
    if letter.last_at is not None:
        text.append(f", last {format_duration(max(0.0, now - letter.last_at))} ago")
    return text


def letter_detail(letter: DeadLetter, now: float) -> Text:
    text = Text(end="")
    text.append("to ")
    text.append_text(safe(letter.target, 40, style="bold"))
    text.append(": ")
    text.append_text(safe(letter.event, 60))
    text.append(f" (journal entry {letter.seq})\n")
    text.append("why it failed: ", style="bold")
    text.append_text(safe(letter.error or "no answer recorded", 300))
    text.append("\nretry: sent again with the same idempotency key · dismiss: given up, "
                "tell the channel by hand", style="dim")
    return text


class LettersScreen(CockpitModal[LetterChoice]):
    BINDINGS = [Binding("ctrl+d", "dismiss_letter", "Dismiss", priority=True)]
    DEFAULT_CSS = """
    LettersScreen > .modal-box { width: 100%; max-width: 100; }
    LettersScreen OptionList { max-height: 6; }
    """

    def __init__(self, letters: list[DeadLetter], now: Callable[[], float]):
        super().__init__()
        self.letters = sorted(letters, key=lambda d: (d.seq, d.target))
        self.now = now

    def compose(self) -> ComposeResult:
        now = self.now()
        with VerticalScroll(classes="modal-box") as box:
            box.border_title = f"Undelivered messages ({len(self.letters)})"
            picker = OptionList(*(Option(letter_line(d, now), id=f"l{i}")
                                  for i, d in enumerate(self.letters)), id="letters")
            picker.border_title = "dead letters"
            yield picker
            yield Static("", id="detail")
            yield Input(placeholder="note: why you retry or dismiss it (required)", id="note")
            yield Static("", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="cancel", variant="primary")
                yield Button("Retry (enter)", id="retry", variant="success")
                yield Button("Dismiss ^d", id="dismiss", variant="error")
            yield Static("esc cancel · tab next field · enter retry · ^d dismiss",
                         classes="modal-keys")

    def on_mount(self) -> None:
        picker = self.query_one("#letters", OptionList)
        if self.letters:
            picker.highlighted = 0
        picker.focus()
        self.show_gates({})

    def selected(self) -> DeadLetter | None:
        picker = self.query_one("#letters", OptionList)
        if picker.highlighted is None or not self.letters:
            return None
        return self.letters[min(picker.highlighted, len(self.letters) - 1)]

    def show_gates(self, gates: dict) -> None:
        # No gates here: the tick only moves the ages on.
        if not self.query("#letters"):
            return
        picker, now = self.query_one("#letters", OptionList), self.now()
        for i, d in enumerate(self.letters):
            picker.replace_option_prompt_at_index(i, letter_line(d, now))
        letter = self.selected()
        self.redraw("#detail", letter_detail(letter, now) if letter is not None
                    else Text("every message was delivered", style="dim", end=""))

    @on(OptionList.OptionHighlighted, "#letters")
    def _highlighted(self) -> None:
        self.show_gates({})

    @on(OptionList.OptionSelected, "#letters")
    def _picked(self) -> None:
        self.query_one("#note", Input).focus()

    def _choose(self, kind: str) -> None:
        letter = self.selected()
        if letter is None:
            self.say("no message selected", "#letters")
            return
        note = self.query_one("#note", Input).value.strip()
        if not note:
            self.say(f"write in the note why you {kind} it", "#note")
            return
        self.dismiss(LetterChoice(kind, letter.key, note))

    def action_dismiss_letter(self) -> None:
        self._choose("dismiss")

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        self._choose("retry")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        which = event.button.id
        if which == "cancel":
            self.dismiss(None)
        elif which == "retry":
            self._choose("retry")
        elif which == "dismiss":
            self._choose("dismiss")
