"""The one door for untrusted text into the view.

Ticket titles, journal notes, database errors and command output are cleaned by
``cockpit.text.clean`` and wrapped as a plain ``rich.text.Text``: a ``Text`` built this way is
never parsed as markup, so ``[@click=app.quit]`` stays a string and cannot run an action.
Never f-string an external value into a markup string; build ``Text`` with :func:`safe` and
``Text.append``/``Text.assemble`` instead.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from cockpit.text import clean

# The plan's environment values (DSNs, passwords, tokens) are substituted everywhere in the plan,
# step titles and commands included; the running app installs ``plan.redact`` here so no
# outside string reaches the screen with one of them in it.
_redact: Callable[[str], str] = str


def set_redactor(redact: Callable[[str], str] | None) -> None:
    global _redact
    _redact = redact or str


def shown(value: object, limit: int = 500, *, single_line: bool = True) -> str:
    """``value`` redacted and cleaned, as a plain string (for ``notify(markup=False)``, ``Log``)."""
    text = value if isinstance(value, str) else str(value)
    return clean(_redact(text), limit, single_line=single_line)


def safe(value: object, limit: int = 500, *, single_line: bool = True, style: str = "") -> Text:
    """``value`` as plain text: secrets redacted, escapes and controls removed, length capped,
    no markup."""
    if value is None:
        return Text("", style=style)
    return Text(shown(value, limit, single_line=single_line), style=style, end="")


def line(*parts: Text | str | tuple[str, str]) -> Text:
    """Join pieces into one ``Text``: ``str`` pieces are our own words (not markup either)."""
    out = Text(end="")
    for part in parts:
        if isinstance(part, tuple):
            out.append(part[0], style=part[1])
        else:
            out.append(part)
    return out
