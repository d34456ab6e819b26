"""A lost terminal must end the process even when the UI wedges while shutting down.

Textual can block closing its output to a dead pty; the watchdog armed by `cockpit run`
then writes session.end, closes the journal and exits 129. The wedge is simulated by a forked
child that never returns from its "app"; everything else (journal, writer thread) is real.
"""

from __future__ import annotations

import json
import os
import threading
import time

import cockpit.commands.run as run_mod
from cockpit.journal import verify
from tests.fixtures.pg import pid_alive
from tests.test_tui_support import make_cockpit


def test_watchdog_ends_a_wedged_session(tmp_path):
    journal = tmp_path / "journal.jsonl"
    pid = os.fork()
    if pid == 0:  # child: a cockpit whose UI never finishes closing
        try:
            run_mod.TERMINAL_LOST_GRACE_S = 0.3
            cockpit = make_cockpit(tmp_path, journal=journal, seeded=False)
            cockpit.session("session.start", {})
            ending = run_mod._SessionEnd(cockpit)
            ending.arm_watchdog()  # what the app does on SIGHUP
            threading.Event().wait(30)  # the wedge: the main thread never gets to end()
        finally:
            os._exit(3)  # only reached if the watchdog did not act
    deadline = time.monotonic() + 15
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 129
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["action"] for e in entries].count("session.end") == 1
    assert entries[-1]["action"] == "session.end"
    assert entries[-1]["data"] == {"reason": "terminal lost"}
    assert verify(journal).ok


def test_normal_end_disarms_the_watchdog(tmp_path):
    journal = tmp_path / "journal.jsonl"
    cockpit = make_cockpit(tmp_path, journal=journal, seeded=False)
    ending = run_mod._SessionEnd(cockpit)
    ending.end("quit")
    ending.end("terminal lost")  # a second call (the watchdog) writes nothing more
    assert ending.finished.is_set()
    cockpit.journal.close()
    actions = [json.loads(line)["action"] for line in journal.read_text().splitlines()]
    assert actions.count("session.end") == 1


def test_an_app_that_crashed_is_journalled_as_an_internal_error_not_quit(tmp_path, monkeypatch,
                                                                          capsys):
    # The TUI cannot run without a terminal here; the app's run is replaced by what Textual
    # leaves behind after an unhandled error (return code 1). Journal and session are real.
    from cockpit.commands.demo import demo_plan
    from cockpit.tui.app import CockpitApp

    def crashed(self, *args, **kwargs):
        self._return_code = 1

    monkeypatch.setattr(CockpitApp, "run", crashed)
    monkeypatch.setattr(run_mod, "refusal", lambda *a: None)
    journal = tmp_path / "journal.jsonl"
    code = run_mod.launch("demo", demo_plan(), journal, "demo.lead")
    assert code == 1
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert entries[-1]["action"] == "session.end"
    assert entries[-1]["data"] == {"reason": "internal error"}
    assert "head #" in capsys.readouterr().out
