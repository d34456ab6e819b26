"""The local-mode form: reason code, note, and LOCAL typed to switch a cockpit whose shared
journal is unreachable to journalling locally (``Operations.go_local`` decides)."""

from __future__ import annotations

from rich.text import Text

from cockpit.tui.safe import safe
from cockpit.tui.screens.forms import FormScreen


class LocalModeScreen(FormScreen):
    TITLE = "Work locally"
    SUBMIT = "Work locally"
    needs_reason = True
    note_required = True
    typed_word = "LOCAL"

    def __init__(self, link: str, local_file: str, reason_codes: dict[str, str]):
        explain = Text(end="")
        explain.append("The shared journal cannot be reached: ", style="bold")
        explain.append_text(safe(link, 300))
        explain.append("\nIn local mode this cockpit journals its actions to ")
        explain.append_text(safe(local_file, 300))
        explain.append(" on this machine only. They are merged into the shared journal, "
                       "flagged, when it is back, and every cockpit is told. Anything someone "
                       "else did meanwhile wins; what no longer applies is recorded as a "
                       "conflict.")
        explain.append("\nTwo-person actions are refused in local mode (no second person can "
                       "answer).", style="bold")
        explain.append("\nChoose a reason code, say why in the note, type LOCAL.", style="dim")
        super().__init__(explain, reason_codes)
