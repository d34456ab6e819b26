"""The one door for untrusted text into the view.

Ticket titles, journal notes, database errors and command output are cleaned by
``cockpit.text.clean`` and wrapped as a plain ``rich.text.Text``: a ``Text`` built this way is
never parsed as markup, so ``[@click=app.quit]`` stays a string and cannot run an action.
Never f-string an external value into a markup string; build ``Text`` with :func:`safe` and
``Text.append``/``Text.assemble`` instead.
"""

from __future__ import annotations

from rich.text import Text

from cockpit.text import clean


def safe(value: object, limit: int = 500, *, single_line: bool = True, style: str = "") -> Text:
    """``value`` as plain text: escapes and controls removed, length capped, no markup."""
    if value is None:
        return Text("", style=style)
    return Text(clean(value, limit, single_line=single_line), style=style, end="")


def line(*parts: Text | str | tuple[str, str]) -> Text:
    """Join pieces into one ``Text``: ``str`` pieces are our own words (not markup either)."""
    out = Text(end="")
    for part in parts:
        if isinstance(part, tuple):
            out.append(part[0], style=part[1])
        else:
            out.append(part)
    return out
