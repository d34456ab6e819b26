"""A step's commands run from the cockpit (the `r` key): what they get, what is saved and
shown, that the cockpit survives any output, and that no process of theirs outlives the run,
the cockpit quitting or the terminal going away. Real app (Pilot), real journal, real /bin/sh.
"""

from __future__ import annotations

import re
import stat
import time

import pytest
from textual.widgets import Log

from cockpit.runbook.commands import TAIL_LINES
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.info import QuitScreen
from cockpit.tui.screens.runlog import RunScreen
from tests.test_step_commands import group_gone
from tests.test_tui_support import actions, make_cockpit, plan_variant, settle, written

SIZE = (100, 30)
B02_FIRST = '"echo checking snapshot catalogue"'
# A grandchild left in the background, then one 1 MiB line, then more.
SPAWNS = "echo pgid=$$; sleep 300 & head -c 1048576 /dev/zero | tr -c x x; echo; echo after"


async def open_on_b02(tmp_path, command: str):
    """The demo plan with B02's first command replaced; B01 confirmed, B02 selected."""
    plan = plan_variant(tmp_path, {B02_FIRST: f"'{command}'"})
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    return cockpit, app


async def confirm_b01(app, pilot):
    app.refresh_panels()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("y")
    await written(app, pilot)
    assert app.selected == "B02"


async def until(pilot, predicate, what: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def log_lines(app) -> list[str]:
    return list(app.screen.query_one(Log).lines)


def saved_pgid(tmp_path) -> int:
    for path in (tmp_path / "runs").glob("B02-*.log"):
        m = re.search(rb"^pgid=(\d+)$", path.read_bytes(), re.M)
        if m:
            return int(m.group(1))
    raise AssertionError("no pgid in the saved output")


def last_run(cockpit):
    return next(e for e in reversed(cockpit.journal.entries) if e.action == "step.run")


async def test_any_output_leaves_the_cockpit_up_and_no_process_behind(tmp_path):
    cockpit, app = await open_on_b02(tmp_path, SPAWNS)
    async with app.run_test(size=SIZE) as pilot:
        await confirm_b01(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: not app.run_worker_active, "the run to end")
        await written(app, pilot)
        assert app.is_running and isinstance(app.screen, RunScreen)
        lines = log_lines(app)
        long = next(x for x in lines if x.startswith("xxxx"))
        assert len(long) <= 1000 and "after" in lines
        run = last_run(cockpit)
        assert run.data["exit_code"] == 0 and run.data["size"] > 1 << 20
        assert "xxxx" not in run.line().decode()  # the journal has the hash, not the output
    assert await group_gone(saved_pgid(tmp_path)), "the background grandchild outlived the run"


async def test_the_run_log_holds_a_bounded_tail(tmp_path):
    cockpit, app = await open_on_b02(tmp_path, "seq 5000")
    async with app.run_test(size=SIZE) as pilot:
        await confirm_b01(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: not app.run_worker_active, "the run to end")
        await written(app, pilot)
        lines = log_lines(app)
        assert len(lines) <= TAIL_LINES
        assert lines[-1] == "[cockpit] exit 0" and "5000" in lines
        assert "the whole output is saved" in str(app.screen.query_one(Log).border_title)
    out = (tmp_path / "runs").glob("B02-*.log")
    data = next(out).read_bytes()
    assert b"\n1\n2\n" in data and b"\n5000\n" in data  # every line on disk


async def test_commands_get_no_undeclared_environment_and_a_private_output(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("OPERATOR_SHELL_TOKEN", "tok-of-the-operator-shell")
    cockpit, app = await open_on_b02(tmp_path, "env")
    async with app.run_test(size=SIZE) as pilot:
        await confirm_b01(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: not app.run_worker_active, "the run to end")
        await written(app, pilot)
        assert not any("tok-of-the-operator-shell" in x for x in log_lines(app))
    path = next((tmp_path / "runs").glob("B02-*.log"))
    assert b"TERM=dumb" in path.read_bytes()
    assert b"OPERATOR_SHELL_TOKEN" not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) & 0o137 == 0  # 0640 or stricter
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o027 == 0  # 0750 or stricter


async def start_long_command(app, pilot) -> None:
    """B01 confirmed, then ``r`` on B02: until its command has printed its process group."""
    await confirm_b01(app, pilot)
    await pilot.press("r")
    await until(pilot, lambda: any(x.startswith("pgid=") for x in log_lines(app)),
                "the command to start")


async def test_quit_while_a_command_runs_asks_then_kills_it_and_journals_it(tmp_path):
    cockpit, app = await open_on_b02(tmp_path, "echo pgid=$$; sleep 300 & sleep 300")
    async with app.run_test(size=SIZE) as pilot:
        await start_long_command(app, pilot)
        await pilot.press("escape")  # close the log view; the command keeps running
        await pilot.pause()
        assert app.run_worker_active
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.run_worker_active
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: app.return_code is not None, "the app to quit")
    assert await group_gone(saved_pgid(tmp_path))
    assert actions(cockpit)[-2:] == [("step.run", "B02"), ("step.fail", "B02")]
    run, fail = cockpit.journal.entries[-2:]
    assert run.data["exit_code"] is None and run.data["sha256"]
    assert fail.note == "command failed: stopped: the cockpit quit"


async def test_a_lost_terminal_kills_the_command_and_still_journals_it(tmp_path):
    cockpit, app = await open_on_b02(tmp_path, "echo pgid=$$; sleep 300 & sleep 300")
    async with app.run_test(size=SIZE) as pilot:
        await start_long_command(app, pilot)
        app.terminal_lost()
        await until(pilot, lambda: app.return_code is not None, "the app to end")
    assert app.return_code == 129
    assert await group_gone(saved_pgid(tmp_path))
    await cockpit.writes_settled()
    run, fail = cockpit.journal.entries[-2:]
    assert (run.action, run.data["exit_code"]) == ("step.run", None)
    assert fail.note == "command failed: stopped: the terminal was lost"


async def test_the_app_ending_under_a_running_command_kills_it(tmp_path):
    cockpit, app = await open_on_b02(tmp_path, "echo pgid=$$; sleep 300 & sleep 300")
    async with app.run_test(size=SIZE) as pilot:
        await start_long_command(app, pilot)
        app.exit()  # not through the quit key: e.g. an error elsewhere ends the app
    assert await group_gone(saved_pgid(tmp_path))
    await cockpit.writes_settled()
    assert actions(cockpit)[-2:] == [("step.run", "B02"), ("step.fail", "B02")]


SECRET = "tok-crash-5e1f9a77"


async def test_a_crash_prints_one_line_and_no_local_variable(tmp_path, capfd):
    cockpit, app = await open_on_b02(tmp_path, "true")

    async def boom() -> None:
        command_with_secret = f"psql --password {SECRET}"  # a local, as in the real frames
        raise RuntimeError(f"failed after {len(command_with_secret)} bytes")

    with pytest.raises(Exception) as raised:  # noqa: PT011 - run_test re-raises the app's error
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.run_worker(boom())
            await until(pilot, lambda: app.return_code is not None, "the crash to end the app")
    out, err = capfd.readouterr()
    assert SECRET not in out and SECRET not in err
    assert "command_with_secret" not in out + err and "Traceback" not in out + err
    assert app.return_code == 1
    assert "RuntimeError: failed after" in str(raised.value)
    assert "cockpit: internal error, the cockpit stopped: RuntimeError: failed after" in err


async def test_closing_the_log_while_output_streams_keeps_the_run_and_the_cockpit(
        tmp_path, caplog):
    cockpit, app = await open_on_b02(tmp_path, "seq 100000")
    async with app.run_test(size=SIZE) as pilot:
        await confirm_b01(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen)
                    and app.screen.lines_seen > 1000, "output to stream")
        screen = app.screen
        await pilot.press("escape")
        await until(pilot, lambda: not app.run_worker_active, "the run to end")
        await written(app, pilot)
        assert app.is_running and screen not in app.screen_stack
        assert len(screen._pending) <= TAIL_LINES
        assert last_run(cockpit).data["exit_code"] == 0, cockpit.journal.entries[-1].note
    assert "the view stopped taking lines" not in caplog.text


async def test_a_bug_in_the_runner_is_shown_and_journalled_and_the_cockpit_stays(
        tmp_path, monkeypatch):
    from cockpit.runbook import commands

    async def broken_finish(self, exit_code, problem):
        raise RuntimeError("a bug after the commands ran")

    monkeypatch.setattr(commands.StepRun, "_finish", broken_finish)
    cockpit, app = await open_on_b02(tmp_path, "echo pgid=$$; sleep 300 &")
    async with app.run_test(size=SIZE) as pilot:
        await confirm_b01(app, pilot)
        await pilot.press("r")
        await until(pilot, lambda: not app.run_worker_active, "the run to end")
        await cockpit.writes_settled()
        await pilot.pause()
        assert app.is_running
        assert "RuntimeError: a bug after the commands ran" in list(app._notifications)[-1].message
        run, fail = cockpit.journal.entries[-2:]
        assert (run.action, run.data["exit_code"]) == ("step.run", None)
        assert fail.note == "command failed: internal error: RuntimeError"
    assert await group_gone(saved_pgid(tmp_path))
