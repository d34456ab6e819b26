"""The history file read back is untrusted: arbitrary bytes, or a real history with bytes
changed or cut, give HistoryError (one line) or a valid answer, never another exception; and
arbitrary names and values never break the store."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cockpit.history.store import Bucket, GateChange, History, HistoryError

T0 = 1_800_000_000.0
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read_all(path: Path) -> None:
    """Open read-only and read every answer; HistoryError is a fine outcome, and each answer
    must have the promised types."""
    try:
        h = History.open(path, readonly=True)
    except HistoryError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    try:
        for name in h.signals():
            assert isinstance(name, str)
            for b in h.series(name):
                assert isinstance(b, Bucket) and 0 <= b.errors <= b.count
                for v in (b.lo, b.hi, b.last):
                    assert v is None or isinstance(v, float | bool) and math.isfinite(v)
        for c in h.gate_changes():
            assert isinstance(c, GateChange) and math.isfinite(c.wall)
            assert isinstance(c.status, str) and isinstance(c.reason, str)
        span = h.span()
        assert span is None or span[0] <= span[1]
    except HistoryError as exc:
        assert "\n" not in str(exc) and str(exc)
    finally:
        h.close()


def _valid_history(path: Path) -> bytes:
    h = History.open(path)
    for i in range(400):
        h.record_reading(f"s{i % 20}", T0 + i * 11, i * 0.5 if i % 3 else i % 2 == 0, i % 17 == 0)
        if i % 40 == 0:
            h.record_gate(f"g{i % 3}", T0 + i, "GO" if i % 80 else "NO-GO", f"reason {i}")
    h.close()
    return path.read_bytes()


@SETTINGS
@given(st.binary(max_size=20_000))
def test_arbitrary_bytes_as_the_history_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "h.sqlite"
        p.write_bytes(data)
        _read_all(p)
        assert p.read_bytes() == data  # read-only changed nothing


@SETTINGS
@given(st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1,
                max_size=12),
       st.one_of(st.none(), st.integers(min_value=0)))
def test_a_real_history_with_bytes_changed_or_cut(changes, cut):
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "h.sqlite"
        data = bytearray(_valid_history(p))
        for at, byte in changes:
            data[at % len(data)] = byte
        if cut is not None:
            data = data[: cut % len(data)]
        p.write_bytes(bytes(data))
        _read_all(p)
        assert p.read_bytes() == bytes(data)


names = st.one_of(st.text(max_size=40), st.just("\ud800"), st.just("a\x00b"),
                  st.just("x" * 65536), st.just("\udfff\x00\ud83d"))
values = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                   st.none(), st.text(max_size=5), st.just(10**400))


@SETTINGS
@given(st.lists(st.tuples(names, st.floats(0, 3600 * 3), values, st.booleans()), max_size=30),
       st.lists(st.tuples(names, st.floats(0, 3600 * 3), names, names), max_size=10))
def test_arbitrary_names_and_values_never_break_it(readings, gates):
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "h.sqlite"
        h = History.open(p)
        for name, dt, value, error in readings:
            h.record_reading(name, T0 + dt, value, error)
        for gate, dt, status, reason in gates:
            h.record_gate(gate, T0 + dt, status, reason)
        h.close()
        r = History.open(p, readonly=True)
        # Every name comes back exactly (NUL, lone surrogates, 64 KiB names included).
        assert r.signals() == sorted({n for n, *_ in readings})
        assert r.gates() == sorted({g for g, *_ in gates})
        assert r.gate_changes() == [GateChange(T0 + dt, g, s, why) for g, dt, s, why in gates]
        for name in r.signals():
            got = r.series(name)
            mine = [(v, e) for n, _, v, e in readings if n == name]
            assert sum(b.count for b in got) == len(mine)
            good = [v for v, e in mine if not e and _is_value(v)]
            assert sum(b.count - b.errors for b in got) == len(good)
        _read_all(p)


def _is_value(v) -> bool:
    if isinstance(v, bool):
        return True
    if isinstance(v, int):
        return abs(v) <= 2**53
    return isinstance(v, float) and math.isfinite(v)


@SETTINGS
@given(st.lists(st.tuples(st.floats(0, 180), st.one_of(
    st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False))),
    min_size=1, max_size=40))
def test_each_minute_is_the_min_max_and_last_of_its_readings(readings):
    assume(all(math.isfinite(float(v)) for _, v in readings))
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "h.sqlite"
        h = History.open(p)
        for dt, v in readings:
            h.record_reading("s", T0 + dt, v, False)
        h.close()
        got = History.open(p, readonly=True).series("s")
        want = {}
        for dt, v in readings:
            want.setdefault(int((T0 + dt) // 60) * 60.0, []).append(float(v))
        assert [b.start for b in got] == sorted(want)
        for b in got:
            vs = want[b.start]
            assert (b.lo, b.hi, b.last, b.count, b.errors) == (min(vs), max(vs), vs[-1], len(vs), 0)
