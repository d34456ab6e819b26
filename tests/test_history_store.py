"""The signal history store: down-sampling per minute exactly, gate changes exact and in order,
batching, retention, and refusing files that are not a history in one line."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from cockpit.history.store import (
    HISTORY_SUFFIX,
    Bucket,
    GateChange,
    History,
    HistoryError,
    history_path,
)

T0 = 1_800_000_000.0  # a UTC hour boundary (and so a minute boundary)


def test_history_path_is_beside_the_journal(tmp_path):
    j = tmp_path / "night.jsonl"
    assert history_path(j) == tmp_path / ("night.jsonl" + HISTORY_SUFFIX)
    assert history_path(str(j)).name == "night.jsonl.history.sqlite"


def test_minutes_keep_min_max_last_count_and_errors_exactly(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    for wall, value, error in [(T0 + 1, 5, False), (T0 + 10, 2.25, False), (T0 + 20, None, True),
                               (T0 + 30, 9.5, False), (T0 + 59.999, 3, False),
                               (T0 + 60, 7, False), (T0 + 200, None, True)]:
        h.record_reading("lag", wall, value, error)
    h.close()
    r = History.open(p, readonly=True)
    assert r.series("lag") == [
        Bucket(T0, 2.25, 9.5, 3.0, 5, 1),
        Bucket(T0 + 60, 7.0, 7.0, 7.0, 1, 0),
        Bucket(T0 + 180, None, None, None, 1, 1),
    ]
    assert r.signals() == ["lag"]


def test_booleans_are_0_and_1_for_lo_hi_and_last_stays_a_boolean(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    h.record_reading("up", T0, True, False)
    h.record_reading("up", T0 + 5, False, False)
    h.record_reading("up", T0 + 61, True, False)
    h.record_reading("n", T0, 1, False)
    h.close()
    r = History.open(p, readonly=True)
    first, second = r.series("up")
    assert (first.lo, first.hi, first.last) == (0.0, 1.0, False)
    assert first.last is False and second.last is True
    assert (second.lo, second.hi) == (1.0, 1.0)
    # An integer 1 is not a boolean read back.
    (n,) = r.series("n")
    assert n.last == 1.0 and not isinstance(n.last, bool)


def test_float_values_round_trip_bit_for_bit(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    values = [0.1 + 0.2, 1e-300, -0.0, 2.0**53, 123456.789012345, -7.5e15]
    for i, v in enumerate(values):
        h.record_reading(f"s{i}", T0, v, False)
    h.close()
    r = History.open(p, readonly=True)
    for i, v in enumerate(values):
        (b,) = r.series(f"s{i}")
        assert b.last == v and b.lo == v and b.hi == v
        assert repr(b.last) == repr(float(v))


def test_gate_changes_are_exact_and_in_the_order_recorded(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    changes = [("db", T0 + 5, "GO", "lag 0.2s <= 5s"), ("api", T0 + 1, "NO-GO", "errors 3 > 0"),
               ("db", T0 + 2, "UNKNOWN", "stale"), ("db", T0 + 9.123456, "HOLD", "held 1/30 s")]
    for c in changes[:2]:
        h.record_gate(*c)
    h.flush()
    for c in changes[2:]:
        h.record_gate(*c)
    # Unflushed changes are answered too, after the written ones.
    assert h.gate_changes() == [GateChange(c[1], c[0], c[2], c[3]) for c in changes]
    h.close()
    r = History.open(p, readonly=True)
    assert r.gate_changes() == [GateChange(c[1], c[0], c[2], c[3]) for c in changes]
    assert r.gate_changes("db") == [GateChange(c[1], c[0], c[2], c[3]) for c in changes if c[0] == "db"]
    assert r.gate_changes("missing") == []
    assert r.gates() == ["api", "db"]


def test_series_window_and_span(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    assert h.span() is None
    for m in range(180):  # three hours, one reading a minute
        h.record_reading("s", T0 + m * 60 + 30, m, False)
    h.record_gate("g", T0 - 100, "GO", "ok")
    h.close()
    r = History.open(p, readonly=True)
    got = r.series("s", T0 + 3600 + 59, T0 + 3600 + 120)
    assert [b.start for b in got] == [T0 + 3600, T0 + 3660, T0 + 3720]
    assert [b.last for b in got] == [60.0, 61.0, 62.0]
    assert len(r.series("s")) == 180
    assert r.series("nothing") == []
    assert r.span() == (T0 - 100, T0 + 180 * 60)


def test_nothing_is_written_before_a_flush_and_a_flush_is_one_transaction(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    commits = []
    h._conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    for i in range(500):
        h.record_reading(f"s{i % 50}", T0 + i, i, False)
        h.record_gate("g", T0 + i, "GO", str(i))
    assert commits == []
    other = History.open(p, readonly=True)
    assert other.signals() == [] and other.gate_changes() == []
    other.close()
    h.flush()
    assert commits == ["COMMIT"]
    h.flush()  # nothing new: no transaction at all
    assert commits == ["COMMIT"]
    h.close()
    r = History.open(p, readonly=True)
    assert len(r.signals()) == 50 and len(r.gate_changes()) == 500


def test_a_reopened_history_merges_into_the_current_minute(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    h.record_reading("s", T0 + 1, 4, False)
    h.close()
    h = History.open(p)
    h.record_reading("s", T0 + 2, 8, False)
    h.record_reading("s", T0 + 3, 6, False)
    h.close()
    assert History.open(p, readonly=True).series("s") == [Bucket(T0, 4.0, 8.0, 6.0, 3, 0)]


def test_retention_drops_hours_older_than_the_window_before_the_newest(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p, retain_s=2 * 3600)
    h.record_reading("s", T0, 1, False)
    h.record_gate("g", T0, "GO", "old")
    h.flush()
    h.record_reading("s", T0 + 3600, 2, False)
    h.flush()
    assert len(h.series("s")) == 2
    h.record_reading("s", T0 + 3 * 3600 + 5, 3, False)
    h.record_gate("g", T0 + 3 * 3600, "NO-GO", "new")
    h.close()
    r = History.open(p, readonly=True)
    assert [b.last for b in r.series("s")] == [2.0, 3.0]
    assert [c.reason for c in r.gate_changes()] == ["new"]


def test_the_file_is_0600_and_made_0600_again(tmp_path):
    p = tmp_path / "h.sqlite"
    History.open(p).close()
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    os.chmod(p, 0o644)
    History.open(p).close()
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


@pytest.mark.parametrize("content", [None, b"", b"garbage" * 500, b"SQLite format 3\x00" + b"\x00" * 90])
def test_readonly_refuses_missing_empty_and_garbage_in_one_line(tmp_path, content):
    p = tmp_path / "h.sqlite"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(HistoryError) as exc:
        History.open(p, readonly=True)
    assert "\n" not in str(exc.value) and str(exc.value)
    assert p.exists() == (content is not None)
    if content is not None:
        assert p.read_bytes() == content


def test_readonly_refuses_a_truncated_history(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    for i in range(3000):
        h.record_reading(f"signal-{i % 300}", T0 + i * 7, i * 0.37, False)
    h.close()
    whole = p.read_bytes()
    assert len(whole) > 8192
    p.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(HistoryError) as exc:
        r = History.open(p, readonly=True)
        for name in r.signals():
            r.series(name)
    assert "\n" not in str(exc.value)


def test_readonly_refuses_another_applications_sqlite_and_a_writer_does_not_touch_it(tmp_path):
    p = tmp_path / "other.sqlite"
    c = sqlite3.connect(p)
    c.execute("CREATE TABLE hours(signal, hour, data)")
    c.commit()
    c.close()
    before = p.read_bytes()
    for readonly in (True, False):
        with pytest.raises(HistoryError, match="not a cockpit signal history"):
            History.open(p, readonly=readonly)
    assert p.read_bytes() == before


def test_readonly_refuses_a_directory_or_a_symlink_without_creating_anything(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(HistoryError, match="not a regular file"):
        History.open(tmp_path / "d", readonly=True)
    target = tmp_path / "target"
    (tmp_path / "link").symlink_to(target)
    for readonly in (True, False):
        with pytest.raises(HistoryError):
            History.open(tmp_path / "link", readonly=readonly)
    assert not target.exists()


def test_a_readonly_history_refuses_writes(tmp_path):
    p = tmp_path / "h.sqlite"
    History.open(p).close()
    r = History.open(p, readonly=True)
    with pytest.raises(HistoryError, match="read-only"):
        r.record_reading("s", T0, 1, False)
    r.close()


def test_values_that_are_not_readings_count_as_errors_and_bad_walls_are_dropped(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    for v in [float("nan"), float("inf"), -float("inf"), 10**400, -(2**53) - 1, "false", [1], None]:
        h.record_reading("s", T0, v, False)
    h.record_reading("s", T0, 2**53, False)
    for wall in [float("nan"), float("inf"), -1.0, 1e300, True]:
        h.record_reading("s", wall, 1, False)
        h.record_gate("g", wall, "GO", "x")
    assert h.dropped == 10
    h.close()
    r = History.open(p, readonly=True)
    assert r.series("s") == [Bucket(T0, 2.0**53, 2.0**53, 2.0**53, 9, 8)]
    assert r.gate_changes() == []


def test_a_failed_flush_keeps_what_it_had_for_the_next(tmp_path):
    p = tmp_path / "h.sqlite"
    h = History.open(p)
    h.record_reading("s", T0, 1, False)
    h.record_gate("g", T0, "GO", "x")
    blocker = sqlite3.connect(p)
    blocker.execute("BEGIN EXCLUSIVE")
    h._conn.execute("PRAGMA busy_timeout = 0")
    with pytest.raises(HistoryError, match="not written"):
        h.flush()
    blocker.rollback()
    blocker.close()
    h.close()
    r = History.open(p, readonly=True)
    assert r.series("s") == [Bucket(T0, 1.0, 1.0, 1.0, 1, 0)]
    assert r.gate_changes() == [GateChange(T0, "g", "GO", "x")]


def test_a_flush_cut_by_a_crash_is_refused_read_only_then_rolled_back_whole(tmp_path):
    p = tmp_path / "h.sqlite"
    script = f"""
import os
from cockpit.history.store import History
h = History.open({str(p)!r})
for i in range(2000):
    h.record_reading(f"s{{i % 50}}", {T0} + i, i, False)
h.flush()
c = h._conn
c.execute("PRAGMA cache_size = 1")  # spill the open transaction to the file
c.execute("BEGIN IMMEDIATE")
c.execute("DELETE FROM hours")
for i in range(300):
    c.execute("INSERT INTO names(id, kind, name) VALUES (?, 0, ?)", (1000 + i, b"x%d" % i * 1000))
os._exit(0)  # a crash in the middle of the transaction
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert (tmp_path / "h.sqlite-journal").exists()
    with pytest.raises(HistoryError, match="a write was cut short"):
        History.open(p, readonly=True)
    History.open(p).close()  # the next writer rolls it back
    r = History.open(p, readonly=True)
    assert len(r.signals()) == 50 and sum(b.count for b in r.series("s1")) == 40
