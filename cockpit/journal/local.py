"""Local mode: a cockpit whose shared journal is unreachable keeps journalling, to a file.

While the database cannot be reached every action is refused (a fork of the journal of record
would be worse than a pause), unless the lead switches that cockpit to local mode with a
reason (``Operations.go_local``). Its entries then go to ``<local copy>.local.jsonl``
(:func:`local_path`): a file journal with its own hash chain, so ``cockpit journal verify``
checks it like any journal.

- Its first entry is ``local.start`` (who, reason code, note, ``data.shared_head`` = the
  shared head this cockpit last saw), fsynced before the header says LOCAL MODE.
- Every later entry is an action of this cockpit, fsynced before it is shown, and replayed on
  top of the shared state (``Operations.state``).
- On reconnect the shared journal merges it in ONE transaction (:meth:`LocalJournal.merge_items`):
  ``local.merge``, every local entry again as a new shared entry flagged
  ``data.local = {seq, hash, ts}`` (plus ``conflict``, one line, when it no longer applied to
  the shared state that moved meanwhile: recorded, never applied twice), then ``local.end``.
- ``local.merge`` names the local journal's first hash (``data.local_start``): a cockpit killed
  during the merge finds it in the table after restarting and does not merge again. Only once
  the merge is committed is the file renamed ``.merged-<seq>`` (:meth:`LocalJournal.finish`);
  it is never deleted.
- A local file that does not verify, or is not a local journal, is never merged: the cockpit
  stays read-only with one line, and the file is left as it is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cockpit.journal import checkpoint
from cockpit.journal.entry import Actor, Entry, head_of
from cockpit.journal.errors import JournalError
from cockpit.journal.file import Journal, holder_path
from cockpit.text import clean

LOCAL_SUFFIX = ".local.jsonl"
MERGED_INFIX = ".merged-"
START, MERGE, END = "local.start", "local.merge", "local.end"
MARKERS = frozenset({START, MERGE, END})


def local_path(copy_path: str | os.PathLike) -> Path:
    """``<local copy>.local.jsonl``: beside the shared journal's local copy."""
    p = Path(copy_path)
    return p.with_name(p.name + LOCAL_SUFFIX)


def merged_path(copy_path: str | os.PathLike, seq: int) -> Path:
    """Where a merged local journal is kept: ``<local copy>.local.jsonl.merged-<seq>``, ``seq``
    being its ``local.merge`` entry in the shared journal."""
    p = local_path(copy_path)
    return p.with_name(f"{p.name}{MERGED_INFIX}{seq}")


def pending(copy_path: str | os.PathLike) -> str | None:
    """One line when a local journal waits to be merged beside ``copy_path`` (for
    ``cockpit status``), else None. Reads nothing but the file's existence and size."""
    p = local_path(copy_path)
    try:
        size = p.stat().st_size
    except OSError:
        return None
    return (f"a local-mode journal waits to be merged into the shared journal: {p} "
            f"({size} bytes); the cockpit that wrote it merges it once it reconnects")


def _shared_head(entry: Entry) -> tuple[int, str] | None:
    data = entry.data if isinstance(entry.data, dict) else {}
    head = data.get("shared_head")
    if not isinstance(head, dict):
        return None
    seq, digest = head.get("seq"), head.get("hash")
    if type(seq) is not int or seq < 0 or not isinstance(digest, str) or len(digest) != 64:
        return None
    return seq, digest


class LocalJournal:
    """The local journal of one cockpit in local mode. Build it with :meth:`start` or
    :meth:`resume`; ``problem`` (one line) says why it may not be merged, or is None."""

    def __init__(self, journal: Journal, copy_path: Path, *, resumed: bool):
        self.journal = journal
        self.copy_path = copy_path
        self.path = journal.path
        self.resumed = resumed
        self.problem: str | None = self._check()

    @classmethod
    def start(cls, copy_path: str | os.PathLike, *, cutover_id: str, clock: Any, actor: Actor,
              reason_code: str | None, note: str | None, shared_head: tuple[int, str]) -> LocalJournal:
        """Create the local journal and fsync its ``local.start``; raises ``JournalError``
        (one line) when it exists already or cannot be written, and then nothing is created."""
        path = local_path(copy_path)
        if path.exists():
            raise JournalError(f"a local-mode journal already exists at {path}: it waits to be "
                               "merged (restart the cockpit to resume it)")
        journal = Journal.open(path, cutover_id=cutover_id, clock=clock, holder=actor)
        try:
            if journal.readonly or journal.entries:
                raise JournalError(f"cannot start local mode: {journal.readonly_reason or path}")
            journal.append(START, actor=actor, reason_code=reason_code, note=note,
                           data={"shared_head": {"seq": shared_head[0], "hash": shared_head[1]}})
        except BaseException:
            journal.close()
            raise
        return cls(journal, Path(copy_path), resumed=False)

    @classmethod
    def resume(cls, copy_path: str | os.PathLike, *, cutover_id: str, clock: Any,
               holder: Actor | None = None) -> LocalJournal | None:
        """The local journal left beside ``copy_path`` (a cockpit quit or was killed in local
        mode), or None when there is none. Raises what ``Journal.open`` raises."""
        path = local_path(copy_path)
        if not path.exists():
            return None
        journal = Journal.open(path, cutover_id=cutover_id, clock=clock, holder=holder)
        return cls(journal, Path(copy_path), resumed=True)

    def _check(self) -> str | None:
        j = self.journal
        name = self.path.name
        if j.damage is not None or (j.readonly and j.readonly_reason):
            why = clean(j.readonly_reason or str(j.damage), 200, single_line=True)
            return (f"the local-mode journal {name} does not verify ({why}): it is NOT merged; "
                    "the cockpit stays read-only and the file is kept as it is "
                    "(run: cockpit journal verify on it)")
        if not j.entries or j.entries[0].action != START or _shared_head(j.entries[0]) is None:
            return (f"{name} is not a local-mode journal (its first entry is not local.start "
                    "with the shared head): it is NOT merged; the file is kept as it is")
        if any(e.action in MARKERS for e in j.entries[1:]):
            return (f"{name} holds a second local.* marker: it is NOT merged; the file is kept "
                    "as it is")
        return None

    # -- reading ---------------------------------------------------------------------------

    @property
    def start_entry(self) -> Entry:
        return self.journal.entries[0]

    @property
    def shared_head(self) -> tuple[int, str]:
        head = _shared_head(self.start_entry)
        assert head is not None  # _check
        return head

    @property
    def actions(self) -> list[Entry]:
        """The entries made in local mode after ``local.start``."""
        return self.journal.entries[1:]

    @property
    def head(self) -> tuple[int, str]:
        return head_of(self.journal.entries)

    def merged_in(self, shared: Sequence[Entry]) -> int | None:
        """The seq of the ``local.merge`` of this local journal in ``shared``, or None."""
        start = self.start_entry.hash
        after = self.shared_head[0]
        for e in shared[after:]:
            if e.action == MERGE and isinstance(e.data, dict) and e.data.get("local_start") == start:
                return e.seq
        return None

    def merge_items(self, conflicts: list[str | None]) -> list[dict[str, Any]]:
        """The batch that merges this journal: ``local.merge``, each local entry flagged
        (``conflicts[i]``: why entry i no longer applied, or None), ``local.end``."""
        start, actions = self.start_entry, self.actions
        seq, digest = self.head
        found = [c for c in conflicts if c]
        sh_seq, sh_hash = self.shared_head
        summary = {"who": start.actor.operator, "since": start.ts,
                   "until": (actions[-1] if actions else start).ts, "count": len(actions),
                   "conflicts": len(found), "local_start": start.hash,
                   "local_head": {"seq": seq, "hash": digest},
                   "shared_head": {"seq": sh_seq, "hash": sh_hash}, "file": self.path.name}
        items: list[dict[str, Any]] = [dict(action=MERGE, actor=Actor.system(), subject=None,
                                            reason_code=start.reason_code, note=start.note,
                                            data=summary)]
        for e, conflict in zip(actions, conflicts, strict=True):
            flag: dict[str, Any] = {"seq": e.seq, "hash": e.hash, "ts": e.ts}
            if conflict:
                flag["conflict"] = clean(conflict, 200, single_line=True)
            if isinstance(e.data, dict):
                data: Any = {**e.data, "local": flag}
            elif e.data is None:
                data = {"local": flag}
            else:
                data = {"value": e.data, "local": flag}
            items.append(dict(action=e.action, actor=e.actor, subject=e.subject,
                              reason_code=e.reason_code, note=e.note, data=data))
        items.append(dict(action=END, actor=Actor.system(), subject=None, reason_code=None,
                          note=None, data={"local_start": start.hash, "count": len(actions)}))
        return items

    # -- ending ----------------------------------------------------------------------------

    def finish(self, merge_seq: int) -> Path:
        """After the merge is committed: close the file and keep it as ``.merged-<seq>``
        (the rename is made durable); its checkpoint and holder files go (they describe a
        journal that is no longer written)."""
        self.journal.close()
        target = merged_path(self.copy_path, merge_seq)
        os.rename(self.path, target)
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        for extra in (checkpoint.checkpoint_path(self.path), holder_path(self.path)):
            with contextlib.suppress(OSError):
                extra.unlink()
        return target

    def close(self) -> None:
        self.journal.close()


def mark(entry: Entry) -> str | None:
    """How a timeline marks an entry merged from local mode ("LOCAL #3 22:14:05Z", plus
    "CONFLICT: <why>" when it no longer applied) or a ``local.merge`` ("4 merged, 1
    conflict"); None for any other entry. Untrusted text: the caller cleans it where shown."""
    data = entry.data if isinstance(entry.data, dict) else {}
    if entry.action == MERGE:
        n, k = data.get("count"), data.get("conflicts")
        n = n if type(n) is int else "?"
        k = k if type(k) is int else 0
        return f"LOCAL MODE: {n} merged" + (f", {k} conflict{'s' if k != 1 else ''}" if k else "")
    local = data.get("local")
    if not isinstance(local, dict):
        return None
    seq, ts = local.get("seq"), local.get("ts")
    at = ts[11:19] + "Z" if isinstance(ts, str) and len(ts) >= 19 else "?"
    out = f"LOCAL #{seq if type(seq) is int else '?'} {at}"
    conflict = local.get("conflict")
    if conflict:
        out += f" CONFLICT: {conflict}"
    return out
