"""The approval spool: a second cockpit on the same host answers a two-person request through
the file journal that another cockpit holds.

A file journal has one writer (the flock); a watching cockpit writes nothing. For approvals
only, the watcher hands its answer (approve, reject, withdraw) to the writer as one file in
``<journal>.approvals/``; the writer, on its tick, takes each file, checks it and records it
through :class:`~cockpit.runbook.operations.Operations` acting as the person who answered,
so every rule (another person, not expired, gates still GO, authority, the typed id) is
checked where the journal is written, against the state and gates there. The entry is the
approver's, as if typed on their own cockpit (it was). Then the spool file is removed and a
one-line answer file (``<name>.answer``) tells the approver's cockpit how it went.

The spool folder is a trust boundary: anyone who can write into it can drop any bytes there.
What proves who answered is the OS: the file's owner uid must be the login the answer claims
(``Actor.os_user``), so one login cannot answer as another. A file that is not a regular file
(a link, FIFO, device, folder), is larger than ``MAX_BYTES``, is not one JSON document of the
exact shape, or names text that cleaning would change is refused in one line and removed
(a link itself, never what it points to); nothing is journalled for it. At most
``PER_TICK`` files are taken a tick, so a flood cannot stall the writer.

Where names are not tied to logins (no person lists ``logins``), the claimed session cannot be
proven: anyone with the same login could claim another session. That is the same limit as
that mode's "a different name from a different session".

The folder is made ``2770`` (setgid, no sticky bit: the writer removes the files others left):
the logins that share a cockpit share the journal folder's group.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cockpit.journal import Actor
from cockpit.journal.entry import ACTOR_FIELDS
from cockpit.text import clean

SUFFIX = ".approvals"
MAX_BYTES = 64 * 1024  # an answer is a few hundred bytes; its gates a few KiB
ANSWER_BYTES = 4096
PER_TICK = 20
FORMAT = 1
KINDS = ("approve", "reject", "withdraw")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}-[0-9]{1,16}-[0-9a-f]{8}\.json$")
_TMP = ".tmp-"
_TMP_AGE_S = 60.0  # a temporary file older than this was left by a crash: removed
_FIELD_LIMITS = {"operator": 64, "os_user": 64, "host": 255, "ssh_client": 64, "session": 64}
_NOTE_LIMIT = 4000


class SpoolError(Exception):
    """One line: why an answer could not be handed over (or an answer file not read)."""


@dataclass(frozen=True)
class Answer:
    kind: str  # "approve" | "reject" | "withdraw"
    request: int  # the approval.request's seq
    actor: Actor  # who answered (the os_user is checked against the file's owner)
    typed: str | None = None
    note: str = ""
    gates: dict | None = None  # the gates the approver saw (evidence; the writer's gates decide)

    def to_json(self) -> dict:
        return {"format": FORMAT, "kind": self.kind, "request": self.request,
                "actor": self.actor.to_json(), "typed": self.typed, "note": self.note,
                "gates": self.gates or {}}


@dataclass(frozen=True)
class Taken:
    """One spool file the writer took: ``line`` is what its answer file says."""

    name: str
    recorded: bool
    line: str


def spool_dir(journal_path: str | Path) -> Path:
    p = Path(journal_path)
    return p.with_name(p.name + SUFFIX)


def _session_part(session: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", session)[:64] or "_"


def _write_new(folder: Path, name: str, data: bytes) -> Path:
    """``name`` appears whole or not at all: a temporary file (O_EXCL|O_NOFOLLOW), fsynced,
    renamed, the folder fsynced."""
    tmp = folder / f"{_TMP}{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        final = folder / name
        os.link(tmp, final, follow_symlinks=False)  # never replaces what is there
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return final


def _folder(journal_path: str | Path, *, create: bool) -> Path | None:
    folder = spool_dir(journal_path)
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        if not create:
            return None
        try:
            os.mkdir(folder, 0o2770)
            os.chmod(folder, 0o2770)  # past the umask: the other logins of the group write here
        except FileExistsError:
            pass
        st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise SpoolError(f"{folder} is not a folder (a link or a file there is never followed)")
    return folder


def _read_regular(folder: Path, name: str, limit: int) -> tuple[bytes, int]:
    """(bytes, owner uid) of a regular file, never following a link or blocking on a FIFO."""
    fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SpoolError("not a regular file")
        if st.st_size > limit:
            raise SpoolError(f"larger than {limit} bytes")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
        if len(data) > limit:
            raise SpoolError(f"larger than {limit} bytes")
        return data, st.st_uid
    finally:
        os.close(fd)


def _login(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError, OSError):
        return None


def _text(value, limit: int, what: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SpoolError(f"{what} is not text")
    if len(value) > limit or clean(value, limit, single_line=True) != value:
        raise SpoolError(f"{what} holds what the journal would not show as it is")
    return value


def parse(data: bytes) -> Answer:
    """The one shape an answer may have; anything else is ``SpoolError`` (one line)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SpoolError(f"not one JSON document ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise SpoolError("not a JSON object")
    known = {"format", "kind", "request", "actor", "typed", "note", "gates"}
    if set(doc) != known:
        raise SpoolError("not an answer: its fields are not " + ", ".join(sorted(known)))
    if doc["format"] != FORMAT or isinstance(doc["format"], bool):
        raise SpoolError(f"unknown format (this cockpit reads format {FORMAT})")
    if doc["kind"] not in KINDS:
        raise SpoolError("kind is not one of " + ", ".join(KINDS))
    request = doc["request"]
    if isinstance(request, bool) or not isinstance(request, int) or not 0 < request < 2**53:
        raise SpoolError("request is not a journal seq")
    a = doc["actor"]
    if not isinstance(a, dict) or set(a) != set(ACTOR_FIELDS):
        raise SpoolError("actor is not a journal actor")
    fields = {k: _text(a[k], n, f"actor.{k}", optional=k == "ssh_client")
              for k, n in _FIELD_LIMITS.items()}
    pid = a["pid"]
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid < 2**31:
        raise SpoolError("actor.pid is not a process id")
    if not fields["operator"] or not fields["os_user"] or not fields["session"]:
        raise SpoolError("actor names nobody")
    actor = Actor(fields["operator"] or "", fields["os_user"] or "", fields["host"] or "",
                  fields["ssh_client"], pid, fields["session"] or "")
    typed = _text(doc["typed"], 64, "typed", optional=True)
    note = doc["note"]
    if not isinstance(note, str) or len(note) > _NOTE_LIMIT:
        raise SpoolError("note is not text of at most 4000 characters")
    if not isinstance(doc["gates"], dict):
        raise SpoolError("gates is not an object")
    return Answer(doc["kind"], request, actor, typed, note, doc["gates"])


class Spool:
    """The ``<journal>.approvals/`` folder of one file journal."""

    def __init__(self, journal_path: str | Path):
        self.journal_path = Path(journal_path)
        self.dir = spool_dir(journal_path)

    # -- the watching cockpit: hand an answer over, read how it went ------------------------

    def submit(self, answer: Answer) -> Path:
        """Write ``answer`` as a new spool file; raises ``SpoolError`` (one line)."""
        data = json.dumps(answer.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        if len(data) > MAX_BYTES:
            raise SpoolError("the answer is too large to hand over (shorten the note)")
        name = f"{_session_part(answer.actor.session)}-{answer.request}-{uuid.uuid4().hex[:8]}.json"
        try:
            folder = _folder(self.journal_path, create=True)
            assert folder is not None
            return _write_new(folder, name, data)
        except OSError as exc:
            raise SpoolError(f"cannot hand the answer over in {self.dir}: "
                             f"{exc.strerror or type(exc).__name__}") from None

    def answers_for(self, session: str) -> list[str]:
        """The answer lines left for ``session`` (each read once, then removed), cleaned."""
        try:
            folder = _folder(self.journal_path, create=False)
            names = sorted(os.listdir(folder)) if folder is not None else []
        except (OSError, SpoolError):
            return []
        prefix = _session_part(session) + "-"
        out = []
        for name in names:
            if not (name.startswith(prefix) and name.endswith(".answer")):
                continue
            try:
                data, _ = _read_regular(self.dir, name, ANSWER_BYTES)
                out.append(clean(data.decode("utf-8", "replace"), 300, single_line=True))
            except (OSError, SpoolError):
                pass
            with contextlib.suppress(OSError):
                os.unlink(self.dir / name)
        return out

    # -- the writing cockpit: take each answer, check it, record it --------------------------

    def take(self, ops, gates, *, limit: int = PER_TICK) -> list[Taken]:
        """Take up to ``limit`` spool files: each is recorded through ``ops`` acting as its
        author, or refused; either way it is removed and its answer file written. Never
        raises (a folder that cannot be read is no answers)."""
        try:
            folder = _folder(self.journal_path, create=False)
            names = sorted(os.listdir(folder)) if folder is not None else []
        except (OSError, SpoolError):
            return []
        assert folder is not None or not names
        taken: list[Taken] = []
        for name in names:
            if len(taken) >= limit:
                break
            if name.endswith(".answer"):
                continue
            if name.startswith(_TMP):
                self._stale_tmp(name)
                continue
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(self.dir / name).st_mode):
                    continue  # a folder planted here: nothing to take, nothing to remove
            taken.append(self._take_one(ops, gates, name))
        return taken

    def _stale_tmp(self, name: str) -> None:
        with contextlib.suppress(OSError):
            st = os.lstat(self.dir / name)
            if time.time() - st.st_mtime > _TMP_AGE_S:
                os.unlink(self.dir / name)

    def _take_one(self, ops, gates, name: str) -> Taken:
        from cockpit.runbook.operations import Refused

        recorded = False
        try:
            if not _NAME.match(name):
                raise SpoolError("not an answer file name")
            data, uid = _read_regular(self.dir, name, MAX_BYTES)
            answer = parse(data)
            login = _login(uid)
            if login is None or login != answer.actor.os_user:
                raise SpoolError(f"the file belongs to {login or f'uid {uid}'}, not to "
                                 f"{answer.actor.os_user}: an answer is written by its own login")
            acting = ops.acting_as(answer.actor)
            if answer.kind == "approve":
                entry = acting.approve(answer.request, gates, typed=answer.typed)
            elif answer.kind == "reject":
                entry = acting.reject(answer.request, answer.note)
            else:
                entry = acting.withdraw(answer.request, answer.note)
            recorded = True
            line = f"{answer.kind} of request #{answer.request} recorded (journal #{entry.seq})"
        except Refused as exc:
            line = f"not recorded: {exc}"
        except SpoolError as exc:
            line = f"not read: {exc}"
        except OSError as exc:
            line = f"not read: {exc.strerror or type(exc).__name__}"
        line = clean(line, 300, single_line=True)
        with contextlib.suppress(OSError):
            os.unlink(self.dir / name)  # a link itself, never its target
        if _NAME.match(name):
            with contextlib.suppress(OSError, FileExistsError):
                _write_new(self.dir, name[:-len(".json")] + ".answer", line.encode("utf-8"))
        return Taken(name, recorded, line)
