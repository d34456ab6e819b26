"""Issue 10, "the screen answers in ten seconds": the verdict line, the labelled header, gate
reasons that are never cut mid-word, NO-GO the loudest state under NO_COLOR, the runbook's
spare rows, and the layouts by size. Pure functions first, then the app at 80x24."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.config.plan import Window
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.gates import GatesPanel, reason_of, shorten
from cockpit.tui.panels.header import HeaderBar, header_text
from cockpit.tui.panels.runbook import RunbookPanel
from cockpit.tui.panels.verdict import VerdictBar, blocked_steps, verdict, verdict_text
from tests.test_tui_support import START, make_cockpit, plain, settle

NOGO = {"replication_lag_s": 9.5, "interface_backlog": 3}


def blocked_at_b04(cockpit):
    """B01-B03 confirmed: the next step is the B04 decision, which needs two gates."""
    for sid in ("B01", "B02", "B03"):
        cockpit.ops.confirm(sid, cockpit.engine.gates, typed=sid)


# -- the verdict: a pure function of plan, state and gates --------------------------------

async def test_verdict_next_step_without_gates_may_proceed_although_a_gate_is_no_go(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, NOGO)
    v = verdict(cockpit.plan, cockpit.ops.state, cockpit.engine.gates, cockpit.ops.blocking_gates)
    assert (v.kind, v.step, v.owner, v.blocked_by) == ("proceed", "B01", "lead", ())
    line = verdict_text(v, 78).plain
    assert line == "NEXT B01 Announce downtime window to clinical… (lead demo.lead) · may proceed"
    assert v.people == ("demo.lead",)  # the role, and the one person the plan gives it


async def test_verdict_names_the_gates_that_block_the_next_step(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, NOGO)
    blocked_at_b04(cockpit)
    gates = cockpit.engine.gates
    v = verdict(cockpit.plan, cockpit.ops.state, gates, cockpit.ops.blocking_gates)
    assert (v.kind, v.step, v.blocked_by, v.decision) == (
        "blocked", "B04", ("replication_caught_up",), True)
    line = verdict_text(v, 100).plain
    assert line == ("NEXT B04 GO / NO-GO for the write freeze (lead demo.lead)"
                    " · BLOCKED by replication_caught_up")
    line = verdict_text(v, 78).plain  # 80x24: the title gives way, at a word
    assert line == "NEXT B04 GO / NO-GO for… (lead demo.lead) · BLOCKED by replication_caught_up"
    # An override for that step is the core's rule too: then it may be decided.
    cockpit.ops.override("replication_caught_up", "B04", "KNOWN_ISSUE", "lag is a probe bug",
                         gates)
    v = verdict(cockpit.plan, cockpit.ops.state, gates, cockpit.ops.blocking_gates)
    assert v.kind == "proceed" and verdict_text(v, 78).plain.endswith("· may decide")


async def test_verdict_keeps_what_blocks_visible_and_cuts_the_title_at_a_word(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, {**NOGO, "rollback_snapshot_age_s": 99999.0})
    gates = cockpit.engine.gates
    cockpit.ops.confirm("B01", gates)
    v = verdict(cockpit.plan, cockpit.ops.state, gates, cockpit.ops.blocking_gates)
    assert v.step == "B02" and v.blocked_by == ("rollback_ready",)
    for width in (40, 50, 60, 78):
        line = verdict_text(v, width).plain
        assert len(line) <= width and line.endswith("BLOCKED by rollback_ready"), line
        assert line.startswith("NEXT B02 ")
        if " (dba demo.dba)" in line:  # a title with room for at least a word
            title = line.split("NEXT B02 ", 1)[1].split(" (dba demo.dba)")[0]
            assert "Verify legacy rollback snapshot".startswith(title.rstrip("…").rstrip())
            assert title.endswith("…") or title == "Verify legacy rollback snapshot"


async def test_verdict_in_a_rollback_says_who_when_and_why(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    cockpit.ops.start_rollback("CLINICAL_SAFETY", "lab results missing on ward 4B")
    state = cockpit.ops.state
    v = verdict(cockpit.plan, state, cockpit.engine.gates, cockpit.ops.blocking_gates)
    at = datetime.fromtimestamp(state.rollback_at, tz=UTC).strftime("%H:%MZ")
    line = verdict_text(v, 78).plain
    assert line.startswith(f"ROLLBACK since {at} by demo.lead (CLINICAL_SAFETY) · NEXT R01")
    assert line.endswith("· may proceed")


async def test_verdict_complete(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)

    class Done:
        next_step = None
        rollback_active = False

    v = verdict(cockpit.plan, Done(), {}, cockpit.ops.blocking_gates)
    assert v.kind == "complete" and verdict_text(v).plain.startswith("COMPLETE")


async def test_blocked_steps_lists_every_unfinished_step_each_gate_holds_up(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, NOGO)
    held = blocked_steps(cockpit.plan, cockpit.ops.state, cockpit.engine.gates,
                         cockpit.ops.blocking_gates)
    assert held == [("replication_caught_up", ["B04", "D03"]), ("interfaces_drained", ["D02"])]


# -- the header: every figure says what it counts toward ------------------------------------

def _tonight(plan, opens_in_s: float):
    start = datetime.fromtimestamp(START + opens_in_s, tz=UTC)
    window = Window(start=start, end=start + timedelta(hours=6))
    return plan.model_copy(update={"cutover": plan.cutover.model_copy(update={"window": window})})


async def test_header_labels_the_clocks_the_last_action_and_the_journal_head(tmp_path):
    cockpit = make_cockpit(tmp_path)
    plan = _tonight(cockpit.plan, 14 * 60)
    state = cockpit.ops.state
    first, second = header_text(plan, state, "demo.lead", START, width=80).plain.splitlines()
    assert first.startswith(" Before cutover  08:00Z  window opens in 14m (08:14Z), closes 14:14Z")
    seq, digest = state.head
    assert second == f"last: no step recorded yet  journal: {seq} entries, head {digest[:8]}  you: demo.lead"

    cockpit.ops.confirm("B01", {})
    await cockpit.clock.advance(120)
    now = cockpit.clock.now()
    state = cockpit.ops.state
    text = header_text(plan, state, "demo.lead", now, journal_path="/srv/j.jsonl", width=160).plain
    assert "last: B01 confirmed by demo.lead 2m ago" in text
    assert f"journal: {state.head[0]} entries, head {state.head[1][:8]}" in text
    assert "journal file /srv/j.jsonl" in text
    # T+ once the clock started; the window's end with its time
    started = cockpit.plan.model_copy()
    assert "closes in 5h" in header_text(_tonight(started, -60), state, "x", now).plain


async def test_the_journal_file_is_named_whole_or_not_at_all(tmp_path):
    cockpit = make_cockpit(tmp_path)
    long = "/" + "deep/" * 30 + "journal.jsonl"
    text = header_text(cockpit.plan, cockpit.ops.state, "demo.lead", START,
                       journal_path=long, width=80).plain
    assert "journal file" not in text


# -- gate reasons: shortened by rule -------------------------------------------------------

@pytest.mark.parametrize(("text", "width", "shown"), [
    ("replication_lag_s 9.5s, needs < 5s", 40, "replication_lag_s 9.5s, needs < 5s"),
    ("replication_lag_s 9.5s, needs < 5s", 20, "9.5s, needs < 5s"),
    ("a 1, needs < 5; bb 2, needs < 25", 20, "a 1, needs < 5 …"),
    ("interface backlog is far too long here", 20, "interface backlog…"),
])
def test_shorten_keeps_whole_conditions_then_whole_words(text, width, shown):
    assert shorten(text, width) == shown and len(shown) <= width


def _assert_not_cut_mid_word(shown: str, full: str) -> None:
    if shown == full:
        return
    assert shown.endswith("…"), (shown, full)
    body = shown[:-1].rstrip()
    assert body, shown
    # a prefix of the reason (or of its form without the signal name) that ends a word
    for candidate in (full, full.partition(" ")[2]):
        if candidate.startswith(body):
            rest = candidate[len(body):]
            assert rest == "" or not rest[0].isalnum(), (shown, full)
            return
    raise AssertionError(f"{shown!r} is not a shortening of {full!r}")


@pytest.mark.parametrize("size", [(80, 24), (120, 35), (160, 48)])
async def test_no_gate_reason_is_cut_mid_word(tmp_path, size):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=size) as pilot:
        await settle(cockpit, {**NOGO, "chart_open_ms": {"error": "connection refused"}})
        app.refresh_panels()
        await pilot.pause()
        statuses = app.gate_statuses()
        rows = plain(app.query_one(GatesPanel)).splitlines()[:len(cockpit.plan.gates)]
        width = app.query_one(GatesPanel).content_size.width
        for gid, row in zip(cockpit.plan.gates, rows, strict=True):
            assert len(row) <= width
            shown = row.split(gid, 1)[1].strip()
            _assert_not_cut_mid_word(shown, reason_of(statuses[gid]))
        # the rule and the human units are on screen
        assert "replication_lag_s 9.5s, needs < 5s" in rows[0]
        assert "needs < 6h" in rows[-1]
        assert not re.search(r"\d\.\d{4}", "\n".join(rows))  # no 0.9941 or 5400.31


async def test_a_hold_says_when_it_turns_go(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, {"interface_backlog": 3})
    cockpit.engine.sources["sim"].set_override("interface_backlog", value=0)
    for _ in range(6):  # 12 s of the 20 s window (after the 10 s settle)
        await cockpit.engine.poll_once()
        await cockpit.writes_settled()
        await cockpit.clock.advance(2)
    await cockpit.engine.poll_once()
    status = cockpit.engine.gates["interfaces_drained"]
    assert status.label().startswith("HOLD")
    reason = reason_of(status)
    assert re.match(r"GO in \d+s if it holds; interface_backlog 0, needs = 0", reason), reason


# -- NO_COLOR: NO-GO is the loudest thing on screen ------------------------------------------

async def test_no_go_is_bold_reverse_under_no_color(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(cockpit, NOGO)
        app.refresh_panels()
        await pilot.pause()
        styles = {}
        for strip in app.screen._compositor.render_strips():
            for seg in strip:
                for word in ("NO-GO", "✔ GO"):
                    if word in seg.text and word not in styles and seg.style is not None:
                        styles[word] = seg.style
        nogo, go = styles["NO-GO"], styles["✔ GO"]
        assert nogo.bold and nogo.reverse and not nogo.dim
        assert not (go.bold or go.reverse)


# -- the runbook's spare rows, the layouts ----------------------------------------------------

async def test_runbook_spare_rows_list_the_gates_holding_steps_up(tmp_path):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(cockpit, NOGO)
        app.refresh_panels()
        await pilot.pause()
        text = plain(app.query_one(RunbookPanel))
        assert "not GO, holding up:" in text
        assert "✖ NO-GO replication_caught_up → B04 D03" in text
        assert "✖ NO-GO interfaces_drained → D02" in text
        verdict_line = plain(app.query_one(VerdictBar))
        assert verdict_line.startswith("NEXT B01") and "may proceed" in verdict_line
        header = plain(app.query_one(HeaderBar))
        assert "journal:" in header and "entries, head" in header


@pytest.mark.parametrize(("size", "layout"), [((80, 24), "compact"), ((119, 40), "compact"),
                                              ((120, 35), "default"), ((159, 48), "default"),
                                              ((160, 44), "default"), ((160, 48), "wide")])
async def test_layout_by_size_shows_what_fits(tmp_path, size, layout):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=size) as pilot:
        await settle(cockpit)
        app.refresh_panels()
        await pilot.pause()
        assert app.layout_name == layout
        if layout != "compact":
            clinical = plain(app.query_one("#clinical"))
            for sig in cockpit.plan.signals.values():
                if sig.panel == "clinical":  # every clinical signal, whole lines
                    assert sig.title in clinical
            assert app.query_one("#clinical").region.height >= 6


async def test_in_a_rollback_the_runbook_lists_what_was_left_undone(tmp_path):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(cockpit)
        gates = cockpit.engine.gates
        cockpit.ops.skip("B01", "NOT_APPLICABLE", "units told by phone", gates)
        cockpit.ops.confirm("B02", gates)
        cockpit.ops.start_rollback("CLINICAL_SAFETY", "lab results missing on ward 4B")
        app.selected = cockpit.ops.state.next_step
        app.refresh_panels()
        await pilot.pause()
        text = plain(app.query_one(RunbookPanel))
        assert "before the rollback:" in text
        assert "  skipped: B01\n" in text
        assert "  not done: B03 B04 D01" in text and "B02" not in text.split("not done:")[1]


async def test_at_120x35_key_4_shows_the_audit_journal_and_its_file(tmp_path):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(cockpit)
        app.refresh_panels()
        await pilot.pause()
        audit = app.query_one("#pane-audit")
        assert app.layout_name == "default" and not audit.display
        assert app.query_one("#pane-recon").display
        await pilot.press("4")
        await pilot.pause()
        assert audit.display and not app.query_one("#pane-recon").display
        assert audit.region.width >= 110  # across the row
        assert str(cockpit.journal.path) in str(audit.border_subtitle)
        await pilot.press("4")
        await pilot.pause()
        assert not audit.display and app.query_one("#pane-recon").display


async def test_the_selected_steps_needs_line_says_when_a_hold_turns_go(tmp_path):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(cockpit, {"interface_backlog": 3})
        cockpit.engine.sources["sim"].set_override("interface_backlog", value=0)
        for _ in range(6):  # 12 s of interfaces_drained's 20 s window (after the settle)
            await cockpit.engine.poll_once()
            await cockpit.writes_settled()
            await cockpit.clock.advance(2)
        await cockpit.engine.poll_once()
        app.selected = "D02"  # requires interfaces_drained
        app.refresh_panels()
        await pilot.pause()
        text = plain(app.query_one(RunbookPanel))
        assert re.search(r"D02 needs: ◐ HOLD interfaces_drained \(GO in \d+s if it holds\)",
                         text), text


def test_a_hold_with_under_a_second_left_says_so():
    from cockpit.gates import GateState, GateStatus

    status = GateStatus("g", GateState.HOLD, "holding 9.999s of 10s: x 0, needs = 0", 0.0,
                        hold_for_s=10.0, held_s=9.999)
    assert reason_of(status) == "GO in under 1s if it holds; x 0, needs = 0"
