"""Gate changes reach the journal once per turn of a gate, also across restarts."""

from __future__ import annotations

from cockpit.gates import GateState, GateStatus
from cockpit.signals.reading import Reading
from tests.test_tui_support import make_cockpit


def _status(gate: str, state: GateState, with_reading: bool = True) -> GateStatus:
    readings = {"x": Reading("x", 1.0, 1.0, value=1.0)} if with_reading else {}
    return GateStatus(gate, state, "why", since=1.0, readings=readings)


def _changes(cockpit) -> list[tuple[str, str]]:
    return [(e.subject, e.data["state"]) for e in cockpit.journal.entries if e.action == "gate.change"]


def test_startup_unknown_skipped_and_restart_does_not_repeat_states(tmp_path):
    journal = tmp_path / "journal.jsonl"
    first = make_cockpit(tmp_path, journal=journal, seeded=False)
    report = first.engine.on_gate_change
    report(_status("rollback_ready", GateState.UNKNOWN, with_reading=False), None)  # nothing read yet
    report(_status("rollback_ready", GateState.GO), _status("rollback_ready", GateState.UNKNOWN))
    report(_status("rollback_ready", GateState.NO_GO), _status("rollback_ready", GateState.GO))
    first.writer.drain()  # the engine's callback hands the writes to the writer thread
    assert _changes(first) == [("rollback_ready", "GO"), ("rollback_ready", "NO-GO")]
    first.journal.close()

    again = make_cockpit(tmp_path, journal=journal, seeded=False)
    report = again.engine.on_gate_change
    # After a restart the engine reports every gate afresh; the same state is not a change.
    report(_status("rollback_ready", GateState.NO_GO), None)
    again.writer.drain()
    assert _changes(again) == [("rollback_ready", "GO"), ("rollback_ready", "NO-GO")]
    report(_status("rollback_ready", GateState.GO), _status("rollback_ready", GateState.NO_GO))
    again.writer.drain()
    assert _changes(again)[-1] == ("rollback_ready", "GO")
    again.journal.close()


def test_a_damaged_journal_gives_no_recon_or_exception_signals(tmp_path):
    journal = tmp_path / "journal.jsonl"
    first = make_cockpit(tmp_path, journal=journal)  # seeded: a clean recon.run, 2 exceptions
    assert "recon.mismatched_rows" in first.engine.builtin()
    first.ops.note("bridge: all quiet")
    first.writer.drain()
    first.journal.close()
    # Damage the note (the last line): everything before it is still readable, and that
    # partial state must not feed the gates.
    lines = journal.read_bytes().split(b"\n")
    lines[-2] = lines[-2].replace(b"quiet", b"QUIET")
    journal.write_bytes(b"\n".join(lines))
    again = make_cockpit(tmp_path, journal=journal, seeded=False)
    try:
        assert again.journal.damage is not None
        assert again.engine.builtin() == {}
    finally:
        again.journal.close()
