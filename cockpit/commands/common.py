"""Helpers every verb shares: loading a plan the same way, printing errors the same way."""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import os
import sys

from cockpit.config import Plan, PlanError, load_plan
from cockpit.text import clean

# A process killed by SIGPIPE exits 128+13 in a shell; a verb whose reader went away says the
# same. Never 0: `cockpit gates plan | head -1` must not read as "all GO" under pipefail.
EXIT_BROKEN_PIPE = 141


def prepare_streams() -> None:
    """Make stdout/stderr safe for whatever the environment gave us, before any verb prints.

    Under a non-UTF-8 encoding (``PYTHONIOENCODING=ascii``, ``LC_ALL=C`` with ``PYTHONUTF8=0``,
    a latin-1 jump host) a step title with "é" or a ticket title with an emoji must not end
    the verb with UnicodeEncodeError: an unencodable character prints as "?" (every state also
    has its word, so nothing is lost but the symbol). JSON stays exact, see :func:`json_text`.
    Log records from the core (``log.exception`` in the engine...) become one line on stderr
    instead of Python's last-resort traceback; ``COCKPIT_DEBUG=1`` keeps the traceback.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not _is_utf8(stream):
            with contextlib.suppress(ValueError, OSError):  # closed or detached: nothing to do
                reconfigure(errors="replace")
    root = logging.getLogger()
    if not root.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(_OneLine() if not os.environ.get("COCKPIT_DEBUG") else logging.Formatter(
            "cockpit: %(levelname)s: %(name)s: %(message)s"))
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it), never a stale one."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"cockpit: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        return " ".join(text.split())


def _is_utf8(stream) -> bool:
    try:
        return codecs.lookup(stream.encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


def json_text(obj, **kwargs) -> str:
    """JSON for stdout: raw UTF-8 where the stream takes it, ``\\u`` escapes where it does not
    (either way a JSON parser reads back the very same strings; "?" would corrupt them)."""
    kwargs.setdefault("ensure_ascii", not _is_utf8(sys.stdout))
    return json.dumps(obj, **kwargs)


def broken_pipe() -> int:
    """Our reader went away: say nothing more (stdout now points at /dev/null so the final
    flush at exit cannot complain) and exit non-zero."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def load_or_report(path: str, *, for_run: bool = True) -> Plan | None:
    """The plan, or None after printing every problem to stderr (the caller exits 2)."""
    try:
        plan, warnings = load_plan(path, for_run=for_run)
    except PlanError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return None
    for line in warnings:
        print(line, file=sys.stderr)
    return plan


def fail(verb: str, message: str) -> int:
    print(f"cockpit {verb}: {message}", file=sys.stderr)
    return 2


def one_line(value, limit: int = 200) -> str:
    """An external value (note, error, key) as one cleaned line; None as empty."""
    return clean("" if value is None else str(value), limit, single_line=True)
