"""Helpers every verb shares: loading a plan the same way, printing the same way.

Every line a verb prints for people goes through :func:`emit` (``fail`` and
``load_or_report`` included), and every JSON document through :func:`json_text`: a plan
title, a journal field or a source's error can then never put an escape sequence, a bidi
override or an invisible character on the operator's terminal, whatever the verb forgot.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import os
import re
import sys

from cockpit.config import Plan, PlanError, load_plan
from cockpit.runbook import baseline
from cockpit.text import clean, is_shown

# A process killed by SIGPIPE exits 128+13 in a shell; a verb whose reader went away says the
# same. Never 0: `cockpit gates plan | head -1` must not read as "all GO" under pipefail.
EXIT_BROKEN_PIPE = 141


def prepare_streams(verb: str | None = None) -> None:
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
        ours = _CurrentStderr()
        ours.setLevel(logging.WARNING)
        root.addHandler(ours)
        root.setLevel(logging.WARNING)
    name = f"cockpit {verb}" if verb else "cockpit"  # the verb's name on its log lines too
    for handler in root.handlers:
        if isinstance(handler, _CurrentStderr):
            handler.setFormatter(_OneLine(verb) if not os.environ.get("COCKPIT_DEBUG") else
                                 logging.Formatter(f"{name}: %(levelname)s: %(name)s: %(message)s"))


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it), never a stale one."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _OneLine(logging.Formatter):
    def __init__(self, verb: str | None = None):
        super().__init__()
        self.name = f"cockpit {verb}" if verb else "cockpit"

    def format(self, record: logging.LogRecord) -> str:
        text = f"{self.name}: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        return clean(text, LINE_LIMIT, single_line=True)  # a log record may quote a source


def _is_utf8(stream) -> bool:
    try:
        return codecs.lookup(stream.encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


# Longest human line: beyond it the line is cut with "…" (a runaway value, not a report).
LINE_LIMIT = 10_000


def emit(*lines: object, err: bool = False) -> None:
    """Print each argument as one line of human output, cleaned by ``cockpit.text.clean``.

    A newline inside an argument becomes a space, so an untrusted value can never forge a
    line of its own. ``err=True`` prints to stderr. JSON goes through :func:`json_text`.
    """
    stream = sys.stderr if err else sys.stdout
    for line in lines:
        print(clean("" if line is None else line, LINE_LIMIT).replace("\n", " "), file=stream)


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    if is_shown(ch) and ch != "\x7f":
        return ch
    return json.dumps(ch, ensure_ascii=True)[1:-1] if not 0xD800 <= ord(ch) <= 0xDFFF else f"\\u{ord(ch):04x}"


_NOT_ASCII_PRINTABLE = re.compile(r"[^\x00-\x7e]")


def json_text(obj, **kwargs) -> str:
    """JSON for stdout: raw UTF-8 where the stream takes it, ``\\u`` escapes where it does not
    (either way a JSON parser reads back the very same strings; "?" would corrupt them).

    Characters ``clean`` would not show as they are (C1 controls, bidi and other invisible
    characters, lone surrogates, DEL) are always written as ``\\u`` escapes: the document
    stays exact and the terminal it is printed on sees only printable text.
    """
    kwargs.setdefault("ensure_ascii", not _is_utf8(sys.stdout))
    return _NOT_ASCII_PRINTABLE.sub(_escape, json.dumps(obj, **kwargs))


def broken_pipe() -> int:
    """Our reader went away: say nothing more (stdout now points at /dev/null so the final
    flush at exit cannot complain) and exit non-zero."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def load_or_report(path: str, *, verb: str | None, for_run: bool = True) -> Plan | None:
    """The plan, or None after printing every problem to stderr (the caller exits 2).

    Each problem is one line ``cockpit VERB: FILE:LINE:COL: ...``, so a line read in a log or a
    script's output says which verb refused. ``verb=None`` (``cockpit check``, whose answer
    *is* that list) prints the bare ``FILE:LINE:COL: ...`` lines editors and CI parse."""
    prefix = "" if verb is None else f"cockpit {verb}: "
    try:
        plan, warnings = load_plan(path, for_run=for_run)
        baseline.load(plan)  # cutover.baseline: read and verified with the plan, or refused
    except PlanError as exc:
        emit(*(prefix + line for line in exc.lines), err=True)
        return None
    emit(*(prefix + line for line in warnings), err=True)
    return plan


def fail(verb: str, message: str) -> int:
    emit(f"cockpit {verb}: {message}", err=True)
    return 2


def one_line(value, limit: int = 200) -> str:
    """An external value (note, error, key) as one cleaned line; None as empty."""
    return clean("" if value is None else str(value), limit, single_line=True)



def warn_quarantines(verb: str, journal) -> int:
    """One line on stderr for each journal line set aside (a torn tail moved to
    ``<journal>.broken-*``) that no operator has acknowledged yet: every verb that reads a
    journal says so until an operator acknowledges it in the cockpit (journalled).
    ``journal`` is an open ``Journal``; returns how many there are."""
    try:
        pending = journal.unacknowledged_quarantines()
    except Exception as exc:  # noqa: BLE001 - a folder that cannot be listed is said, not fatal
        emit(f"cockpit {verb}: warning: cannot look for set-aside journal lines: {exc}", err=True)
        return 0
    for q in pending:
        emit(f"cockpit {verb}: warning: set-aside journal line not acknowledged: {q.describe()}"
             " (acknowledge it in the cockpit: ctrl+p)", err=True)
    return len(pending)
