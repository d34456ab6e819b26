"""Untrusted text (already ``cockpit.text.clean``ed, one line) made inert in each layout.

- HTML: ``html.escape`` with quotes, so text can go in an element or an attribute value.
- Markdown: every ASCII punctuation character is backslash-escaped (CommonMark lets any of them
  be escaped, and an escaped one is always literal), so no link, image, emphasis, code span,
  raw HTML, entity, heading, list, quote or table cell break can come from the text; line
  breaks: the facts hold only ``clean``ed single lines; any line break left is folded here.
"""

from __future__ import annotations

import functools
import html as _html
import string

_MD = {ord(c): "\\" + c for c in string.punctuation}


@functools.lru_cache(maxsize=1 << 16)
def h(value: object) -> str:
    return _html.escape("" if value is None else str(value), quote=True)


_BREAKS = {ord("\n"): " ", ord("\r"): " ", 0x0B: " ", 0x0C: " ", 0x85: " ", 0x2028: " ",
           0x2029: " "}


@functools.lru_cache(maxsize=1 << 16)
def md(value: object) -> str:
    text = "" if value is None else str(value)
    return text.translate(_BREAKS).translate(_MD)
