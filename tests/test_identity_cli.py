"""Identity through the real CLI, in a subprocess, with the real login of the user running the
tests (no second OS user is created: the plan maps this login, or does not, as each test
needs). The identity is refused before the terminal is checked, so these refusals are one line
and exit 2 without a terminal; the read-only cockpit starts on a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

from cockpit.journal.entry import _os_user
from tests.test_cli_robustness import BASE_ENV, COCKPIT, cockpit, refused, write_plan

ME = _os_user()


def people(*entries: tuple[str, list[str]]) -> list[dict]:
    return [{"name": name, "role": "lead", "logins": logins} for name, logins in entries]


def test_operator_for_someone_elses_name_is_refused_before_the_terminal_check(tmp_path):
    plan = write_plan(tmp_path, operators__people=people(("ann", [ME]), ("bea", ["bea"])))
    err = refused(cockpit("run", str(plan), "--operator", "bea"))
    assert err == (f"cockpit run: --operator bea: login {ME} maps to ann (operators.people "
                   "logins); pick one of them")
    err = refused(cockpit("run", str(plan), env={"COCKPIT_OPERATOR": "bea"}))
    assert err.startswith(f"cockpit run: $COCKPIT_OPERATOR bea: login {ME} maps to ann ")
    assert list(tmp_path.iterdir()) == [plan]  # nothing created
    # Its own person passes the identity check and reaches the terminal check.
    assert "needs a terminal" in refused(cockpit("run", str(plan), "--operator", "ann"))


def test_a_login_mapped_to_two_people_needs_operator_through_the_cli(tmp_path):
    plan = write_plan(tmp_path, operators__people=people(("ann", [ME]), ("bea", [ME])))
    err = refused(cockpit("run", str(plan)))
    assert err == (f"cockpit run: login {ME} maps to ann, bea (operators.people logins): say "
                   "which with --operator NAME")
    assert "needs a terminal" in refused(cockpit("run", str(plan), "--operator", "bea"))


def test_rehearse_and_demo_resolve_the_same_way(tmp_path):
    plan = write_plan(tmp_path, operators__people=people(("ann", ["someone.else"])))
    err = refused(cockpit("run", str(plan), "--operator", "ann"))
    assert err == (f"cockpit run: --operator ann: login {ME} maps to nobody in operators.people "
                   "(logins); without it the cockpit opens read-only")
    # The demo's plan names people without logins: today's rule, --operator any listed name.
    assert "operator 'mallory' is not in this plan" in refused(
        cockpit("demo", "--operator", "mallory", env={"XDG_STATE_HOME": str(tmp_path / "s")}))


def test_a_login_mapped_to_nobody_gets_a_read_only_cockpit_told_why_on_stderr(tmp_path):
    plan = write_plan(tmp_path, operators__people=people(("ann", ["someone.else"])))
    out, rc = _run_then_quit([COCKPIT, "run", str(plan)])
    first = out.split(b"\n", 1)[0].decode().rstrip("\r")
    assert first == (f"cockpit run: read-only: login {ME} maps to nobody in operators.people "
                     "(logins)"), out[:300]
    assert rc == 0, out[-500:]
    assert not (tmp_path / "journal.jsonl").exists()  # a read-only cockpit writes nothing
    assert b"Traceback" not in out


def _run_then_quit(argv: list[str], deadline_s: float = 60) -> tuple[bytes, int | None]:
    """Run on a pseudo-terminal (80x24) until the screen is up, press q, return the output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**BASE_ENV, "TERM": "xterm-256color"}
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True)
    os.close(slave)
    out = b""
    quit_sent = False
    deadline = time.monotonic() + deadline_s
    try:
        while p.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
            # Up once the header says it too (the first time is the line on stderr).
            if not quit_sent and out.count(b"maps to nobody") >= 2:
                os.write(master, b"q")
                quit_sent = True
        p.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        try:
            while select.select([master], [], [], 0.1)[0]:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        os.close(master)
    return out, p.returncode
