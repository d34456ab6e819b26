"""``cockpit.text.clean``: the one cleaning function every external string goes through."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from cockpit.text import clean, is_shown

# Pieces an attacker reaches for, mixed into arbitrary text by the properties below.
HOSTILE = [
    "\x1b[31m", "\x1b[2J", "\x1b]0;pwned\x07", "\x1b]8;;http://evil/\x1b\\", "\x1bP+q\x1b\\",
    "\x9b31m", "\x9b2J", "\x9d0;title\x9c", "\x90payload\x9c", "\x9e", "\x9f", "\x1b", "\x9b",
    "\x07", "\x08", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\x7f", "\x00", "\t", "\n",
    "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u034f", "\u3164",
    "\U000e0001", "\U000e0041", "\U000e007f", "\U000e0100", "\ufe0f",
    "\ud800", "\udfff", "\udc80", "\ud83d", "\ude00", "\ufdd0", "\uffff", "\U0010ffff",
    "\ue000", "\U000f0000", "\u0378", "\u2028", "\u2029",
    "\u0301", "\u0338", "\u20e0", "[bold]", "[/]", "[@click=app.quit]", "[link=x]y[/link]",
    "é", "漢字", "שלום", "مرحبا", "हिन्दी", "😀", "🇫🇷", " ", "  ", "…",
]

any_char = st.characters(codec=None, exclude_categories=())  # surrogates included
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(any_char, max_size=8)),
                        max_size=25).map("".join)
texts = st.one_of(st.text(any_char), hostile_text)


def _bad_chars(result: str, single_line: bool) -> list[str]:
    allowed_controls = "" if single_line else "\t\n"
    invisible = "\u2028\u2029\u200b\u200d\u2060\ufeff\u00ad\u3164\u034f"
    return [ch for ch in result
            if unicodedata.category(ch) == "Cc" and ch not in allowed_controls
            or unicodedata.category(ch) in ("Cf", "Cs", "Co", "Cn")
            or 0xE0000 <= ord(ch) <= 0xE007F or ch in invisible]


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(min_value=0, max_value=60), st.booleans())
def test_clean_property(value, limit, single_line):
    result = clean(value, limit, single_line=single_line)
    result.encode("utf-8")  # strict: raises on a lone surrogate
    assert not _bad_chars(result, single_line), [hex(ord(c)) for c in _bad_chars(result, single_line)]
    assert "\x1b" not in result and "\x9b" not in result
    assert len(result) <= limit
    assert clean(result, limit, single_line=single_line) == result  # idempotent
    assert Text(result).plain == result  # literal on the screen: no markup, nothing stripped
    if single_line:
        assert "\n" not in result and "\t" not in result
    if result:
        assert not unicodedata.category(result[0]).startswith("M")


@settings(max_examples=200, deadline=None)
@given(texts)
def test_single_line_has_no_line_break(value):
    result = clean(value, 10_000, single_line=True)
    assert "\n" not in result and "\r" not in result
    assert result == result.strip()
    assert len(result.splitlines()) <= 1


@pytest.mark.parametrize(("raw", "shown"), [
    ("ok\x1b[31mRED\x1b[0m", "okRED"),
    ("a\x9b31mb", "ab"),  # the 8-bit CSI is a CSI too
    ("a\x9b2Jb", "ab"),
    ("t\x9d0;evil title\x9cx", "tx"),  # 8-bit OSC ... ST
    ("t\x1b]0;evil title\x07x", "tx"),
    ("t\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "tlink"),
    ("t\x90qpayload\x9cx", "tx"),
    ("a\x85b", "a\nb"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("abc\u202edcba", "abcdcba"),
    ("pay\u200bpal", "paypal"),
    ("pay\u2060pal\ufeff", "paypal"),
    ("ad\u00admin", "admin"),
    ("\u061cabc", "abc"),
    ("INC-1\U000e0049\U000e0047\U000e004e\U000e004f\U000e0052\U000e0045", "INC-1"),
    ("a\u3164b\u115fc", "abc"),
    ("\ud800lone", "\ufffdlone"),
    ("x\udc80y", "x\ufffdy"),
    ("pua\ue000", "pua\ufffd"),
    ("gap\u0378", "gap\ufffd"),
    ("non\ufdd0char\uffff", "nonchar"),
    ("👨\u200d👩\u200d👧", "👨👩👧"),  # ZWJ sequences degrade into their parts
    ("\u0301\u0338title", "title"),  # no mark may combine with what the screen shows before
])
def test_examples(raw, shown):
    assert clean(raw) == shown


@pytest.mark.parametrize("title", [
    "Café crème", "Ελληνικά", "Русский текст", "漢字かなカナ", "한국어", "שלום עולם", "مرحبا بالعالم",
    "हिन्दी में शीर्षक", "ภาษาไทย", "Tiếng Việt có dấu", "😀 🎉 ❤️ 🇫🇷", "ǅemal", "e\u0301 (decomposed)",
    "葛\U000e0100城市",  # an ideographic variation sequence (Japanese names) is kept
])
def test_real_titles_pass_unchanged(title):
    assert clean(title) == title
    assert clean(title, single_line=True) == title


def test_cut_never_separates_a_base_from_its_marks():
    text = "abc" + "e\u0301\u0323" + "xyz"
    assert clean(text, 5) == "abc…"
    assert clean(text, 6) == "abc…"
    assert clean(text, 7) == "abce\u0301\u0323…"
    assert clean("x" * 10, 1) == "…" and clean("x" * 10, 0) == ""


def test_markup_stays_literal():
    hostile = "[@click=app.quit]Quit[/] [bold red]x[/]"
    assert Text(clean(hostile)).plain == hostile


def test_is_shown_matches_clean():
    for ch in ["a", "é", "漢", "😀", " "]:
        assert is_shown(ch)
    for ch in ["\x1b", "\x9b", "\u202e", "\u200b", "\ud800", "\ue000", "\U000e0041", "\u2028"]:
        assert not is_shown(ch)


def test_fast_path_only_skips_characters_the_rule_keeps():
    from cockpit.text import _WHOLE_BLOCKS, _rule, _suspect

    rx = _suspect()
    lo_hi = re.findall(r"(.)-(.)", _WHOLE_BLOCKS)
    cps = list(range(0x3101)) + [
        cp for lo, hi in lo_hi for cp in range(ord(lo), ord(hi) + 1)]
    passed = [cp for cp in cps if rx.match(chr(cp)) is None]
    assert passed and all(_rule(cp) == cp for cp in passed)
