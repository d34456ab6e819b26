"""``cockpit journal verify JOURNAL|CONFIG [--expect-head HASH] [--json]``.

With a plan: its shared journal table (``cutover.shared_journal``; the cutover's rows in seq
order, read by the same rule as a file), or else its ``cutover.journal`` file.

Exit 0 ``OK: N entries, head #SEQ HASH``; exit 1 ``FAILED at seq N (line L): <what>``, or when a
quarantine file beside the journal (``<journal>.broken-*``, what a writer set aside) is not
acknowledged yet; exit 2 when the file cannot be read or the flags are wrong. Every quarantine
file found is listed on its own line (name, size, acknowledged or not, what it holds).
"""

from __future__ import annotations

import sys

from cockpit.commands import journal_source
from cockpit.commands.common import emit, fail, json_text
from cockpit.journal import JournalError, verify
from cockpit.journal.verify import parse_expect_head, verify_data
from cockpit.text import clean


def main(args) -> int:
    expect = getattr(args, "expect_head", None)
    if expect is not None and not expect.strip():
        # `--expect-head "$HEAD"` with HEAD unset must not quietly skip the comparison.
        return fail("journal verify", "--expect-head is empty: give the recorded head (hash, "
                                      "SEQ:HASH or '#SEQ HASH', at least 16 hex digits)")
    try:
        if expect is not None:
            parse_expect_head(expect)  # a bad flag is said before any plan or database is read
        named = journal_source.name(args.journal, "journal verify")
        if named is None:
            return 2
        if named.plan is not None and named.table is not None:
            result = verify_data(journal_source.read_table(named.plan), expect)
        else:
            assert named.path is not None
            result = verify(named.path, expect)
    except (JournalError, ValueError, journal_source.SourceError) as exc:
        return fail("journal verify", clean(str(exc), single_line=True))
    if getattr(args, "json", False):
        print(json_text(result.to_json()))
        return 0 if result.ok else 1
    head = f"head #{result.head_seq} {result.head_hash}" if result.count else "head #0 (empty journal)"
    if result.ok:
        emit(f"OK: {result.count} entries, {head}")
    else:
        where = f"at seq {result.bad_seq} (line {result.line})" if result.bad_seq is not None else ""
        emit(f"FAILED{' ' + where if where else ''}: {clean(result.problem, 1000, single_line=True)}")
        if result.count and not result.intact:
            emit(f"  intact before it: {result.count} entries, {head}")
        elif result.intact:
            emit(f"  the journal itself is intact: {result.count} entries, {head}")
    for q in result.quarantines:
        emit(f"  quarantine {q.describe()}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(None))
