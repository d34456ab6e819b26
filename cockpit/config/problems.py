"""Problems found in a plan, each tied to a place in the YAML."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cockpit.config.yamlpos import Mark, Path, Positions
from cockpit.text import clean

MESSAGE_LIMIT = 1000


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    warning: bool = False
    at_key: bool = False  # point at the key (unknown or duplicate keys) rather than its value
    column_offset: int | None = None  # within a one-line scalar, e.g. an expression error
    mark: Mark | None = None  # an explicit place, when the path alone is ambiguous (duplicate keys)

    def render(self, filename: str, pos: Positions, styles_ok: bool = True) -> str:
        mark = self.mark or pos.find(self.path, key=self.at_key)
        col = mark.col
        if self.column_offset is not None and self.path in pos.values:
            style = pos.styles.get(self.path)
            quote = 1 if style in ("'", '"') else 0
            col = mark.col + quote + self.column_offset - 1
        prefix = "warning: " if self.warning else ""
        # Keys and values quoted in a message come from the plan: one cleaned line, always.
        return f"{filename}:{mark.line}:{col}: " + clean(f"{dotted(self.path)}: {prefix}{self.message}",
                                                        MESSAGE_LIMIT, single_line=True)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.$-]+")


def dotted(path: Path) -> str:
    """``runbook.phases[0].steps[1].id``; a key that is not a plain token is shown quoted,
    escapes visible (``signals['lag_s\\n']``), so the place is never ambiguous."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += ("." if out else "") + part
        else:
            out += f"[{str(part)!r}]"
    return out or "(top)"


class PlanError(Exception):
    """The plan cannot be used; ``lines`` hold every problem, one per line."""

    def __init__(self, lines: list[str], warnings: list[str] | None = None):
        super().__init__(lines[0] if lines else "invalid plan")
        self.lines = lines
        self.warnings = warnings or []
