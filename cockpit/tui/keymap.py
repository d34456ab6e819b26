"""Every key of the main screen, in one table.

One row per action: its keys, the action it runs, the footer label, the help text, the
command-palette title, whether it writes to the journal, and where (if at all) the footer
shows it. The main screen's ``BINDINGS``, the ``?`` help, the command palette and the set of
writing actions (greyed while a write is pending, and in a read-only cockpit) are all derived
from it, so a key cannot be added in one place and forgotten in another.

Footer: ``FOOTER_ALWAYS`` rows come first, so at 80 columns ``?`` help, ``q`` quit and ``g``
gates are always on screen; ``FOOTER_ROOM`` rows follow while there is room; everything else
is in the command palette (ctrl+p).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

FOOTER_NONE, FOOTER_ALWAYS, FOOTER_ROOM = 0, 1, 2

_KEY_NAMES = {"question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]",
              "escape": "esc"}


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma separated; "" for a palette-only action
    action: str  # the action string, e.g. "cursor(1)"
    label: str = ""  # footer label
    help: str = ""  # the ? help line ("" = not listed on its own)
    palette: str = ""  # command palette title ("" = not in the palette)
    writes: bool = False  # ends in an Operations call that writes the journal
    footer: int = FOOTER_NONE
    shown_keys: str = ""  # how the help and the palette name the keys, if not from ``keys``

    @property
    def name(self) -> str:
        """The action's name without its arguments: what ``check_action`` is asked about."""
        return self.action.split("(", 1)[0]

    @property
    def key_text(self) -> str:
        if self.shown_keys:
            return self.shown_keys
        return ", ".join(_KEY_NAMES.get(k, k) for k in self.keys.split(",") if k)


KEYS: tuple[Key, ...] = (
    Key("down,j", "cursor(1)", "Down", "select a runbook step", shown_keys="up/down, j/k"),
    Key("up,k", "cursor(-1)", "Up"),
    Key("left_square_bracket", "phase(-1)", "Phase", "browse the previous / next phase "
        "(read-only: only the current phase's steps act)", shown_keys="[ ]"),
    Key("right_square_bracket", "phase(1)", "Phase"),
    Key("question_mark", "help", "Help", "this help: keys and symbols", "Help",
        footer=FOOTER_ALWAYS),
    Key("q", "quit", "Quit", "quit (asks if a command or reconciliation is running)", "Quit",
        footer=FOOTER_ALWAYS),
    Key("g", "gates", "Gates", "gate details: expression, readings with age, window",
        "Gate details", footer=FOOTER_ALWAYS),
    Key("enter,c", "confirm", "Confirm", "confirm the selected step (decision: GO / NO-GO)",
        "Confirm step", writes=True, footer=FOOTER_ROOM),
    Key("s", "skip", "Skip", "skip the step (reason code)", "Skip step", writes=True,
        footer=FOOTER_ROOM),
    Key("o", "override", "Override", "override a gate blocking the step (reason, note, "
        "type OVERRIDE)", "Override gate", writes=True, footer=FOOTER_ROOM),
    Key("r", "run", "Run", "run the step's commands (output saved next to the journal)",
        "Run command", writes=True, footer=FOOTER_ROOM),
    Key("b", "rollback", "Rollback", "start the rollback (reason, type ROLLBACK)",
        "Start rollback", writes=True, footer=FOOTER_ROOM),
    Key("x", "triage", "Triage", "exception queue and triage", "Exception triage", writes=True,
        footer=FOOTER_ROOM),
    Key("n", "note", "Note", "add a note to the journal", "Add note", writes=True,
        footer=FOOTER_ROOM),
    # Not a WRITES row: a read-only cockpit answers through the writing cockpit
    # (cockpit.runbook.approvals), so the key works there too.
    Key("a", "approvals", "Approvals", "two-person requests: approve, reject, withdraw",
        "Pending approvals", footer=FOOTER_ROOM),
    Key("m", "letters", "Undelivered", "messages the command channel never received "
        "(dead letters): retry or dismiss, with a note", "Undelivered messages", writes=True),
    # One key starts a reconciliation and, while it runs, asks to cancel it (escape too):
    # check_action hides whichever of the two does not apply now.
    Key("R", "reconcile", "Recon", "run reconciliation (compare source and target, with "
        "progress)", "Run reconciliation", writes=True, footer=FOOTER_ROOM),
    Key("R", "cancel_recon", "Cancel recon", "while a reconciliation runs: cancel it",
        "Cancel reconciliation", footer=FOOTER_ROOM, shown_keys="R, esc"),
    Key("escape", "cancel_recon", "Cancel recon"),
    Key("", "fail", help="mark the selected step failed, with a note", palette="Fail step",
        writes=True, shown_keys="ctrl+p"),
    Key("", "ack_quarantine", help="acknowledge journal lines a crash left incomplete",
        palette="Acknowledge set-aside journal lines", writes=True, shown_keys="ctrl+p"),
    # Not a WRITES row: it is offered exactly while the journal refuses writes (disconnected).
    Key("", "go_local", help="while the shared journal is unreachable: journal locally "
        "(reason, note, type LOCAL), merged and flagged when it is back",
        palette="Work locally while the shared journal is unreachable", shown_keys="ctrl+p"),
    Key("", "select_next", help="move the selection to the next step to do",
        palette="Select next step", shown_keys="ctrl+p"),
    Key("1", "pane('replication')", "Repl", "compact layout: show replication / recon / "
        "signals / audit", shown_keys="1-4"),
    Key("2", "pane('recon')", "Recon"),
    Key("3", "pane('signals')", "Signals"),
    Key("4", "pane('audit')", "Audit"),
    Key("0", "pane('')", "Hide", "compact layout: hide the extra panel"),
)

# Keys that are not main-screen bindings but belong in the help.
OTHER_HELP = (
    ("ctrl+p", "command palette with every action"),
    ("escape", "cancel any dialog; a cancel writes nothing"),
)

WRITES: frozenset[str] = frozenset(k.name for k in KEYS if k.writes)
ACTIONS: frozenset[str] = frozenset(k.name for k in KEYS)


def bindings() -> list[Binding]:
    """The main screen's bindings: the footer's always-shown keys first, in table order."""
    rows = [k for k in KEYS if k.keys]
    order = sorted(rows, key=lambda k: {FOOTER_ALWAYS: 0, FOOTER_ROOM: 1}.get(k.footer, 2))
    return [Binding(k.keys, k.action, k.label or k.name, show=k.footer != FOOTER_NONE)
            for k in order]


def help_rows() -> list[tuple[str, str]]:
    """(keys, what) for the ``?`` help, in table order."""
    return [(k.key_text, k.help) for k in KEYS if k.help] + list(OTHER_HELP)


def palette_rows() -> list[tuple[str, str, str]]:
    """(title, help, action name) for the command palette, in table order."""
    out = []
    for k in KEYS:
        if k.palette:
            keys = f" ({k.key_text})" if k.keys else ""
            out.append((k.palette, k.help + keys, k.name))
    return out
