"""Only a regular file is read as a plan, and never more than the size cap: one line, at once.

Devices would be read forever (``/dev/zero``, ``/dev/urandom``) and a FIFO without a writer
blocks forever; each runs in a real process with a timeout and a 2 GB address-space limit, so a
regression fails the test instead of hanging the suite or exhausting the machine's memory.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.config import PlanError, load_plan

VALID = Path(__file__).parent / "plans" / "valid_minimal.yaml"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def _check(path: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit.cli", "check", str(path)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, preexec_fn=_limit_memory)


@pytest.mark.parametrize(("device", "kind"), [("/dev/zero", "character device"),
                                              ("/dev/urandom", "character device")])
def test_a_device_is_refused_without_reading_it(device, kind):
    proc = _check(device)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"{device}:1:1: is a {kind}, not a plan file: a plan is a regular YAML file\n"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    proc = _check(fifo)  # no writer: opening it for reading would block forever
    assert proc.returncode == 2
    assert proc.stderr == f"{fifo}:1:1: is a FIFO, not a plan file: a plan is a regular YAML file\n"


def test_a_symlink_to_a_plan_is_followed(tmp_path):
    link = tmp_path / "plan.yaml"
    link.symlink_to(VALID)
    plan, _ = load_plan(link)
    assert plan.cutover.id == "mini-1"


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "plan.yaml"
    link.symlink_to("/dev/zero")
    proc = _check(link)
    assert proc.returncode == 2
    assert proc.stderr == f"{link}:1:1: is a character device, not a plan file: a plan is a regular YAML file\n"


def test_a_file_over_the_cap_is_refused_at_a_place(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(6 * 1024 * 1024)
    with pytest.raises(PlanError) as exc:
        load_plan(big)
    assert exc.value.lines == [f"{big}:1:1: file is 6 MB; a plan may be at most 5 MB"]


def test_a_nul_in_the_path_is_one_line(tmp_path):
    with pytest.raises(PlanError) as exc:
        load_plan(str(tmp_path / "pl\x00an.yaml"))
    assert len(exc.value.lines) == 1 and "cannot read" in exc.value.lines[0]
