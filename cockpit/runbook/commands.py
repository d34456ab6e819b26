"""Running a step's commands and saving their output.

Each command is a shell line the plan author wrote: ``/bin/sh -c LINE`` in the plan's folder,
stdin from /dev/null, stdout and stderr together into one pipe, in a session (and so a
process group) of its own. Rules, all in this module:

- Environment: only ``BASE_ENV`` (PATH, HOME, USER, LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ,
  TMPDIR, when the cockpit has them; TERM is always ``dumb``: output goes to a file, not a
  terminal) plus exactly the variables the runbook and the step declare in ``env``. A declared
  variable that is not set stops the run before any command starts.
- Output: read in chunks (never ``readline``: no line length can raise), split and redacted by
  :class:`cockpit.runbook.output.Transcript`, saved whole by
  :class:`cockpit.runbook.output.OutputFile` on a thread of the run's own (the loop never
  waits on the disk), a bounded tail of shown lines kept in memory and handed to ``on_line``.
- Ends: a command that exits non-zero, is killed by a signal, passes the step's
  ``run_timeout`` (one deadline for all its commands), cannot start, cannot have its output
  saved, or is stopped (``stop``) or cancelled ends the run as failed; its exit code is kept
  only when it exited by itself.
- Kill: whenever a command ends, for any reason, its whole process group gets SIGKILL at
  once, without a grace period: a step may not leave processes behind, and a timed-out or
  abandoned command is not trusted to clean up. (A command that must clean up on a timeout does
  it itself, e.g. with ``timeout(1)`` inside its line.) ``kill_all`` does the same for every
  group still running, synchronously, from any thread; it also runs at interpreter exit.
  While a group runs, the cockpit is its child subreaper (Linux), so killed grandchildren are
  reaped here rather than left as zombies under an init that may never reap them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cockpit.config.runbook import BASE_ENV
from cockpit.durations import format_duration
from cockpit.runbook import processes
from cockpit.runbook.output import (
    FILE_LIMIT,
    HOLD_BYTES,
    LINE_CHARS,
    NOTE,
    WINDOW,
    OutputError,
    OutputFile,
    Transcript,
)
from cockpit.runbook.processes import PIPE_HIGH, kill_all

log = logging.getLogger(__name__)

TAIL_LINES = 1000  # shown lines kept in memory
DRAIN_S = 2.0  # after the group is killed, how long its output may take to reach its end
REAP_S = 5.0  # how long to wait for a killed group to be gone


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # of the last command run, if it exited by itself
    problem: str  # why the run failed; "" when every command exited 0
    path: Path | None  # the saved output; None when it could not be saved
    sha256: str | None
    size: int  # bytes saved
    duration_s: float

    @property
    def ok(self) -> bool:
        return not self.problem


class MissingVariable(KeyError):
    pass


def command_env(names: Sequence[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a step command: the base, and exactly the ``names`` declared.
    Raises :class:`MissingVariable` for a declared name the cockpit's environment lacks."""
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in BASE_ENV if k in environ}
    env.setdefault("PATH", os.defpath)
    env["TERM"] = "dumb"
    for name in names:
        if name not in environ:
            raise MissingVariable(name)
        env[name] = environ[name]
    return env


# -- one run of a step's commands ----------------------------------------------------------------
class StepRun:
    """One run of a step's commands. ``await run()`` once, on the loop that calls the rest.

    ``on_line(line)`` gets shown lines on the loop (clean, redacted, at most ``line_chars``):
    of each batch of output, only the last ``tail_lines`` (all that a view keeping that tail
    would keep); ``tail`` holds the last ``tail_lines`` of them; ``lines_seen`` counts every
    line. ``stop(reason)`` kills the running command now and makes the run end failed with
    "stopped: <reason>". If the task running ``run()`` is cancelled (or ``run()`` fails on a
    bug), the group is killed at once and ``abandoned()`` (blocking, from any thread) closes
    the saved output with a note and gives the result.
    """

    def __init__(self, commands: Sequence[str], *, cwd: Path, redact: Callable[[str], str],
                 runs_dir: Path, name: str, timeout_s: float, env_names: Sequence[str] = (),
                 environ: Mapping[str, str] | None = None,
                 on_line: Callable[[str], None] | None = None, tail_lines: int = TAIL_LINES,
                 line_chars: int = LINE_CHARS, hold_bytes: int = HOLD_BYTES,
                 window: int = WINDOW, file_limit: int = FILE_LIMIT):
        self.commands = list(commands)
        self.cwd = Path(cwd)
        self.runs_dir = Path(runs_dir)
        self.name = name
        self.timeout_s = float(timeout_s)
        self.env_names = list(env_names)
        self.environ = environ
        self.on_line = on_line
        self.file_limit = file_limit
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self.lines_shown = 0  # every line handed to on_line, not only those still in the tail
        # Only what can still be in the tail is made into shown lines (see Transcript).
        self.transcript = Transcript(redact, line_chars=line_chars, hold_bytes=hold_bytes,
                                     window=window, show_last=tail_lines)
        self.pgid: int | None = None  # of the command running now
        self._pipe: processes.Pipe | None = None
        self._file: OutputFile | None = None
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="step-output")
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._started: float | None = None
        self._abandoned: concurrent.futures.Future | None = None
        self._write_error = ""  # why the output could not be saved, once it could not

    # -- control ---------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        self._stop_reason = self._stop_reason or reason
        self.kill()
        self._stop.set()

    def kill(self) -> None:
        """SIGKILL the running command's group now (synchronous)."""
        if self.pgid is not None:
            processes.killpg(self.pgid)

    @property
    def lines_seen(self) -> int:
        """Lines of output (and the cockpit's notes) so far, whether shown or not."""
        return self.transcript.lines_seen

    def held(self) -> tuple[int, int, int]:
        """What this run holds in memory: (shown lines in the tail, their characters, bytes of
        output waiting for the end of their line or not yet taken from the pipe)."""
        pipe = self._pipe.held if self._pipe is not None else 0
        return (len(self.tail), sum(len(line) for line in self.tail),
                self.transcript.held + pipe)

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> RunResult:
        if self._started is not None:
            raise RuntimeError("a StepRun runs once")
        self._started = time.monotonic()
        try:
            try:
                await self._on_io(self._open_sync)
            except OutputError as exc:
                return self._result(None, f"cannot save the output: {exc}")
            try:
                env = command_env(self.env_names, self.environ)
            except MissingVariable as exc:
                problem = (f"cannot start: environment variable {exc.args[0]} (declared in "
                           "env) is not set")
                await self._say(NOTE + problem)
                return await self._finish(None, problem)
            deadline = self._started + self.timeout_s
            exit_code: int | None = 0
            problem = ""
            for command in self.commands:
                if self._stop.is_set():
                    exit_code, problem = None, f"stopped: {self._stop_reason}"
                elif time.monotonic() >= deadline:
                    exit_code, problem = None, f"timed out after {format_duration(self.timeout_s)}"
                if problem:
                    await self._say(NOTE + problem)
                    break
                await self._say(f"$ {command}")
                if self._write_error:
                    exit_code = None
                    break
                exit_code, problem = await self._one(command, env, deadline)
                if problem:
                    break
            return await self._finish(exit_code, problem)
        except BaseException as exc:  # cancelled (the cockpit ends under it), or a bug
            self.kill()
            why = (f"stopped: {self._stop_reason}" if self._stop_reason
                   else "cancelled" if isinstance(exc, asyncio.CancelledError)
                   else f"internal error: {type(exc).__name__}")
            self._abandoned = self._io.submit(self._close_sync, None, why, abandoned=True)
            raise
        finally:
            self._io.shutdown(wait=False)  # work already queued (the close) still runs

    def abandoned(self) -> RunResult:
        """After ``run()`` was cancelled: its output closed, and the result (blocking)."""
        if self._abandoned is None:
            raise RuntimeError("the run was not cancelled")
        return self._abandoned.result()

    async def _one(self, command: str, env: dict[str, str], deadline: float
                   ) -> tuple[int | None, str]:
        loop = asyncio.get_running_loop()
        processes.subreaper(True)
        try:
            transport, pipe = await loop.subprocess_exec(
                processes.Pipe, "/bin/sh", "-c", command, cwd=str(self.cwd), env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            problem = f"cannot start: {exc.strerror or exc}"
            await self._say(NOTE + problem)
            return None, problem
        pgid = self.pgid = transport.get_pid()
        processes.register(pgid)
        self._pipe = pipe
        try:
            code, problem = await self._watch(transport, pipe, pgid, deadline)
        except BaseException:
            # Cancelled, or a bug: the group dies now; reaping it goes on without this run.
            processes.killpg(pgid)
            loop.create_task(self._cleanup(transport, pipe, pgid))
            raise
        await self._cleanup(transport, pipe, pgid)
        await self._say(NOTE + (problem or f"exit {code}"))
        return code, problem

    async def _watch(self, transport, pipe: processes.Pipe, pgid: int, deadline: float
                     ) -> tuple[int | None, str]:
        """Until the shell exits, the deadline passes, the run is stopped or the output cannot
        be saved; then the group is killed and what it printed is read to its end."""
        pump = asyncio.ensure_future(self._pump(pipe))
        ended = asyncio.ensure_future(pipe.exited.wait())
        stopped = asyncio.ensure_future(self._stop.wait())
        code: int | None = None
        problem = ""
        try:
            waiting = {pump, ended, stopped}
            while not problem and code is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    problem = f"timed out after {format_duration(self.timeout_s)}"
                    break
                done, _ = await asyncio.wait(waiting, timeout=left,
                                             return_when=asyncio.FIRST_COMPLETED)
                if pump in done:
                    waiting.discard(pump)
                    if pump.exception() is not None:
                        problem = f"output error: {pump.exception()}"
                if stopped in done and not problem:
                    problem = f"stopped: {self._stop_reason}"
                if ended in done and not problem:
                    code, problem = _exit(transport.get_returncode())
            left_behind = False
            if code is not None:  # the shell exited by itself (so asyncio has reaped it)
                processes.reap_children(pgid)
                left_behind = processes.group_present(pgid)
            processes.killpg(pgid)
            if not pump.done():
                await asyncio.wait({pump}, timeout=DRAIN_S)
            if not pump.done():
                problem = problem or ("a process that left the command's process group "
                                      "still holds its output open: not killed")
        finally:
            for task in (pump, ended, stopped):
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump  # its error, if any, is the problem already
        self._show(await self._on_io(self._flush_sync))
        if left_behind:
            await self._say(NOTE + "the command left processes running: killed")
        return (None if problem and code == 0 else code), problem

    async def _cleanup(self, transport, pipe: processes.Pipe, pgid: int) -> None:
        """Once the shell is reaped (asyncio waits for it by pid), reap and wait out the rest
        of its group, then let the group go. Bounded: a member stuck in the kernel is left."""
        try:
            processes.killpg(pgid)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REAP_S):
                    await pipe.exited.wait()
                    while True:
                        processes.reap_children(pgid)
                        if not processes.group_present(pgid):
                            break
                        await asyncio.sleep(0.01)
        finally:
            if self.pgid == pgid:
                self.pgid = None
            transport.close()
            processes.unregister(pgid)

    async def _pump(self, pipe: processes.Pipe) -> None:
        while data := await pipe.read():
            self._show(await self._on_io(self._take, data))

    # On the run's thread: the transcript and the file are touched only there.
    def _open_sync(self) -> None:
        self._file = OutputFile(self.runs_dir, self.name, limit=self.file_limit)

    def _take(self, data: bytes) -> list[str]:
        out, shown = self.transcript.feed(data)
        self._write(out)  # an error ends the pump, and so the command
        return shown

    def _flush_sync(self) -> list[str]:
        out, shown = self.transcript.flush()
        with contextlib.suppress(OutputError):
            self._write(out)
        return shown

    def _note_sync(self, text: str) -> list[str]:
        out, shown = self.transcript.note(text)
        with contextlib.suppress(OutputError):
            self._write(out)
        return shown

    def _write(self, out: bytes) -> None:
        if self._file is None or self._write_error or not out:
            return
        try:
            self._file.write(out)
        except OutputError as exc:
            self._write_error = str(exc)
            raise

    def _close_sync(self, exit_code: int | None, problem: str, *,
                    abandoned: bool = False) -> RunResult:
        if abandoned:
            self._flush_sync()
            self._note_sync(NOTE + f"{problem}: process group killed")
        if self._write_error:
            problem = problem or f"output error: {self._write_error}"
        if self._file is not None:
            try:
                self._file.close()
            except OutputError as exc:
                self._write_error = self._write_error or str(exc)
                problem = problem or f"output error: {exc}"
        return self._result(exit_code, problem)

    # On the loop.
    async def _say(self, text: str) -> None:
        """One line of the cockpit's own, saved and shown."""
        self._show(await self._on_io(self._note_sync, text))

    def _show(self, lines: list[str]) -> None:
        for line in lines:
            self.tail.append(line)
            self.lines_shown += 1
            if self.on_line is not None:
                try:
                    self.on_line(line)
                except Exception:  # noqa: BLE001 - a view gone must not stop the command's end
                    log.warning("step output: the view stopped taking lines")
                    self.on_line = None

    async def _on_io(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))

    async def _finish(self, exit_code: int | None, problem: str) -> RunResult:
        return await self._on_io(self._close_sync, exit_code, problem)

    def _result(self, exit_code: int | None, problem: str) -> RunResult:
        f = None if self._write_error else self._file  # an incomplete file is no evidence
        return RunResult(
            exit_code=exit_code, problem=problem,
            path=f.path if f is not None else None,
            sha256=f.sha256 if f is not None else None,
            size=self._file.size if self._file is not None else 0,
            duration_s=time.monotonic() - (self._started or time.monotonic()))


def _exit(returncode: int | None) -> tuple[int | None, str]:
    if returncode is None:
        return None, "ended without an exit status"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return None, f"killed by {name}"
    return returncode, "" if returncode == 0 else f"exit {returncode}"


__all__ = ["PIPE_HIGH", "TAIL_LINES", "MissingVariable", "RunResult", "StepRun", "command_env",
           "kill_all"]
