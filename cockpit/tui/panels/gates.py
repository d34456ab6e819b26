"""Gates panel: every gate with symbol and word, then why."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from cockpit.gates import GateStatus
from cockpit.tui.panels.style import gate_word
from cockpit.tui.safe import safe


def gate_lines(gate_ids, statuses: Mapping[str, GateStatus], overridden=()) -> Text:
    width = max((len(g) for g in gate_ids), default=0)
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, gid in enumerate(gate_ids):
        status = statuses.get(gid)
        word, style = gate_word(status)
        if i:
            out.append("\n")
        out.append(f"{word:<15}", style=style)
        out.append(f" {gid:<{width}}  ")
        if gid in overridden:
            out.append("[overridden] ", style="bold")
        out.append_text(safe(status.reason if status else "not evaluated yet", 200, style="dim"))
    return out


class GatesPanel(Static):
    """Fed by :meth:`show`; renders plain ``Text`` only."""

    def show(self, gate_ids, statuses: Mapping[str, GateStatus], overridden=()) -> None:
        go = sum(1 for g in gate_ids if statuses.get(g) is not None and statuses[g].passes())
        self.border_title = f"Gates {go}/{len(gate_ids)} GO"
        self.update(gate_lines(list(gate_ids), statuses, overridden))
