"""``cockpit journal show JOURNAL|CONFIG [--json]``: the timeline, one line per entry.

With a plan: its shared journal table (``cutover.shared_journal``), read by the same rule as a
file, or else its ``cutover.journal`` file.

Every field goes through ``cockpit.text.clean`` where it is placed (``one_line``), and every
line again through ``emit``: the journal is read before it is verified, so nothing in it is
trusted, not even ``ts`` or ``action``. A damaged
journal is shown up to the damage, then the problem is named and the exit code is 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cockpit.commands import journal_source
from cockpit.commands.common import emit, fail, json_text, one_line
from cockpit.journal import JournalError, lines, quarantine, read_journal
from cockpit.journal.local import mark


def format_entry(e) -> str:
    actor = e.actor
    who = one_line(actor.operator, 40)
    if actor.operator != actor.os_user:
        who += f" ({one_line(actor.os_user, 32)}@{one_line(actor.host, 64)}"
    else:
        who += f" (@{one_line(actor.host, 64)}"
    who += f" from {one_line(actor.ssh_client, 64)})" if actor.ssh_client else ")"
    parts = [one_line(e.ts, 40), f"#{e.seq}", who, one_line(e.action, 40)]
    if e.subject:
        parts.append(one_line(e.subject, 80))
    data = e.data if isinstance(e.data, dict) else {}
    if e.action == "decision.record" and data.get("call"):
        parts.append(one_line(data["call"], 8))
    if e.action == "gate.change" and data.get("state"):
        parts.append(f"{one_line(data.get('old_state'), 10)} -> {one_line(data['state'], 10)}")
    local = mark(e)
    if local:
        parts.append(f"<{one_line(local, 300)}>")
    if e.reason_code:
        parts.append(f"[{one_line(e.reason_code, 40)}]")
    if e.note:
        parts.append(f'"{one_line(e.note, 300)}"')
    return "  ".join(parts)


def main(args) -> int:
    named = journal_source.name(args.journal, "journal show")
    if named is None:
        return 2
    path: Path | None = named.path
    try:
        if named.plan is not None and named.table is not None:
            raw: bytes | None = journal_source.read_table(named.plan)
        else:
            assert path is not None
            raw = read_journal(path)  # a regular file only, never through a link
    except (JournalError, journal_source.SourceError) as exc:
        return fail("journal show", one_line(str(exc), 500))
    if raw is None:
        return fail("journal show", f"cannot read {one_line(path, 500)}: No such file or directory")
    parsed = lines.parse(raw)
    as_json = getattr(args, "json", False)
    # Before damage everything intact is shown, even the first entries of the batch it broke;
    # the never-acknowledged tail of a crash is not.
    shown = parsed.entries + parsed.pending if parsed.damage is not None else parsed.entries
    for e in shown:
        if as_json:
            print(json_text(e.to_json()))
        else:
            emit(format_entry(e))
    problem = None
    if parsed.damage is not None:
        problem = f"journal damaged at {one_line(parsed.damage, 300)}; entries after it are not shown"
    elif parsed.torn:
        problem = f"{parsed.tail_problem()}: not shown"
    if problem:
        emit(f"cockpit journal show: {problem}", err=True)
    for q in quarantine.find(path, parsed.entries) if path is not None else ():
        if not q.acknowledged:
            emit(f"cockpit journal show: warning: set-aside journal line not acknowledged: "
                 f"{q.describe()}", err=True)
    return 1 if parsed.damage is not None else 0


if __name__ == "__main__":
    sys.exit(main(None))
