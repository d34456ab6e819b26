"""Audit tail: the newest journal entries, newest last (as they were written)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from cockpit.journal.local import mark
from cockpit.tui.safe import safe


def entry_line(entry) -> Text:
    wall = getattr(entry, "wall", 0.0) or 0.0
    when = datetime.fromtimestamp(wall, tz=UTC).strftime("%H:%M:%S") if wall else "--:--:--"
    actor = getattr(entry.actor, "operator", entry.actor)
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    out.append(f"#{entry.seq:<4} {when} ", style="dim")
    out.append_text(safe(actor, 24))
    out.append(f" {entry.action} ", style="bold")
    out.append_text(safe(entry.subject or "", 40))
    data = entry.data if isinstance(entry.data, dict) else {}
    if entry.action == "gate.change" and data.get("state"):
        out.append_text(safe(f" → {data['state']}", 20))
    elif entry.action == "decision.record" and data.get("call"):
        out.append_text(safe(f" {data['call']}", 20))
    elif entry.action == "step.run" and "exit_code" in data:
        out.append_text(safe(f" exit {data['exit_code']}", 20))
    local = mark(entry)
    if local:
        out.append_text(safe(f" {local}", 120, style="bold reverse"))
    if entry.reason_code:
        out.append_text(safe(f" [{entry.reason_code}]", 40))
    if entry.note:
        out.append(" ")
        out.append_text(safe(entry.note, 120, style="italic"))
    return out


class AuditPanel(Static):
    def show(self, entries, limit: int | None = None, path=None) -> None:
        # Newest entries that fit: the newest line must never be the one cut off.
        limit = limit or max(1, self.content_size.height or 12)
        tail = list(entries[-limit:]) if limit else []
        self.border_title = f"Audit journal ({len(entries)} entries)"
        if path is not None:
            # Where the evidence is, for a stranger to find: border titles given as a str are
            # parsed as markup, so plain Text only.
            self.border_subtitle = safe(f"file {path}", 300)
        text = Text(end="")
        for i, entry in enumerate(tail):
            if i:
                text.append("\n")
            text.append_text(entry_line(entry))
        self.update(text if tail else Text("journal is empty", style="dim"))
