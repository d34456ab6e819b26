"""Property: whatever bytes a step command prints, in whatever chunks they arrive, the saved
output is exactly the documented redaction of it, its sha256 is the file's, and every shown
line is short, clean, valid text with no secret in it. Nothing raises.

Drives cockpit.runbook.output (the Transcript the runner feeds, and the OutputFile it writes)
with small limits, so long lines, cuts and withholding happen in small examples.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections import deque
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.runbook.output import NOTE, OutputFile, Transcript

LINE_CHARS = 40
HOLD = 256
WINDOW = 16
TAIL = 5
CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

secrets_st = st.lists(st.text("abcxyz0123456789", min_size=4, max_size=12), min_size=1,
                      max_size=3, unique=True)
PIECES = [b"\n", b"\r", b"\r\n", b"\x1b[31m", b"\x1b]0;title\x07", b"\x1b", b"\x00", b"\xff",
          b"\xc3", b"\xe2\x82", "\u00e9".encode(), "\u202e".encode(), "\u2028".encode(), b"\t",
          "\u009b".encode(), b"\x9b"]


def replacer(secrets: list[str]):
    """A redactor of the plan's kind: every secret, longest first, becomes ***."""
    ordered = sorted(secrets, key=len, reverse=True)

    def redact(text: str) -> str:
        for s in ordered:
            text = text.replace(s, "***")
        return text
    return redact


@st.composite
def streams(draw):
    secrets = draw(secrets_st)
    segment = st.one_of(
        st.binary(max_size=40),
        st.sampled_from(PIECES),
        st.builds(lambda unit, n: unit * n, st.sampled_from([b"a", b"x", b"\xe2\x82\xac"]),
                  st.integers(0, 3 * HOLD)),
        # a secret, whole or with an escape sequence or a NUL in the middle of it
        st.builds(lambda s, mid, sep: (s[:mid] + sep + s[mid:]).encode(),
                  st.sampled_from(secrets), st.integers(0, 12),
                  st.sampled_from(["", "", "\x1b[0m", "\x00", "\r"])),
    )
    data = b"".join(draw(st.lists(segment, max_size=40)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return secrets, data, chunks


def documented(data: bytes, redact) -> bytes:
    """The saved output as the Transcript documents it: each line (through its newline)
    decoded with surrogateescape, redacted, encoded back."""
    lines = re.findall(rb"[^\n]*\n|[^\n]+$", data)
    return b"".join(redact(x.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
                    for x in lines)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_any_output_is_saved_as_documented_and_shown_clean(case):
    secrets, data, chunks = case
    redact = replacer(secrets)
    transcript = Transcript(redact, line_chars=LINE_CHARS, hold_bytes=HOLD, window=WINDOW)
    # The runner's: only what can still be in a tail of TAIL lines is made into shown lines.
    tailed = Transcript(redact, line_chars=LINE_CHARS, hold_bytes=HOLD, window=WINDOW,
                        show_last=TAIL)
    tail: deque[str] = deque(maxlen=TAIL)
    shown_all: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = OutputFile(Path(tmp) / "runs", "out.log")
        for chunk in chunks:
            saved, shown = transcript.feed(chunk)
            out.write(saved)
            shown_all += shown
            t_saved, t_shown = tailed.feed(chunk)
            assert t_saved == saved and len(t_shown) <= TAIL
            tail.extend(t_shown)
        saved, shown = transcript.flush()
        out.write(saved)
        shown_all += shown
        tail.extend(tailed.flush()[1])
        out.close()
        file_bytes = out.path.read_bytes()
        assert hashlib.sha256(file_bytes).hexdigest() == out.sha256
        assert len(file_bytes) == out.size

    if transcript.withheld == 0:
        assert file_bytes == documented(data, redact)
    else:  # a long line with nowhere safe to cut: a note, never a half-redacted secret
        assert NOTE.encode() in file_bytes and b" bytes withheld: no place to cut" in file_bytes
    for s in secrets:
        assert s.encode() not in file_bytes

    # One shown line per line of output, whatever its length; the tail is the last of them.
    n_lines = len(re.findall(rb"[^\n]*\n|[^\n]+$", data))
    assert len(shown_all) == n_lines == transcript.lines_seen == tailed.lines_seen
    assert list(tail) == shown_all[-TAIL:]
    for line in shown_all:
        assert len(line) <= LINE_CHARS
        assert not CONTROLS.search(line), repr(line)
        line.encode("utf-8")  # no lone surrogate: valid, encodable text
        assert not any(s in line for s in secrets), repr(line)


def test_a_long_line_dense_with_secrets_is_withheld_not_split():
    """The corner the property rarely reaches: no place in a held piece is clear of secrets."""
    secret = "abcd1234"
    redact = replacer([secret])
    transcript = Transcript(redact, line_chars=LINE_CHARS, hold_bytes=HOLD, window=WINDOW)
    data = (secret + "-") * 200 + "\n"
    saved = b""
    for i in range(0, len(data), 7):
        saved += transcript.feed(data[i:i + 7].encode())[0]
    saved += transcript.flush()[0]
    assert transcript.withheld > 0
    assert secret.encode() not in saved
    assert b"bytes withheld: no place to cut this long line without splitting a secret" in saved
