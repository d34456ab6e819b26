"""Untrusted text made safe to show: one function for every external string.

Ticket titles, database errors, journal notes and command output may carry terminal escape
sequences, bidi overrides or invisible characters; none of them may reach the terminal, and a
title must not be made to look like another. Markup safety is the view's job (it wraps the
result in a plain ``Text``), but the cleaning rule lives here, in the core, so the verbs,
reports and logs use the same one.

The rule of :func:`clean`, in order:

1. Escape sequences are removed whole (CSI, OSC, DCS, SOS, PM, APC and two-character ESC
   sequences), whether introduced by ESC or by the 8-bit C1 introducers (U+009B CSI, U+009D
   OSC, ...), so their parameters do not survive as visible garbage.
2. Line breaks (CR, CR LF, VT, FF, NEL, U+2028, U+2029) become ``\\n``; every other C0/C1
   control and DEL is removed; tab and newline are kept.
3. Invisible characters are removed: every format character (category Cf: zero-width space,
   joiners, word joiner, BOM, soft hyphen, bidi marks, embeddings, overrides and isolates,
   the Arabic letter mark, tag characters...), every Default_Ignorable_Code_Point (Hangul
   fillers, combining grapheme joiner, the whole U+E0000-U+E0FFF block...) except variation
   selectors (kept: they choose the glyph of the character before them, needed for emoji
   presentation and CJK names), and the noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF).
   Emoji ZWJ sequences degrade into their parts (a family shows as its members).
4. What cannot be shown honestly becomes U+FFFD, visibly: lone surrogates (``"\\ud800"`` from
   ``json.loads``, ``surrogateescape`` bytes), private-use characters (their glyph depends on
   the font: a title could show anything) and code points unassigned in this Python's Unicode
   database (a terminal may draw them as nothing).
5. ``single_line`` folds every run of whitespace (newlines and tabs included) into one space.
6. Combining marks left at the very start are dropped (they would combine with whatever the
   screen shows before the text).
7. The length cap (code points) keeps the result within ``limit``: the last kept character
   is followed by "…", and the cut never falls between a base character and its marks.

Letters of every script, combining marks, emoji and ordinary spaces pass unchanged. The
result always encodes as UTF-8, and ``clean(clean(x)) == clean(x)``.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata

_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL or ST
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS SOS PM APC ... ST
    r"|\x1b.?"  # any other ESC sequence (a newline after ESC is kept)
)
_NEWLINES = frozenset("\r\x0b\x0c\x85\u2028\u2029")
_REPLACEMENT = "\ufffd"
# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties); variation selectors excepted.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE00FF), (0xE01F0, 0xE0FFF),
)
_IGNORABLE_STARTS = [lo for lo, _ in _IGNORABLE]
_CACHE_MAX = 16384


def _ignorable(cp: int) -> bool:
    i = bisect.bisect_right(_IGNORABLE_STARTS, cp) - 1
    return i >= 0 and cp <= _IGNORABLE[i][1]


def _rule(cp: int) -> int | str | None:
    """What code point ``cp`` becomes: itself, a replacement, or None (removed)."""
    ch = chr(cp)
    if ch in _NEWLINES:
        return "\n"
    category = unicodedata.category(ch)
    if category == "Cc":
        return cp if ch in "\t\n" else None
    if category == "Cs":
        return _REPLACEMENT
    if category == "Cf" or _ignorable(cp):
        return None
    if 0xFDD0 <= cp <= 0xFDEF or cp & 0xFFFE == 0xFFFE:
        return None  # noncharacters
    if category in ("Co", "Cn"):
        return _REPLACEMENT
    return cp


class _Table(dict):
    """``str.translate`` table filled on first use; bounded, so hostile input cannot grow it."""

    def __missing__(self, cp: int) -> int | str | None:
        result = _rule(cp)
        if len(self) < _CACHE_MAX:
            self[cp] = result
        return result


_TABLE = _Table()


# Characters known to pass unchanged (checked against the rule, once, on first use): text made
# only of them skips the slower per-character pass. Blocks beyond U+30FF that are assigned
# throughout since Unicode 14 are listed as they are (tests check them against the rule).
_WHOLE_BLOCKS = "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\U0001f300-\U0001f64f"


@functools.cache
def _suspect() -> re.Pattern[str]:
    parts = ["\t\n"]
    start = None
    for cp in range(0x20, 0x3101):
        ok = cp <= 0x30FF and _rule(cp) == cp
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            parts.append(f"{re.escape(chr(start))}-{re.escape(chr(cp - 1))}")
            start = None
    return re.compile(f"[^{''.join(parts)}{_WHOLE_BLOCKS}]")


_ASCII_OK = b"\t\n" + bytes(range(0x20, 0x7F))


def _needs_pass(text: str) -> bool:
    if text.isascii():  # bytes.translate is a C loop over a table: the fast common case
        return bool(text.encode("ascii").translate(None, _ASCII_OK))
    return _suspect().search(text) is not None


_INTRODUCERS = re.compile("[\x1b\x90\x98\x9b\x9d\x9e\x9f]")


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


def clean(value: object, limit: int = 500, *, single_line: bool = False) -> str:
    """Printable text: escapes, controls and invisible characters removed, at most ``limit``
    characters (see the module docstring for the exact rule)."""
    text = value if isinstance(value, str) else str(value)
    if _needs_pass(text):
        if _INTRODUCERS.search(text):
            text = _ESCAPES.sub("", text)
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        text = text.translate(_TABLE)
    if single_line:
        text = " ".join(text.split())
    start = 0
    while start < len(text) and (_is_mark(text[start]) or single_line and text[start] == " "):
        start += 1
    text = text[start:] if start else text
    if len(text) > limit:
        if limit <= 0:
            return ""
        cut = limit - 1
        while cut > 0 and _is_mark(text[cut]):
            cut -= 1
        text = text[:cut] + "…"
    return text


def is_shown(ch: str) -> bool:
    """True if ``clean`` keeps the single character ``ch`` as it is (JSON output escapes the
    rest, so it stays exact without putting them on the terminal)."""
    return _TABLE[ord(ch)] == ord(ch)
