"""A set-aside journal line is loud everywhere until an operator acknowledges it.

Deleting a journal's final newline sets its last entry aside on the next writer's open
(the newline is the commit mark). Before: only `cockpit status` said so, once; `run`,
`gates --watch` and `reconcile` said nothing and `verify` said OK. Now the cockpit header and
every verb that reads the journal say so until the acknowledgement is journalled.
"""

from __future__ import annotations

from cockpit.cli import main as cli
from cockpit.journal import QUARANTINE_ACK, Actor, Journal
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.screens.forms import QuarantineScreen
from tests.test_gates_semantics import write_plan
from tests.test_runbook_rules import make_plan
from tests.test_tui_actions import refreshed, start
from tests.test_tui_support import ACTOR, plain, written


def _cut_final_newline(path) -> None:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    path.write_bytes(data[:-1])


async def test_the_header_says_so_until_the_operator_acknowledges(tmp_path):
    journal = tmp_path / "journal.jsonl"
    with Journal.open(journal, cutover_id="demo-cutover") as j:
        j.append("note", actor=ACTOR, note="bridge open")
        j.append("note", actor=ACTOR, note="last acknowledged entry")
    _cut_final_newline(journal)
    cockpit, app = await start(tmp_path, journal=journal)
    assert cockpit.journal.quarantined is not None
    async with app.run_test(size=(80, 24)) as pilot:
        await refreshed(app, pilot)
        assert "1 SET-ASIDE LINE" in plain(app.query_one(HeaderBar))
        app.main.action_ack_quarantine()
        await pilot.pause()
        assert isinstance(app.screen, QuarantineScreen)
        assert "note" in plain(app.screen.query_one("#explain"))
        await pilot.press(*"redid the bridge note", "enter")
        await written(app, pilot)
        ack = cockpit.journal.entries[-1]
        assert ack.action == QUARANTINE_ACK and ack.note == "redid the bridge note"
        assert ack.subject == cockpit.journal.quarantined.name
        app._tick()
        await pilot.pause()
        assert "SET-ASIDE" not in plain(app.query_one(HeaderBar))
        assert app.possible("ack_quarantine") is None


def test_every_verb_that_reads_the_journal_warns(tmp_path, capsys):
    path = write_plan(tmp_path, {"ok": {"every": "10s", "simulate": {"base": 1}}},
                      {"g": {"expr": "ok < 5"}})
    plan = make_plan(tmp_path, path.read_text(), name="plan.yaml")
    with Journal.open(plan.journal_path, cutover_id=plan.cutover.id) as j:
        j.append("note", actor=Actor.current("t.lead"), note="set aside soon")
    _cut_final_newline(plan.journal_path)
    Journal.open(plan.journal_path, cutover_id=plan.cutover.id).close()  # sets the line aside

    for argv in (["status", str(path)], ["gates", str(path)],
                 ["journal", "show", str(plan.journal_path)],
                 ["journal", "verify", str(plan.journal_path)]):
        cli(argv)
        out = capsys.readouterr()
        assert "not acknowledged" in out.err + out.out, argv
        assert "note" in out.err + out.out

    with Journal.open(plan.journal_path, cutover_id=plan.cutover.id) as j:
        for q in j.unacknowledged_quarantines():
            j.acknowledge_quarantine(q, actor=Actor.current("t.lead"), note="seen")
    for argv in (["status", str(path)], ["gates", str(path)]):
        cli(argv)
        assert "not acknowledged" not in capsys.readouterr().err, argv
    assert cli(["journal", "verify", str(plan.journal_path)]) == 0
