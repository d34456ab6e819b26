"""The command-line contract: every verb listed, unbuilt verbs say so, exit codes hold."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cockpit.cli import VERBS, main


def test_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert verb in out
    assert set(VERBS) == {"demo", "run", "check", "gates", "status", "reconcile", "journal",
                          "report", "rehearse", "lab", "notify", "timings"}


@pytest.mark.parametrize("verb", list(VERBS))
def test_each_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert "usage: cockpit " + verb in capsys.readouterr().out


def test_bad_flag_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "cockpit.cli", "check"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "CONFIG" in proc.stderr


def test_no_verb_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: cockpit" in capsys.readouterr().out
