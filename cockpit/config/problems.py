"""Problems found in a plan, each tied to a place in the YAML."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.config.yamlpos import Mark, Path, Positions


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
        return f"{filename}:{mark.line}:{col}: {dotted(self.path)}: {prefix}{self.message}"


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top)"


class PlanError(Exception):
    """The plan cannot be used; ``lines`` hold every problem, one per line."""

    def __init__(self, lines: list[str], warnings: list[str] | None = None):
        super().__init__(lines[0] if lines else "invalid plan")
        self.lines = lines
        self.warnings = warnings or []
