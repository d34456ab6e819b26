"""The signal history file: every gate change exactly, each signal down-sampled per minute.

``<journal>.history.sqlite`` beside the journal (``history_path``), SQLite from the standard
library, mode 0600. It is evidence's helper, not the truth: the journal stays the record of
actions (gate changes are journalled there too), and a report says which figures come from
here.

Layout (measured with ``bench/history.py``): one row per signal and UTC hour whose ``data`` is
the hour's minute buckets as compact JSON, zlib-compressed; a bucket is
``[minute, count, errors, last]`` when its low, high and last values are the same, else
``[minute, count, errors, last, lo, hi]``. JSON keeps ``true``/``false`` apart from 1/0 and
writes floats in their shortest exact form, so every value round-trips bit for bit. Names are
stored once each (integer ids) as UTF-8 bytes that keep even lone surrogates. Gate changes are
rows of their own, in the order recorded.

Writes are batched: ``record_*`` only updates memory; ``flush`` writes everything since the
previous flush in one transaction (the recorder flushes every ``FLUSH_S`` seconds of the
session clock and at close). **A crash loses what was recorded since the last flush** (at most
that many seconds of readings and gate changes; the gate changes are in the journal anyway);
a flush cut by a crash is rolled back whole by SQLite, never half-written (a read-only reader
refuses the file in one line until the next writer's open has rolled it back).

Retention: signal minutes and gate changes older than ``RETENTION_S`` (48 hours) before the
newest minute recorded are deleted at flush, on the recorder's clock (a rehearsal's
accelerated clock included); a cutover window and its margins fit.

Read back, the file is untrusted: ``open`` refuses anything that is not exactly this schema
(missing, empty, garbage, truncated, another application's SQLite), and every stored value is
checked when read; a failure is one line in ``HistoryError``, never another exception. A
read-only open never creates or changes a file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

HISTORY_SUFFIX = ".history.sqlite"
FORMAT = "cockpit-signal-history"
VERSION = "1"
RETENTION_S = 48 * 3600.0
# Walls outside this range (before 1970, after 2514) cannot be a reading's time: dropped.
MAX_WALL = float(2**34)
MAX_EXACT_INT = 2**53
# An hour of 60 buckets is a few KB of JSON; anything inflating beyond this is not ours.
MAX_HOUR_BYTES = 256 * 1024

_SIGNAL, _GATE = 0, 1

SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE names(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name BLOB NOT NULL, "
    "UNIQUE(kind, name))",
    "CREATE TABLE hours(signal INTEGER NOT NULL, hour INTEGER NOT NULL, data BLOB NOT NULL, "
    "PRIMARY KEY(signal, hour)) WITHOUT ROWID",
    "CREATE TABLE gate_changes(seq INTEGER PRIMARY KEY, wall REAL NOT NULL, "
    "gate INTEGER NOT NULL, status BLOB NOT NULL, reason BLOB NOT NULL)",
)
_TABLES = {"meta", "names", "hours", "gate_changes"}


class HistoryError(Exception):
    """The history cannot be opened, read or written: one line, for the screen or stderr."""


@dataclass(frozen=True)
class Bucket:
    start: float  # UTC epoch of the minute
    lo: float | None  # booleans count as 0/1; None when the minute had no good reading
    hi: float | None
    last: float | bool | None  # the last good value of the minute, a boolean kept as one
    count: int  # readings in the minute, errors included
    errors: int


@dataclass(frozen=True)
class GateChange:
    wall: float
    gate: str
    status: str
    reason: str


def history_path(journal_path: str | os.PathLike) -> Path:
    """``<journal>.history.sqlite``, beside the journal (for a shared one, its local copy)."""
    p = Path(journal_path)
    return p.with_name(p.name + HISTORY_SUFFIX)


def _enc(text: object) -> bytes:
    # surrogatepass: a lone surrogate in a name is kept exactly, not refused by SQLite.
    return str(text).encode("utf-8", "surrogatepass")


def _dec(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes):
        raise HistoryError("a stored name or text is not text")
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def _number(value: object) -> float | bool | None:
    """The value as the history keeps it, or None when it is not a good reading's value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value) if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _wall_ok(wall: object) -> bool:
    return (isinstance(wall, int | float) and not isinstance(wall, bool)
            and math.isfinite(wall) and 0.0 <= wall < MAX_WALL)


class _Minute:
    __slots__ = ("count", "errors", "lo", "hi", "last", "text")

    def __init__(self, count=0, errors=0, lo=None, hi=None, last=None):
        self.count, self.errors, self.lo, self.hi, self.last = count, errors, lo, hi, last
        self.text: str | None = None  # the encoded bucket, kept until it changes

    def add(self, value: float | bool | None) -> None:
        self.text = None
        self.count += 1
        if value is None:
            self.errors += 1
            return
        v = float(value)
        self.lo = v if self.lo is None or v < self.lo else self.lo
        self.hi = v if self.hi is None or v > self.hi else self.hi
        self.last = value

    def encoded(self, minute: int) -> str:
        if self.text is None:
            self.text = json.dumps(self.encode(minute), separators=(",", ":"), allow_nan=False)
        return self.text

    def encode(self, minute: int) -> list:
        last = self.last
        row = [minute, self.count, self.errors, last if isinstance(last, bool) else _short(last)]
        if self.lo is None or not (self.lo == self.hi == float(self.last)):
            row += [_short(self.lo), _short(self.hi)]
        return row


def _hour_text(minutes: dict[int, _Minute]) -> str:
    return "[" + ",".join(minutes[m].encoded(m) for m in sorted(minutes)) + "]"


def _short(v: float | None) -> float | int | None:
    """"5" not "5.0": a smaller blob, read back as 5.0 (-0.0 stays itself)."""
    if v is not None and v.is_integer() and abs(v) <= MAX_EXACT_INT and math.copysign(1, v) > 0:
        return int(v)
    return v


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _decode_hour(blob: object) -> dict[int, _Minute]:
    """An hour's buckets from the stored blob; HistoryError when it is not one of ours."""
    if not isinstance(blob, bytes):
        raise HistoryError("damaged history: an hour record is not data")
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(blob, MAX_HOUR_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            raise ValueError("too large or cut short")
        rows = json.loads(raw, parse_constant=_no_constant)
    except (zlib.error, ValueError, RecursionError) as exc:
        raise HistoryError(f"damaged history: an hour record does not decode ({_why(exc)})") \
            from None
    if not isinstance(rows, list) or len(rows) > 60:
        raise HistoryError("damaged history: an hour record is not a list of minutes")
    minutes: dict[int, _Minute] = {}
    for row in rows:
        m = _minute(row)
        if m is None or row[0] in minutes:
            raise HistoryError("damaged history: a minute bucket is malformed")
        minutes[row[0]] = m
    return minutes


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _stored_number(v: object) -> float | None:
    """A stored lo/hi/last number as a float; None when it is not a finite, exact number."""
    if type(v) is float:
        return v if math.isfinite(v) else None
    if type(v) is int and -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
        return float(v)
    return None


def _minute(row: object) -> _Minute | None:
    """One stored bucket, checked (a read-back file is untrusted); None when malformed."""
    if type(row) is not list or len(row) not in (4, 6):
        return None
    minute, count, errors, last = row[0], row[1], row[2], row[3]
    if not (type(minute) is int and type(count) is int and type(errors) is int
            and 0 <= minute < 60 and 0 <= errors <= count and 1 <= count < MAX_EXACT_INT):
        return None
    if last is None:
        if errors != count or (len(row) == 6 and (row[4] is not None or row[5] is not None)):
            return None
        return _Minute(count, errors)
    if errors >= count:
        return None
    last_v: float | bool | None = last if type(last) is bool else _stored_number(last)
    if last_v is None:
        return None
    if len(row) == 4:
        return _Minute(count, errors, float(last_v), float(last_v), last_v)
    lo, hi = _stored_number(row[4]), _stored_number(row[5])
    if lo is None or hi is None or not lo <= float(last_v) <= hi:
        return None
    return _Minute(count, errors, lo, hi, last_v)


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


class History:
    """One history file. A writable one has a single writer (the session's recorder). Not
    thread-safe: used from one thread at a time (the recorder hands it to its own thread)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool, retain_s: float):
        self.path, self._conn, self.readonly, self.retain_s = path, conn, readonly, retain_s
        self._ids: dict[tuple[int, bytes], int] = {}
        self._names: dict[int, tuple[int, str]] = {}
        # (signal id, hour) -> minute -> bucket, for the hours touched since they were loaded.
        self._hours: dict[tuple[int, int], dict[int, _Minute]] = {}
        self._dirty: set[tuple[int, int]] = set()
        self._gates: list[tuple[float, int, bytes, bytes]] = []
        self._signal_ids: dict[str, int] = {}  # the same ids, by the name as handed in
        self._new_names: list[tuple[int, int, bytes]] = []  # (id, kind, name) not yet written
        self._newest_hour: int | None = None
        self._closed = False
        self.dropped = 0  # readings and changes refused for an impossible wall time

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, readonly: bool = False,
             retain_s: float = RETENTION_S) -> History:
        """Open (or, writable, create) the history at ``path``; ``HistoryError`` otherwise."""
        p = Path(path)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise HistoryError(f"history {p.name}: cannot be read ({exc.strerror})") from None
        if st is None and readonly:
            raise HistoryError(f"history {p.name}: no such file")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise HistoryError(f"history {p.name}: not a regular file")
        if st is not None and st.st_size == 0 and readonly:
            raise HistoryError(f"history {p.name}: the file is empty")
        if st is None or st.st_size == 0:
            try:
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                os.fchmod(fd, 0o600)
                os.close(fd)
            except OSError as exc:
                raise HistoryError(f"history {p.name}: cannot be created ({exc.strerror})") \
                    from None
        try:
            if readonly:
                conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=2.0, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(p, timeout=2.0, isolation_level=None,
                                       check_same_thread=False)
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise HistoryError(f"history {p.name}: cannot be opened ({_why(exc)})") from None
        history = cls(p, conn, readonly, retain_s)
        try:
            history._check_or_create()
            history._load_names()
            if not readonly and st is not None and stat.S_IMODE(st.st_mode) & 0o077:
                os.chmod(p, 0o600)  # ours (checked above): as private as the journal
        except HistoryError:
            conn.close()
            raise
        except (sqlite3.Error, OSError, ValueError, OverflowError, MemoryError) as exc:
            conn.close()
            if readonly and p.with_name(p.name + "-journal").exists():
                # SQLite's hot journal: only a writer may roll the cut write back.
                raise HistoryError(f"history {p.name}: a write was cut short (a crash); the "
                                   f"next cockpit on this journal rolls it back") from None
            raise HistoryError(f"history {p.name}: not a readable signal history "
                               f"({_why(exc)})") from None
        return history

    def _check_or_create(self) -> None:
        c = self._conn
        c.execute("PRAGMA trusted_schema = OFF")
        objects = c.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        if not objects and not self.readonly:
            c.execute("PRAGMA journal_mode = DELETE")
            c.execute("BEGIN IMMEDIATE")
            for sql in SCHEMA:
                c.execute(sql)
            c.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                          [("format", FORMAT), ("version", VERSION)])
            c.execute("COMMIT")
            return
        ours = {(name, sql) for type_, name, sql in objects if type_ == "table"}
        want = {(sql.split()[2].split("(")[0], sql) for sql in SCHEMA}
        others = {name for type_, name, _ in objects
                  if type_ != "table" and not str(name).startswith("sqlite_autoindex_")}
        if ours != want or others:
            raise HistoryError(f"history {self.path.name}: not a cockpit signal history "
                               f"(another database)")
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise HistoryError(f"history {self.path.name}: not a cockpit signal history")
        if meta.get("version") != VERSION:
            raise HistoryError(f"history {self.path.name}: version {str(meta.get('version'))[:20]!r}"
                               f" is not {VERSION!r}, which this cockpit reads")
        check = c.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise HistoryError(f"history {self.path.name}: the file is damaged "
                               f"({_why(Exception(str(check[0][0]) if check else 'no answer'))})")

    def _load_names(self) -> None:
        for id_, kind, raw in self._conn.execute("SELECT id, kind, name FROM names"):
            if not _is_int(id_) or kind not in (_SIGNAL, _GATE) or not isinstance(raw, bytes):
                raise HistoryError(f"history {self.path.name}: damaged names")
            self._ids[(kind, raw)] = id_
            self._names[id_] = (kind, _dec(raw))
        row = self._conn.execute("SELECT max(hour) FROM hours").fetchone()
        if row and _is_int(row[0]):
            self._newest_hour = row[0]

    # -- recording -------------------------------------------------------------------------
    def _id(self, kind: int, name: object) -> int:
        key = (kind, _enc(name))
        id_ = self._ids.get(key)
        if id_ is None:
            # Ids are assigned here, not by the database: ``flush`` writes the new names first.
            id_ = max(self._names, default=0) + 1
            self._ids[key] = id_
            self._names[id_] = (kind, _dec(key[1]))
            self._new_names.append((id_, kind, key[1]))
        return id_

    def _writable(self) -> None:
        if self.readonly:
            raise HistoryError(f"history {self.path.name}: opened read-only")
        if self._closed:
            raise HistoryError(f"history {self.path.name}: closed")

    def record_gate(self, gate: str, wall: float, status: str, reason: str) -> None:
        """One gate change, kept exactly and in the order recorded (written at ``flush``)."""
        self._writable()
        if not _wall_ok(wall):
            self.dropped += 1
            return
        self._gates.append((float(wall), self._id(_GATE, gate), _enc(status), _enc(reason)))

    def record_reading(self, signal: str, wall: float, value: object, error: bool) -> None:
        """One reading into its minute's bucket. An error, or a value that is not true/false,
        an integer within 2**53 or a finite float, counts as an error of the minute."""
        self._writable()
        if not _wall_ok(wall):
            self.dropped += 1
            return
        sid = self._signal_ids.get(signal) if isinstance(signal, str) else None
        if sid is None:
            sid = self._id(_SIGNAL, signal)
            if isinstance(signal, str):
                self._signal_ids[signal] = sid
        hour, minute = divmod(int(wall // 60), 60)
        key = (sid, hour)
        buckets = self._hours.get(key)
        if buckets is None:
            buckets = self._hours[key] = self._stored_hour(key)
        bucket = buckets.get(minute)
        if bucket is None:
            bucket = buckets[minute] = _Minute()
        bucket.add(None if error else _number(value))
        self._dirty.add(key)

    def _stored_hour(self, key: tuple[int, int]) -> dict[int, _Minute]:
        try:
            row = self._conn.execute("SELECT data FROM hours WHERE signal = ? AND hour = ?",
                                     key).fetchone()
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path.name}: cannot be read ({_why(exc)})") \
                from None
        if row is None:
            return {}
        try:
            return _decode_hour(row[0])
        except HistoryError:
            return {}  # a damaged hour of our own file is replaced by what comes next

    def flush(self) -> None:
        """Everything recorded since the last flush, in one transaction."""
        self._writable()
        names, self._new_names = self._new_names, []
        dirty = sorted(self._dirty)
        gates = self._gates
        if not (names or dirty or gates):
            return
        rows = [(sid, hour, zlib.compress(_hour_text(self._hours[(sid, hour)]).encode(), 6))
                for sid, hour in dirty]
        newest = max([h for _, h in dirty] + ([self._newest_hour] if self._newest_hour else []),
                     default=None)
        c = self._conn
        try:
            c.execute("BEGIN IMMEDIATE")
            c.executemany("INSERT INTO names(id, kind, name) VALUES (?, ?, ?)", names)
            c.executemany("INSERT OR REPLACE INTO hours(signal, hour, data) VALUES (?, ?, ?)",
                          rows)
            c.executemany("INSERT INTO gate_changes(wall, gate, status, reason) "
                          "VALUES (?, ?, ?, ?)", gates)
            if newest is not None and newest != self._newest_hour:
                # Whole hours older than the retention before the newest hour recorded.
                keep = newest - math.ceil(self.retain_s / 3600.0)
                c.execute("DELETE FROM hours WHERE hour < ?", (keep,))
                c.execute("DELETE FROM gate_changes WHERE wall < ?", (keep * 3600.0,))
            c.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            self._new_names = names + self._new_names
            raise HistoryError(f"history {self.path.name}: not written ({_why(exc)})") from None
        self._gates = []
        self._dirty.clear()
        self._newest_hour = newest
        # Keep in memory only each signal's newest hour: the one readings still go to.
        latest: dict[int, int] = {}
        for sid, hour in self._hours:
            latest[sid] = max(hour, latest.get(sid, hour))
        self._hours = {k: v for k, v in self._hours.items() if latest[k[0]] == k[1]}

    def close(self) -> None:
        """Flush (a writable history) and close; a second close does nothing."""
        if self._closed:
            return
        try:
            if not self.readonly:
                self.flush()
        finally:
            self._closed = True
            self._conn.close()

    # -- reading ---------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple = ()) -> list:
        if self._closed:
            raise HistoryError(f"history {self.path.name}: closed")
        try:
            return self._conn.execute(sql, args).fetchall()
        except (sqlite3.Error, OverflowError, MemoryError) as exc:
            raise HistoryError(f"history {self.path.name}: cannot be read ({_why(exc)})") \
                from None

    def _named(self, kind: int) -> list[str]:
        return sorted(name for k, name in self._names.values() if k == kind)

    def signals(self) -> list[str]:
        return self._named(_SIGNAL)

    def gates(self) -> list[str]:
        return self._named(_GATE)

    def series(self, signal: str, t0: float | None = None, t1: float | None = None) -> list[Bucket]:
        """The signal's minutes, oldest first: those that overlap ``[t0, t1]`` (either open)."""
        sid = self._ids.get((_SIGNAL, _enc(signal)))
        if sid is None:
            return []
        lo, hi = _bound(t0, -MAX_WALL), _bound(t1, MAX_WALL)
        hours = {}
        for hour, data in self._query("SELECT hour, data FROM hours WHERE signal = ? AND "
                                      "hour BETWEEN ? AND ? ORDER BY hour",
                                      (sid, int(lo // 3600), int(hi // 3600))):
            if not _is_int(hour):
                raise HistoryError("damaged history: an hour is not a number")
            hours[hour] = _decode_hour(data)
        for (s, hour), minutes in self._hours.items():
            if s == sid and lo // 3600 <= hour <= hi // 3600:
                hours[hour] = minutes
        out = []
        for hour in sorted(hours):
            for minute in sorted(hours[hour]):
                b = hours[hour][minute]
                start = float((hour * 60 + minute) * 60)
                if start + 60.0 > lo and start <= hi:
                    out.append(Bucket(start, b.lo, b.hi, b.last, b.count, b.errors))
        return out

    def gate_changes(self, gate: str | None = None) -> list[GateChange]:
        """Gate changes in the order recorded (one gate's, or every gate's)."""
        if gate is None:
            rows = self._query("SELECT wall, gate, status, reason FROM gate_changes ORDER BY seq")
        else:
            gid = self._ids.get((_GATE, _enc(gate)))
            if gid is None:
                return []
            rows = self._query("SELECT wall, gate, status, reason FROM gate_changes "
                               "WHERE gate = ? ORDER BY seq", (gid,))
        rows = list(rows) + [g for g in self._gates if gate is None or g[1] == gid]
        out = []
        for wall, gid_, status, reason in rows:
            named = self._names.get(gid_) if _is_int(gid_) else None
            if not _wall_ok(wall) or named is None or named[0] != _GATE:
                raise HistoryError("damaged history: a gate change is malformed")
            out.append(GateChange(float(wall), named[1], _dec(status), _dec(reason)))
        return out

    def span(self) -> tuple[float, float] | None:
        """(first, last) moment the history covers: the first minute's start or the first gate
        change, to the last minute's end or the last gate change. None when it holds nothing."""
        starts: list[float] = []
        hours = dict(self._hours)
        for sid, hour, data in self._query(
                "SELECT signal, hour, data FROM hours WHERE hour IN "
                "((SELECT min(hour) FROM hours), (SELECT max(hour) FROM hours))"):
            if not _is_int(hour):
                raise HistoryError("damaged history: an hour is not a number")
            hours.setdefault((sid, hour), _decode_hour(data))
        for (_, hour), minutes in hours.items():
            starts += [float((hour * 60 + m) * 60) for m in minutes]
        walls = [g.wall for g in self.gate_changes()]
        if not (starts or walls):
            return None
        return (min(starts + walls), max([s + 60.0 for s in starts] + walls))


def _bound(t: float | None, default: float) -> float:
    if t is None or not isinstance(t, int | float) or math.isnan(t):
        return default
    return min(max(float(t), -MAX_WALL), MAX_WALL)
