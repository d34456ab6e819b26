"""Gates panel: every gate with symbol and word, then why, each on one line that fits.

A reason is shortened by rule, never cut mid-word: whole conditions (``; ``-separated) are
kept while they fit and " …" says more were left out; a single condition too long for the
row is cut at a word boundary with "…". A HOLD says when it turns GO: "GO in 2m33s if it
holds" (its window progress), ahead of the condition.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widget import Widget

from cockpit.durations import format_duration
from cockpit.gates import SYMBOLS, GateState, GateStatus
from cockpit.tui.panels.style import GATE_STYLE
from cockpit.tui.safe import safe, shown

REASON_STYLE = {GateState.GO: "dim", GateState.HOLD: "", GateState.NO_GO: "bold",
                GateState.UNKNOWN: ""}
WORD_WIDTH = max(len(f"{SYMBOLS[s]} {s.value}") for s in GateState)


def short_word(status: GateStatus | None) -> tuple[str, str]:
    """('✖ NO-GO', style) without HOLD's progress (the reason says when it turns GO)."""
    state = status.state if status is not None else GateState.UNKNOWN
    return f"{SYMBOLS[state]} {state.value}", GATE_STYLE[state]


def reason_of(status: GateStatus | None) -> str:
    if status is None:
        return "not evaluated yet"
    reason = shown(status.reason, 500)
    if status.state is GateState.HOLD:
        why = reason.split(": ", 1)[1] if reason.startswith("holding ") and ": " in reason else reason
        left = max(0.0, status.hold_for_s - status.held_s)
        # Under a second left (a fast rehearsal clock sees it often): no "GO in 1ms".
        when = "under 1s" if left < 1 else format_duration(left)
        return f"GO in {when} if it holds; {why}"
    return reason


def _compact(clause: str) -> str:
    """'replication_lag_s 9.5s, needs < 5s' -> '9.5s, needs < 5s' (the gate's row names it)."""
    name, _, rest = clause.partition(" ")
    return rest if ", needs " in rest and name else clause


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, by rule: all of it; else the whole conditions
    that fit and " …"; else, for a gate of one condition, the value and the rule without the
    signal's name; else whole words and "…". Never a cut word."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    clauses = text.split("; ")
    kept = ""
    for clause in clauses:
        candidate = f"{kept}; {clause}" if kept else clause
        if len(candidate) + 2 > width:
            break
        kept = candidate
    if kept:
        return f"{kept} …"
    first = _compact(clauses[0])
    if len(clauses) == 1 and len(first) <= width:
        return first
    if len(clauses) > 1 and len(first) + 2 <= width:
        return f"{first} …"
    cut = first[:width - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space].rstrip(",;:")
    return f"{cut}…"


def gate_lines(gate_ids, statuses: Mapping[str, GateStatus], overridden=(),
               width: int = 0) -> Text:
    """One line per gate; reasons fit ``width`` cells (0: not shortened)."""
    id_width = max((len(g) for g in gate_ids), default=0)
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, gid in enumerate(gate_ids):
        status = statuses.get(gid)
        word, style = short_word(status)
        if i:
            out.append("\n")
        row = Text(end="")
        row.append(f"{word:<{WORD_WIDTH}}", style=style)
        row.append(f" {gid:<{id_width}}  ")
        if gid in overridden:
            row.append("[overridden] ", style="bold")
        reason = reason_of(status)
        if width:
            reason = shorten(reason, max(1, width - row.cell_len))
        state = status.state if status is not None else GateState.UNKNOWN
        row.append(reason, style=REASON_STYLE[state])
        out.append_text(row)
    return out


def gate_rules(definitions: Mapping, width: int, rows: int) -> list[Text]:
    """What each gate checks, for the rows a tall panel has to spare:
    'replication_caught_up  Replication caught up: replication_lag_s < 5, held 1m'."""
    if rows < 3 or not definitions:
        return []
    out = [Text(""), Text("what each gate checks:", style="bold", end="")]
    for gid, gate in list(definitions.items())[:rows - 2]:
        line = Text(end="")
        line.append_text(safe(gid, 60))
        line.append("  ")
        if getattr(gate, "title", ""):
            line.append_text(safe(gate.title, 80))
            line.append(": ")
        line.append_text(safe(gate.expr, 300, style="dim"))
        hold = float(getattr(gate, "hold_for", 0) or 0)
        if hold:
            line.append(f", held {format_duration(hold)}", style="dim")
        line.truncate(width, overflow="ellipsis")
        out.append(line)
    return out


class GatesPanel(Widget):
    """Fed by :meth:`show`; renders plain ``Text`` at the width and height it has."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._data: tuple = ((), {}, ())
        self._definitions: Mapping = {}

    def show(self, gates, statuses: Mapping[str, GateStatus], overridden=()) -> None:
        """``gates``: the plan's gates (id -> definition), or just their ids."""
        self._definitions = gates if isinstance(gates, Mapping) else {}
        gate_ids = list(gates)
        go = sum(1 for g in gate_ids if statuses.get(g) is not None and statuses[g].passes())
        self.border_title = f"Gates {go}/{len(gate_ids)} GO"
        data = (gate_ids, dict(statuses), frozenset(overridden))
        if data != self._data:
            self._data = data
            self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self._data[0]))

    def render(self) -> Text:
        gate_ids, statuses, overridden = self._data
        width = self.content_size.width or self.size.width
        out = gate_lines(gate_ids, statuses, overridden, width)
        spare = (self.content_size.height or 0) - len(gate_ids)
        for line in gate_rules(self._definitions, width, spare):
            out.append("\n")
            out.append_text(line)
        return out
