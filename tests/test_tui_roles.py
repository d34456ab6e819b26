"""Roles and identities in the real app: what this operator may not do is greyed, says why
when pressed, and a press refused for authority is journalled (``access.refused``) once.

The demo plan with ``logins`` added, so identities are checked; the session's login is the
``Actor.os_user`` handed to the session (no second OS user is created: the login another user
would have is injected).
"""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.commands.demo import seed
from cockpit.config import load_plan
from cockpit.identity import resolve
from cockpit.journal import Actor
from cockpit.session import open_cockpit
from cockpit.tui.app import CockpitApp
from cockpit.tui.footer import KeyFooter
from cockpit.tui.panels.header import HeaderBar, header_text
from cockpit.tui.screens.forms import RollbackScreen
from tests.test_tui_support import START, plain, plan_variant, settle, written

LOGINS = {
    '{name: demo.lead, role: lead, contact: "#demo-bridge"}':
        '{name: demo.lead, role: lead, contact: "#demo-bridge", logins: [mokafor]}',
    "{name: demo.analyst, role: analyst}": "{name: demo.analyst, role: analyst, logins: [rhaddad]}",
}


def actor(operator: str, login: str) -> Actor:
    return Actor(operator, login, "testhost", "10.0.0.7", 4242, "session0000")


async def cockpit_as(tmp_path, operator: str, login: str, *, readonly: bool = False):
    plan = plan_variant(tmp_path, LOGINS)
    journal = tmp_path / "journal.jsonl"
    if readonly:  # a journal someone else wrote, watched
        writer = open_cockpit(plan, journal, "demo.lead", clock=ManualClock(start=START),
                              actor=actor("demo.lead", "mokafor"))
        seed(writer)
        writer.close()
    cockpit = open_cockpit(plan, journal, operator, clock=ManualClock(start=START),
                           actor=actor(operator, login), readonly=readonly)
    if not readonly:
        seed(cockpit)
    await settle(cockpit)
    return cockpit, CockpitApp.of(cockpit, start_engine=False)


def refusals(cockpit) -> list:
    return [e for e in cockpit.journal.entries if e.action == "access.refused"]


def footer_keys(app) -> dict[str, bool]:
    rows = KeyFooter.keys(app.screen.query_one(KeyFooter))  # (key, label, can act now)
    return {label: enabled for _key, label, enabled in rows}


async def test_an_analysts_rollback_key_is_greyed_says_why_and_is_journalled_once(tmp_path):
    cockpit, app = await cockpit_as(tmp_path, "demo.analyst", "rhaddad")
    why = "demo.analyst (analyst) may not start the rollback: the role lacks 'rollback'"
    async with app.run_test(size=(120, 35)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert app.possible("rollback") is None and app.main.why_not("rollback") == why
        assert footer_keys(app)["Rollback"] is False
        assert "(b Rollback)" in app.screen.query_one(KeyFooter).render().plain
        assert footer_keys(app)["Triage"] is True  # an analyst triages
        # Redraws ask and never journal.
        for _ in range(5):
            app.refresh_panels()
            await pilot.pause()
        assert refusals(cockpit) == []
        await pilot.press("b")
        await written(app, pilot)
        assert not isinstance(app.screen, RollbackScreen)
        assert list(app._notifications)[-1].message == why
        [refused] = refusals(cockpit)
        assert (refused.subject, refused.data, refused.note) == ("rollback.start", {"target": None}, why)
        assert (refused.actor.operator, refused.actor.os_user) == ("demo.analyst", "rhaddad")
        for _ in range(5):
            app.refresh_panels()
            await pilot.pause()
        await cockpit.clock.advance(5)
        await written(app, pilot)
        assert len(refusals(cockpit)) == 1  # once per press
        await pilot.press("b")
        await written(app, pilot)
        assert len(refusals(cockpit)) == 2
        assert not cockpit.ops.state.rollback_active


async def test_a_step_of_another_owner_is_greyed_and_its_refusal_names_the_step(tmp_path):
    cockpit, app = await cockpit_as(tmp_path, "demo.analyst", "rhaddad")
    async with app.run_test(size=(120, 35)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert app.main.selected == "B01"
        why = "demo.analyst (analyst) may not work B01: it is owned by lead"
        assert app.main.why_not("confirm") == why and footer_keys(app)["Confirm"] is False
        header = plain(app.query_one(HeaderBar))
        assert "you: demo.analyst (analyst) · identities checked" in header
        await pilot.press("enter")
        await written(app, pilot)
        [refused] = refusals(cockpit)
        assert (refused.subject, refused.data, refused.note) == ("step.confirm", {"target": "B01"}, why)
        # The next phase's first step (D01) is the app role's: skipping it is refused for
        # authority too, and said before "the phase is not open yet".
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.main.selected == "D01"
        await pilot.press("s")
        await written(app, pilot)
        assert [(e.subject, e.data) for e in refusals(cockpit)][-1] == ("step.skip", {"target": "D01"})
        assert len(refusals(cockpit)) == 2


async def test_not_possible_now_is_said_but_never_journalled(tmp_path):
    cockpit, app = await cockpit_as(tmp_path, "demo.lead", "mokafor")
    async with app.run_test(size=(120, 35)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert app.main.why_not("override") == "no gate blocks B01"
        await pilot.press("o")
        await written(app, pilot)
        assert list(app._notifications)[-1].message == "no gate blocks B01"
        await pilot.press("right_square_bracket")
        await pilot.pause()
        await pilot.press("enter")  # D01: the lead may work it, but its phase is not open
        await written(app, pilot)
        assert "not open yet" in list(app._notifications)[-1].message
        assert refusals(cockpit) == []
        assert "you: demo.lead (lead) · identities checked" in plain(app.query_one(HeaderBar))


async def test_a_login_mapped_to_nobody_gets_a_read_only_cockpit_that_says_why(tmp_path):
    cockpit, app = await cockpit_as(tmp_path, "bob", "bob", readonly=True)
    before = cockpit.journal.path.read_bytes()
    who = resolve(cockpit.plan, None, "bob", {})
    assert not who.may_write and who.operator == "bob"
    why = "login bob maps to nobody in operators.people (logins)"
    assert who.why == why
    async with app.run_test(size=(80, 24)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        line2 = plain(app.query_one(HeaderBar)).splitlines()[1]
        assert line2.startswith(f"read-only: {why}")
        assert len(f"read-only: {why}") <= 80  # whole at 80 columns
        assert not any(footer_keys(app)[k] for k in ("Confirm", "Rollback", "Note", "Triage"))
        await pilot.press("b")
        await written(app, pilot)
        assert list(app._notifications)[-1].message == f"this cockpit is read-only: {why}"
        assert cockpit.ops.authority("rollback.start") == why  # Operations refuses it too
    assert cockpit.journal.path.read_bytes() == before  # a read-only cockpit writes nothing


def test_the_header_says_which_identity_rule_holds_within_80_columns(tmp_path):
    checked = plan_variant(tmp_path, LOGINS)
    from cockpit.commands.demo import DEMO_PLAN

    names, _ = load_plan(DEMO_PLAN)
    text = DEMO_PLAN.read_text()
    start, end = text.index("  people:"), text.index("sources:")
    (tmp_path / "open.yaml").write_text(text[:start] + text[end:])
    open_plan, _ = load_plan(tmp_path / "open.yaml")
    cockpit = open_cockpit(names, tmp_path / "j.jsonl", "demo.lead", clock=ManualClock(start=START),
                           actor=actor("demo.lead", "x"))
    state = cockpit.ops.state
    try:
        cases = [
            (checked, "demo.lead", "mokafor", "you: demo.lead (lead) · identities checked"),
            (names, "demo.lead", "x", "you: demo.lead (lead) · names not tied to logins"),
            (open_plan, "whoever", "whoever", "you: whoever · anyone may act (no operators.people)"),
        ]
        for plan, operator, login, words in cases:
            me = resolve(plan, operator, login, {})
            wide = header_text(plan, state, me.operator, START, width=160,
                               identity=me).plain.splitlines()[1]
            assert wide.endswith(words), wide
            narrow = header_text(plan, state, me.operator, START, width=80,
                                 identity=me).plain.splitlines()[1]
            assert len(narrow) <= 80, narrow  # the longest wording that fits, never cut
            assert f"you: {operator}" in narrow
    finally:
        cockpit.close()
