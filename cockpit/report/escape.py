"""Untrusted text (already ``cockpit.text.clean``ed, one line) made inert in each layout.

- HTML: ``html.escape`` with quotes, so text can go in an element or an attribute value.
- Markdown: every ASCII punctuation character is backslash-escaped (CommonMark lets any of them
  be escaped, and an escaped one is always literal), so no link, image, emphasis, code span,
  raw HTML, entity, heading, list, quote or table cell break can come from the text; line
  breaks are folded away by ``clean`` before it gets here.
"""

from __future__ import annotations

import html as _html
import string

from cockpit.text import clean

_MD = {ord(c): "\\" + c for c in string.punctuation}


def h(value: object) -> str:
    return _html.escape("" if value is None else str(value), quote=True)


def md(value: object) -> str:
    text = clean("" if value is None else str(value), 100_000, single_line=True)
    return text.translate(_MD)
