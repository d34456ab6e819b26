"""Actions from a writer thread while another thread reads the state: nothing lost or torn."""

from __future__ import annotations

import threading

from cockpit.journal import Actor, Journal, verify
from cockpit.runbook import Operations, Refused, replay
from tests.test_runbook_rules import gates, make_plan


def test_concurrent_actions_are_serialized_and_the_chain_holds(tmp_path):
    plan = make_plan(tmp_path)
    journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)
    ops = Operations(plan, journal, Actor.current("dba1"))
    errors: list[BaseException] = []
    confirmed: list[str] = []
    start = threading.Barrier(5)

    def notes(n: int) -> None:
        start.wait()
        try:
            for i in range(40):
                ops.note(f"bridge update {n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    def confirm_once() -> None:
        start.wait()
        try:
            ops.confirm("S1", gates())
            confirmed.append("S1")
        except Refused:
            pass  # the other thread got there first: exactly one may win
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        start.wait()
        try:
            for _ in range(200):
                ops.state  # noqa: B018 - replays whatever has been appended so far
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=notes, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=confirm_once) for _ in range(2)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert confirmed == ["S1"]  # validation and append are one step: S1 confirmed once
    journal.close()
    result = verify(plan.journal_path)
    assert result.ok and result.count == 81
    with Journal.open(plan.journal_path, cutover_id=plan.cutover.id, readonly=True) as again:
        assert replay(plan, again.entries) == ops.state
