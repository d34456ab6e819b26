"""The step-command runner (cockpit.runbook.commands) with real /bin/sh commands: what they
are given, what is saved and shown, and that no process of theirs outlives them.

Nothing waits on time: a command that must be "still running" blocks on a FIFO or a sleep
far longer than any test, and the test waits on events (a line shown, a file present) or on
a poll loop bounded by a generous deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import resource
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from cockpit.runbook import commands as cmd
from cockpit.runbook.commands import StepRun, command_env
from cockpit.runbook.output import OutputFile

SECRET = "s3cr3t-Token-4f1e"
MIB = 1 << 20


def redact(text: str) -> str:
    return text.replace(SECRET, "***")


def step_run(tmp_path: Path, commands, **kw) -> StepRun:
    kw.setdefault("timeout_s", 120.0)
    kw.setdefault("redact", redact)
    return StepRun(commands, cwd=tmp_path, runs_dir=tmp_path / "runs", name="S1-1.log", **kw)


async def group_gone(pgid: int, deadline_s: float = 30.0) -> bool:
    """Until no process of the group exists (zombies included), or the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.01)
    return False


async def shown(run: StepRun, predicate, what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not predicate(list(run.tail)):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}: {list(run.tail)[-5:]}")
        await asyncio.sleep(0.01)


def pgid_of(run: StepRun) -> int:
    line = next(x for x in run.tail if x.startswith("pgid="))
    return int(line.split("=")[1])


def saved(result) -> bytes:
    data = result.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == result.sha256 and len(data) == result.size
    return data


# -- environment --------------------------------------------------------------------------
async def test_a_command_sees_only_the_base_and_what_the_step_declares(tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_TEST_OPERATOR_SECRET", "operator-shell-credential")
    monkeypatch.setenv("PGPASSWORD", "pg-secret-of-the-shell")
    monkeypatch.setenv("DECLARED_FOR_STEP", "given-on-purpose")
    run = step_run(tmp_path, ["env"], env_names=["DECLARED_FOR_STEP"])
    result = await run.run()
    assert result.ok, result.problem
    text = saved(result).decode()
    names = {line.split("=", 1)[0] for line in text.splitlines()
             if "=" in line and not line.startswith(("$ ", "[cockpit]"))}
    base = {k for k in cmd.BASE_ENV if k in os.environ} | {"PATH", "TERM"}
    shell_own = {"PWD", "OLDPWD", "SHLVL", "_"}  # what /bin/sh itself sets
    assert "DECLARED_FOR_STEP=given-on-purpose" in text
    assert names - shell_own <= base | {"DECLARED_FOR_STEP"}, names - shell_own - base
    assert "operator-shell-credential" not in text and "pg-secret-of-the-shell" not in text
    assert "TERM=dumb" in text


async def test_a_declared_variable_that_is_not_set_stops_the_run_before_any_command(tmp_path):
    marker = tmp_path / "ran"
    run = step_run(tmp_path, [f"touch {marker}"], env_names=["NOT_SET_ANYWHERE"],
                   environ={"PATH": os.defpath})
    result = await run.run()
    assert not marker.exists()
    assert result.exit_code is None
    assert "NOT_SET_ANYWHERE" in result.problem and result.problem.startswith("cannot start")
    assert b"NOT_SET_ANYWHERE" in saved(result)


def test_command_env_is_exactly_base_plus_declared():
    environ = {"PATH": "/p", "HOME": "/h", "LANG": "C.UTF-8", "TERM": "xterm-256color",
               "AWS_SECRET_ACCESS_KEY": "k", "PGPASSWORD_TARGET": "pw", "SSH_AUTH_SOCK": "/s"}
    assert command_env(["PGPASSWORD_TARGET"], environ) == {
        "PATH": "/p", "HOME": "/h", "LANG": "C.UTF-8", "TERM": "dumb",
        "PGPASSWORD_TARGET": "pw"}
    assert command_env([], {})["PATH"] == os.defpath


# -- output: saved, shown, redacted -----------------------------------------------------------
async def test_output_is_saved_whole_redacted_and_private(tmp_path):
    script = (f"echo using {SECRET}; printf 'no newline at the end {SECRET[:6]}'; "
              f"printf '%s\\n' '{SECRET[6:]}'; printf '\\377\\376 bytes \\000 NUL\\n'")
    run = step_run(tmp_path, [script])
    result = await run.run()
    assert result.ok, result.problem
    data = saved(result)
    assert SECRET.encode() not in data
    assert b"using ***\n" in data
    assert b"no newline at the end ***\n" in data  # one line, written in two pieces
    assert b"\xff\xfe bytes \x00 NUL\n" in data  # not UTF-8: kept as it came
    assert data.startswith(b"$ echo using ***;")  # the command line, redacted too
    assert data.endswith(b"[cockpit] exit 0\n")
    assert stat.S_IMODE(result.path.stat().st_mode) & 0o137 == 0  # 0640 or stricter
    assert stat.S_IMODE(result.path.parent.stat().st_mode) & 0o027 == 0  # 0750 or stricter
    lines = list(run.tail)
    assert "using ***" in lines and "\ufffd\ufffd bytes  NUL" in lines
    assert not any(SECRET in line for line in lines)


async def test_a_loose_runs_folder_is_tightened_and_an_old_file_never_overwritten(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o755)
    runs.chmod(0o777)
    (runs / "S1-1.log").write_text("older evidence")
    os.symlink(tmp_path / "elsewhere", runs / "S1-1-1.log")  # a planted link at the next name
    result = await step_run(tmp_path, ["echo fresh"]).run()
    assert stat.S_IMODE(runs.stat().st_mode) == 0o750
    assert (runs / "S1-1.log").read_text() == "older evidence"
    assert not (tmp_path / "elsewhere").exists()
    assert result.path == runs / "S1-1-2.log" and b"fresh\n" in saved(result)


async def test_output_that_cannot_be_saved_runs_nothing_and_says_so(tmp_path):
    (tmp_path / "runs").write_text("a file where the folder should be")
    marker = tmp_path / "ran"
    result = await step_run(tmp_path, [f"touch {marker}"]).run()
    assert not marker.exists()
    assert result.problem.startswith("cannot save the output") and result.path is None


async def test_output_that_stops_being_saved_mid_run_kills_the_command(tmp_path):
    # A real kernel refusal: the process may write files of at most 2 MiB (EFBIG past it;
    # Python ignores SIGXFSZ). The command's own writes go to a pipe and are not limited.
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * MIB, hard))
    try:
        run = step_run(tmp_path, ["sleep 300 & seq 1000000; sleep 300"])
        task = asyncio.ensure_future(run.run())
        while run.pgid is None and not task.done():
            await asyncio.sleep(0.001)
        pgid = run.pgid
        result = await task
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert result.exit_code is None
    assert result.problem.startswith("output error: cannot write"), result.problem
    assert "File too large" in result.problem
    assert result.path is None and result.sha256 is None  # an incomplete file is no evidence
    assert pgid is not None and await group_gone(pgid)


async def test_a_failing_command_ends_the_run_with_its_exit_code(tmp_path):
    marker = tmp_path / "second"
    result = await step_run(tmp_path, ["echo first; exit 3", f"touch {marker}"]).run()
    assert (result.exit_code, result.problem) == (3, "exit 3")
    assert not marker.exists()
    assert saved(result).endswith(b"[cockpit] exit 3\n")


async def test_a_command_that_cannot_start_fails_the_run(tmp_path):
    run = StepRun(["echo hi"], cwd=tmp_path / "no-such-folder", redact=redact,
                  runs_dir=tmp_path / "runs", name="S1.log", timeout_s=30)
    result = await run.run()
    assert result.exit_code is None and result.problem.startswith("cannot start")


# -- the kill rule ------------------------------------------------------------------------------
# A real shell that puts a grandchild in the background and prints one 1 MiB line.
SPAWNS = ("echo pgid=$$; sleep 300 & "
          "head -c 1048576 /dev/zero | tr '\\000' x; echo; echo after-the-long-line")


async def test_a_long_line_and_a_background_grandchild_neither_crash_nor_survive(tmp_path):
    run = step_run(tmp_path, [SPAWNS])
    result = await run.run()
    assert result.ok, result.problem
    pgid = pgid_of(run)
    assert await group_gone(pgid), "a process of the command's group is still alive"
    data = saved(result)
    assert b"x" * MIB + b"\nafter-the-long-line\n" in data
    assert b"[cockpit] the command left processes running: killed" in data
    long_shown = next(x for x in run.tail if x.startswith("xxx"))
    assert len(long_shown) <= cmd.LINE_CHARS and long_shown.endswith("…")


async def test_timeout_kills_the_whole_group(tmp_path):
    run = step_run(tmp_path, [SPAWNS + "; sleep 300"], timeout_s=2.0)
    result = await run.run()
    assert result.exit_code is None and result.problem == "timed out after 2s"
    assert await group_gone(pgid_of(run))
    assert saved(result).endswith(b"[cockpit] timed out after 2s\n")


async def test_stop_kills_the_whole_group_and_ends_the_run_failed(tmp_path):
    run = step_run(tmp_path, [SPAWNS + "; sleep 300"])
    task = asyncio.ensure_future(run.run())
    await shown(run, lambda lines: "after-the-long-line" in lines, "the output")
    pgid = pgid_of(run)
    run.stop("the cockpit quit")
    result = await task
    assert result.exit_code is None and result.problem == "stopped: the cockpit quit"
    assert await group_gone(pgid)


async def test_a_run_stopped_or_past_its_deadline_starts_no_further_command(tmp_path):
    marker = tmp_path / "ran"
    run = step_run(tmp_path, [f"touch {marker}"])
    run.stop("the cockpit quit")
    result = await run.run()
    assert result.problem == "stopped: the cockpit quit" and not marker.exists()
    run = step_run(tmp_path, ["true", f"touch {marker}"], timeout_s=0.0)
    result = await run.run()
    assert result.problem == "timed out after 0s" and not marker.exists()


async def test_cancelling_the_run_kills_the_group_and_still_closes_the_output(tmp_path):
    run = step_run(tmp_path, [SPAWNS + "; sleep 300"])
    task = asyncio.ensure_future(run.run())
    await shown(run, lambda lines: "after-the-long-line" in lines, "the output")
    pgid = pgid_of(run)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await group_gone(pgid)
    result = await asyncio.to_thread(run.abandoned)
    assert result.problem == "cancelled" and result.exit_code is None
    assert saved(result).endswith(b"[cockpit] cancelled: process group killed\n")


async def test_kill_all_kills_every_running_group_synchronously(tmp_path):
    run = step_run(tmp_path, ["echo pgid=$$; sleep 300 & sleep 300"])
    task = asyncio.ensure_future(run.run())
    await shown(run, lambda lines: any(x.startswith("pgid=") for x in lines), "the pgid")
    pgid = pgid_of(run)
    cmd.kill_all()  # what interpreter exit and a lost terminal do
    result = await task
    assert result.exit_code is None and result.problem == "killed by SIGKILL"
    assert await group_gone(pgid)


async def test_a_process_that_escapes_the_group_and_holds_the_pipe_does_not_hang_the_run(
        tmp_path):
    # setsid puts the sleeper in a session of its own: the group kill cannot reach it, and it
    # keeps the output pipe open. The run still ends (failed, saying why); the test kills it.
    pidfile = tmp_path / "escaped.pid"
    run = step_run(tmp_path, [f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & "
                              f"while [ ! -s {pidfile} ]; do :; done; echo started"])
    try:
        result = await run.run()
        assert result.exit_code is None
        assert "holds its output open" in result.problem
    finally:
        if pidfile.exists():
            pid = int(pidfile.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            with contextlib.suppress(ChildProcessError):  # adopted while we were subreaper
                os.waitpid(pid, 0)


# -- memory: bounded whatever the output -------------------------------------------------------
async def test_memory_held_is_bounded_by_the_tail_whatever_the_output(tmp_path):
    peaks = {"lines": 0, "chars": 0, "bytes": 0}
    run: StepRun

    def watch(_line: str) -> None:
        lines, chars, held = run.held()
        peaks["lines"] = max(peaks["lines"], lines)
        peaks["chars"] = max(peaks["chars"], chars)
        peaks["bytes"] = max(peaks["bytes"], held)

    # 100,000 short lines, then 4 lines of 3 MiB each: ~13 MB through the runner.
    script = ("seq 100000; i=0; while [ $i -lt 4 ]; do "
              "head -c 3145728 /dev/zero | tr '\\000' y; echo; i=$((i+1)); done")
    run = step_run(tmp_path, [script], tail_lines=500, line_chars=200, on_line=watch)
    tracemalloc.start()
    try:
        result = await run.run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok, result.problem
    assert result.size > 12 * MIB
    assert run.lines_seen > 100000 and run.lines_shown < run.lines_seen
    assert peaks["lines"] <= 500 and peaks["chars"] <= 500 * 200
    # What waits for the end of its line is one held piece (1 MiB) and the pipe's read-ahead.
    assert peaks["bytes"] <= cmd.HOLD_BYTES + cmd.PIPE_HIGH + 2 * 256 * 1024
    assert peak < 24 * MIB, f"peak traced memory {peak / MIB:.1f} MiB"


def test_the_saved_output_stops_at_its_limit_with_a_note(tmp_path):
    f = OutputFile(tmp_path / "runs", "big.log", limit=1000)
    for _ in range(30):
        f.write(b"z" * 99 + b"\n")
    f.close()
    data = f.path.read_bytes()
    assert data.startswith(b"z" * 99 + b"\n") and b"z" * 100 not in data
    assert data.endswith(b"[cockpit] the output passed 1000 bytes: the rest was not saved\n")
    assert hashlib.sha256(data).hexdigest() == f.sha256 and f.truncated == 3000 - 1000
