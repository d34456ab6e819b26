"""The rehearsal marker rules: a rehearsal journal says so in its first entry.

- a new rehearsal journal gets ``rehearsal.start`` as seq 1 (before ``session.start``);
- a rehearsal refuses a journal whose first entry is not ``rehearsal.start`` (a real night's
  journal must never receive scripted readings and faults), and one that rehearses another
  scenario file (another SHA-256);
- ``cockpit run`` refuses a journal whose first entry is ``rehearsal.start``.

Each refusal is one line; the journal is read, never changed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from cockpit.journal import Actor, Entry, JournalError, lines, read_journal
from cockpit.text import clean

START = "rehearsal.start"


def _read(path: Path) -> tuple[bytes | None, Entry | None]:
    """The journal's bytes (None: there is no journal, or it cannot be read: whoever opens
    it next says why) and its first entry (None: there is none that reads)."""
    try:
        raw = read_journal(path)
    except JournalError:
        return None, None
    if not raw:
        return raw, None
    # Only the first line is parsed: the marker rules run before every rehearsal and demo
    # start, on journals of any length.
    end = raw.find(b"\n")
    entries = lines.parse(raw if end < 0 else raw[:end + 1]).entries
    return raw, (entries[0] if entries else None)


def first_entry(path: Path) -> Entry | None:
    """The journal's first entry, or None: no journal, an empty one, or none that reads."""
    return _read(path)[1]


def refuse_for_run(path: Path) -> str | None:
    """Why ``cockpit run`` must not open ``path``, or None."""
    first = first_entry(path)
    if first is not None and first.action == START:
        return (f"journal {path} is a rehearsal journal (scenario "
                f"{clean(str(first.subject), 64, single_line=True)}): a real night never writes "
                "into a rehearsal; resume it with cockpit rehearse, or point cutover.journal elsewhere")
    return None


def refuse_for_rehearsal(path: Path, sha256: str, scenario_name: str) -> str | None:
    """Why a rehearsal of the scenario with ``sha256`` must not write ``path``, or None."""
    raw, first = _read(path)
    if first is None:
        if raw and raw.strip():
            return (f"journal {path} has no readable first entry (damaged, cut short, or not a "
                    f"journal): a rehearsal never writes into it; check it with cockpit journal "
                    f"verify {shlex.quote(str(path))}, or use --journal with a new file")
        return None
    if first.action != START:
        return (f"journal {path} is not a rehearsal journal (its first entry is {first.action}): "
                "a rehearsal never writes into it; use --journal with a new file")
    data = first.data if isinstance(first.data, dict) else {}
    if data.get("sha256") != sha256:
        other = clean(str(data.get("scenario") or first.subject), 64, single_line=True)
        return (f"journal {path} rehearses another scenario file ({other}, sha256 "
                f"{clean(str(data.get('sha256')), 16, single_line=True)[:12]}..., this one is "
                f"{sha256[:12]}...): start a new one with --journal "
                f"{shlex.quote(str(path.with_name(path.stem + '-2' + path.suffix)))}")
    del scenario_name
    return None


def start_data(scenario_name: str, sha256: str, speed: float, plan_path: Path, plan_sha256: str) -> dict:
    return {"scenario": scenario_name, "sha256": sha256, "speed": float(speed),
            "plan": {"path": str(plan_path), "sha256": plan_sha256}}


def write_start(journal, scenario_name: str, data: dict) -> Entry:
    """``rehearsal.start`` as the journal's first entry; refuses (``JournalError``) if the
    journal already has entries (another writer got there first)."""
    if journal.entries:
        raise JournalError(f"journal {journal.path} is not empty: rehearsal.start must be its first entry")
    return journal.append(START, actor=Actor.system(), subject=scenario_name, data=data)
