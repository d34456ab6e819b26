"""Which journal a verb's argument names, and its bytes: a journal file given directly, or a
plan, whose journal is its shared table (``cutover.shared_journal``) or else its
``cutover.journal`` file.

Whatever the journal is, what a verb does with its bytes is the one reader rule
(``cockpit.journal.lines.parse``); a table's lines become those bytes through
``cockpit.journal.table.as_journal``, exactly what ``psql -At`` exports.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from cockpit.commands.common import load_or_report, one_line
from cockpit.journal import pgconn, table

if TYPE_CHECKING:
    from cockpit.config.plan import Plan


class SourceError(Exception):
    """The journal cannot be read; ``str(exc)`` is one line (never the DSN)."""


def looks_like_journal(path: str) -> bool:
    """A journal (one JSON entry per line, ``seq`` and ``hash`` in it) rather than a plan:
    by its name (``.jsonl``, ``.journal``) or, for any other name, by its first line."""
    if Path(path).suffix.lower() in (".jsonl", ".journal"):
        return True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # the plan loader says what it is, at once
        with open(path, "rb") as f:
            first = f.readline(1 << 20)
    except OSError:
        return False  # the plan loader says why in its own words
    if not first.lstrip().startswith(b"{"):
        return False
    try:
        doc = json.loads(first)
    except ValueError:
        return False
    return isinstance(doc, dict) and "seq" in doc and "hash" in doc


@dataclass(frozen=True)
class Named:
    """The journal an argument names: a file (``path``) or a plan's shared table (``table``)."""

    plan: Plan | None
    path: Path | None
    table: str | None

    @property
    def label(self) -> str:
        return f"shared journal table {self.table}" if self.table else str(self.path)


PLAN_SUFFIXES = (".yaml", ".yml")


def name(arg: str, verb: str) -> Named | None:
    """The journal ``arg`` names; None after the plan loader reported a bad plan (exit 2).

    A plan is a ``.yaml``/``.yml`` file that is not a journal; anything else is a journal
    file, and what it is (a device, a FIFO, missing, damaged) the journal's reader says."""
    if Path(arg).suffix.lower() not in PLAN_SUFFIXES or looks_like_journal(arg):
        return Named(None, Path(arg), None)
    plan = load_or_report(arg, verb=verb, for_run=False)
    if plan is None:
        return None
    shared = plan.cutover.shared_journal
    if shared is not None:
        return Named(plan, None, shared.table)
    return Named(plan, plan.journal_path, None)


def read_table(plan: Plan) -> bytes:
    """The plan's shared journal (its cutover's rows, in seq order) as journal bytes; raises
    :class:`SourceError` in one line."""
    shared = plan.cutover.shared_journal
    assert shared is not None
    try:
        conn = pgconn.connect(plan)
    except pgconn.JournalDbError as exc:
        raise SourceError(one_line(exc, 300)) from None
    try:
        rows = table.read_lines(conn, shared.table, plan.cutover.id)
        conn.rollback()
    except psycopg.Error as exc:
        hint = (" (create it with: cockpit journal init CONFIG)"
                if getattr(exc, "sqlstate", None) == "42P01" else "")
        raise SourceError(f"cannot read the shared journal table {shared.table}: "
                          f"{pgconn.describe(exc, plan)}{hint}") from None
    finally:
        conn.close()
    return table.as_journal(rows)
