"""The command line a newcomer meets (issue 10): help that does not promise unbuilt verbs, a
version, help on every option, errors that name their verb, a journal the checkout ignores,
``status`` on a journal file, a lock refusal that says who holds it, and a demo journal that
survives a restart."""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from cockpit.cli import VERBS, build_parser, main
from cockpit.commands import demo as demo_mod
from cockpit.journal import Actor, Journal, JournalLocked
from cockpit.journal.file import holder_path
from cockpit.rehearsal.journal import start_data, write_start
from cockpit.runbook import Operations
from tests.test_cli_robustness import COCKPIT, ROOT, _in_a_pty, cockpit
from tests.test_runbook_rules import gates, make_plan

# -- 1. every verb of the contract is built ----------------------------------------------------


def _help_lines(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_of_the_contract_has_its_module_and_no_not_built_mark(verb, capsys):
    """PRODUCT.md's command line names these verbs: each runs its own module (issues 13 and 14
    built the last two, report and notify), and no help says "not built"."""
    module = "journal_verify" if verb == "journal" else verb
    assert importlib.util.find_spec(f"cockpit.commands.{module}") is not None
    assert "not built" not in _help_lines(capsys, verb)
    assert "not built" not in _help_lines(capsys)


# -- 2. --version ----------------------------------------------------------------------------

def test_version_comes_from_the_package_metadata():
    proc = cockpit("--version")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"cockpit {importlib.metadata.version('cutover-cockpit')}\n"


# -- 3. help on every option -----------------------------------------------------------------

def _parsers(parser: argparse.ArgumentParser, name: str = "cockpit"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_and_argument_of_every_verb_has_help():
    seen = set()
    for name, parser in _parsers(build_parser()):
        seen.add(name)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            what = "/".join(action.option_strings) or action.metavar or action.dest
            assert action.help and action.help != argparse.SUPPRESS and action.help.strip(), \
                f"{name}: {what} has no help"
    assert {"cockpit gates", "cockpit status", "cockpit reconcile", "cockpit journal verify",
            "cockpit journal show", "cockpit demo", "cockpit notify test"} <= seen


@pytest.mark.parametrize("argv", [["gates"], ["status"], ["reconcile"], ["journal", "show"],
                                  ["journal", "verify"]])
def test_json_is_explained_in_the_help_text(argv, capsys):
    out = _help_lines(capsys, *argv)
    line = next(line for line in out.splitlines() if line.strip().startswith("--json"))
    assert "JSON" in line.replace("--json", ""), line


# -- 4. every error line names its verb ------------------------------------------------------

@pytest.mark.parametrize("verb", ["gates", "status", "reconcile", "run"])
def test_a_missing_plan_is_refused_in_the_verbs_name(tmp_path, verb):
    proc = cockpit(verb, "/nonexistent.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"cockpit {verb}: /nonexistent.yaml:1:1: no such file\n"


@pytest.mark.parametrize("verb", ["gates", "status", "reconcile", "run"])
def test_every_line_of_a_bad_plan_names_the_verb(tmp_path, verb):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cutover: 5\noperators: []\nrunbook: x\n")
    proc = cockpit(verb, str(bad), cwd=tmp_path)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) >= 2
    assert all(line.startswith(f"cockpit {verb}: {bad}:") for line in lines), lines


def test_check_keeps_bare_file_line_col_lines_for_editors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cutover: 5\n")
    proc = cockpit("check", str(bad))
    assert proc.returncode == 2 and all(line.startswith(f"{bad}:") for line in proc.stderr.splitlines())


def test_log_lines_from_the_core_name_the_verb():
    code = ("import logging\nfrom cockpit.commands import common\ncommon.prepare_streams('gates')\n"
            "logging.getLogger('cockpit.engine').warning('source %s is slow', 'db')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "COCKPIT_DEBUG"})
    assert proc.returncode == 0 and proc.stderr == "cockpit gates: warning: source db is slow\n"


@pytest.mark.parametrize("argv", [["gates", "p.yaml", "--bogus"], ["status", "p.yaml", "extra"],
                                  ["journal", "verify", "j", "--nope"], ["demo", "--journal"],
                                  ["reconcile"], ["check", "a", "b"]])
def test_a_bad_flag_is_refused_in_the_verbs_name(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    verb = " ".join(argv[:2]) if argv[0] == "journal" else argv[0]
    assert err.count("\n") == 1 and err.startswith(f"cockpit {verb}: ")
    assert err.rstrip().endswith(f"(see cockpit {verb} --help)")


# -- 5. the sample plan's journal is not left in the checkout --------------------------------

def test_the_sample_plans_journal_is_ignored_by_git():
    from cockpit.config import load_plan

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for plan_file in sorted((ROOT / "sample_configs").glob("*.yaml")):
        plan, _ = load_plan(plan_file, for_run=False)
        for path in (plan.journal_path, holder_path(plan.journal_path),
                     plan.journal_path.parent / "runs" / "B01-1-x.log"):
            rel = os.path.relpath(path, ROOT)
            assert not rel.startswith(".."), (plan_file, rel)  # the check below is about this repo
            proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", rel], cwd=ROOT)
            assert proc.returncode == 0, f"{rel} ({plan_file.name}) is not git-ignored"


# -- 6. status on a journal file -------------------------------------------------------------

def _demo_journal(path: Path, confirm: bool = True, rehearsal: bool = True) -> Path:
    """A journal a demo session wrote: a rehearsal of the built-in scenario (``rehearsal``
    False: one an older demo wrote, before the demo was a rehearsal)."""
    plan = demo_mod.demo_plan()
    j = Journal.open(path, cutover_id=plan.cutover.id)
    try:
        if rehearsal:
            sha = hashlib.sha256(demo_mod.DEMO_SCENARIO.read_bytes()).hexdigest()
            write_start(j, "demo", start_data("demo", sha, 1.0, demo_mod.DEMO_PLAN, "0" * 64))
        cockpit_like = types.SimpleNamespace(journal=j)
        demo_mod.seed(cockpit_like)
        if confirm:
            Operations(plan, j, Actor.current("demo.lead")).confirm("B01", {})
    finally:
        j.close()
    return path


@pytest.mark.parametrize("name", ["demo-journal.jsonl", "demo.journal", "demo-without-suffix"])
def test_status_reads_a_demo_journal_directly(tmp_path, name):
    path = _demo_journal(tmp_path / name)
    proc = cockpit("status", str(path))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert f"journal {path}  head #5 " in proc.stdout
    assert "[x] B01" in proc.stdout and "demo.lead" in proc.stdout
    doc = json.loads(cockpit("status", str(path), "--json").stdout)
    assert doc["journal"]["path"] == str(path) and doc["steps"]["B01"]["status"] == "done"


def test_status_reads_any_journal_without_its_plan(tmp_path):
    plan = make_plan(tmp_path)
    j = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)
    try:
        Operations(plan, j, Actor.current("dba1")).confirm("S1", gates())
    finally:
        j.close()
    proc = cockpit("status", str(plan.journal_path))
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"journal {plan.journal_path}  head #1 ")
    assert f"(cockpit status PLAN --journal {plan.journal_path})" in lines[1]
    assert any(line.split()[:3] == ["S1", "step.confirm", "dba1"] for line in lines[2:]), lines
    # ... and with the plan, the whole runbook, from a journal other than the plan's own
    other = tmp_path / "copy.jsonl"
    other.write_bytes(plan.journal_path.read_bytes())
    proc = cockpit("status", str(plan.path), "--journal", str(other))
    assert proc.returncode == 0 and f"journal {other}  head #1" in proc.stdout
    assert "[x] S1     done      dba1" in proc.stdout


def test_status_on_a_missing_or_damaged_journal_file_is_one_line(tmp_path):
    proc = cockpit("status", str(tmp_path / "gone.jsonl"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"cockpit status: cannot read {tmp_path / 'gone.jsonl'}: no such file\n"
    path = _demo_journal(tmp_path / "d.jsonl")
    path.write_bytes(path.read_bytes().replace(b'"B01"', b'"B09"'))
    proc = cockpit("status", str(path))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(f"cockpit status: journal {path} is damaged at seq 5")


def test_status_says_when_steps_run_in_parallel(tmp_path, capsys):
    plan = make_plan(tmp_path)  # S1, then S2 (parallel): both workable at once
    assert main(["status", str(plan.path)]) == 0
    out = capsys.readouterr().out
    assert "[>] S1     active" in out and "[>] S2     active" in out
    assert "2 steps active at once, they run in parallel: S1, S2" in out
    j = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)
    try:
        Operations(plan, j, Actor.current("dba1")).confirm("S2", gates())
    finally:
        j.close()
    assert main(["status", str(plan.path)]) == 0
    assert "in parallel" not in capsys.readouterr().out  # only S1 is active now


# -- 7. the lock refusal ---------------------------------------------------------------------

def test_the_lock_holder_is_recorded_while_it_holds_and_removed_after(tmp_path):
    path = tmp_path / "j.jsonl"
    holder = Journal.open(path, cutover_id="c", holder=Actor.current("ann"))
    try:
        doc = json.loads(holder_path(path).read_text())
        assert doc["pid"] == os.getpid() and doc["operator"] == "ann" and doc["since"].endswith("Z")
        with pytest.raises(JournalLocked) as exc:
            Journal.open(path, cutover_id="c", holder=Actor.current("bob"))
        assert exc.value.holder.startswith(f"pid {os.getpid()}, operator ann, ")
        assert "bob" not in str(exc.value) and "read-only" in str(exc.value)
        assert json.loads(holder_path(path).read_text())["operator"] == "ann"  # untouched
    finally:
        holder.close()
    assert not holder_path(path).exists()


def test_a_holder_file_left_by_a_crash_is_overwritten_by_the_next_writer(tmp_path):
    path = tmp_path / "j.jsonl"
    holder_path(path).write_text("garbage from a killed cockpit")
    j = Journal.open(path, cutover_id="c", holder=Actor.current("carol"))
    try:
        assert json.loads(holder_path(path).read_text())["operator"] == "carol"
    finally:
        j.close()


def test_an_unrecorded_holder_is_said_so(tmp_path):
    path = tmp_path / "j.jsonl"
    held = Journal.open(path, cutover_id="c")
    holder_path(path).unlink()
    try:
        with pytest.raises(JournalLocked, match="who is not recorded") as exc:
            Journal.open(path, cutover_id="c")
        assert exc.value.holder is None
    finally:
        held.close()


@pytest.mark.parametrize("verb", ["demo", "run"])
def test_a_second_cockpit_is_told_who_holds_the_journal_and_how_to_watch(tmp_path, verb):
    plan = tmp_path / "plan.yaml"
    plan.write_text(demo_mod.DEMO_PLAN.read_text())
    journal = tmp_path / "demo-journal.jsonl"  # the plan's cutover.journal
    held = Journal.open(journal, cutover_id="demo-cutover", holder=Actor.current("demo.lead"))
    try:
        argv = [COCKPIT, "demo", "--journal", str(journal)] if verb == "demo" else \
            [COCKPIT, "run", str(plan), "--operator", "demo.lead"]
        rc, err = _in_a_pty(argv)
    finally:
        held.close()
    assert rc == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"cockpit {verb}: journal {journal} is in use by another cockpit "
                          f"(pid {os.getpid()}, operator demo.lead, ")
    if verb == "demo":
        assert err.rstrip().endswith(f"to watch it without writing: cockpit demo --journal {journal} "
                                     f"--readonly, or: cockpit status {journal}")
    else:
        assert err.rstrip().endswith(f"to watch it without writing: cockpit run {plan} --readonly, "
                                     f"or: cockpit status {plan}")
    assert "add --readonly" not in err


def test_reconcile_on_a_held_journal_names_the_holder(tmp_path):
    from tests.test_cli_robustness import _net_plan, free_port

    plan = _net_plan(tmp_path, free_port(), free_port())
    held = Journal.open(tmp_path / "journal.jsonl", cutover_id="robust-1", holder=Actor.current("ann"))
    try:
        proc = cockpit("reconcile", str(plan))
    finally:
        held.close()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (f"cockpit reconcile: warning: the journal is in use by a running cockpit "
            f"(pid {os.getpid()}, operator ann, ") in proc.stderr


def test_demo_takes_readonly(capsys):
    assert "--readonly" in _help_lines(capsys, "demo")


# -- 8. the demo journal survives a restart --------------------------------------------------

@pytest.fixture
def launched(monkeypatch, tmp_path):
    """``cockpit demo`` up to the launch: which journal, which hints (no terminal needed)."""
    calls = []
    monkeypatch.setattr(demo_mod, "refusal", lambda *a: None)
    monkeypatch.setattr(demo_mod, "launch", lambda verb, plan, journal, operator, **kw:
                        calls.append({"journal": journal, **kw}) or 0)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return calls


def _demo(*argv: str) -> int:
    parser = build_parser()
    return demo_mod.main(parser.parse_args(["demo", *argv]))


def test_the_default_demo_journal_is_stable_and_resumed(launched, tmp_path, capsys):
    stable = tmp_path / "state" / "cutover-cockpit" / "demo-journal.jsonl"
    assert _demo() == 0
    assert launched[-1]["journal"] == stable and launched[-1]["resume"] == "cockpit demo"
    assert capsys.readouterr().err == f"cockpit demo: new demo journal {stable}\n"
    _demo_journal(stable)  # what that session wrote: 5 entries
    assert _demo() == 0
    assert launched[-1]["journal"] == stable
    assert capsys.readouterr().err == (f"cockpit demo: resuming demo journal {stable} (5 entries), "
                                       "the scenario where it ended; --new for a fresh one\n")
    # The scenario goes on where the journal ended: its clock starts at the last entry.
    last = Journal.open(stable, cutover_id="demo-cutover", readonly=True).entries[-1].wall
    assert launched[-1]["clock"].now() - last < 5
    assert launched[-1]["rehearsal"].resumed and launched[-1]["rehearsal"].marker == "REHEARSAL 1x"


def test_an_older_demo_journal_is_set_aside_not_resumed(launched, tmp_path, capsys):
    stable = tmp_path / "state" / "cutover-cockpit" / "demo-journal.jsonl"
    stable.parent.mkdir(parents=True)
    old_bytes = _demo_journal(stable, rehearsal=False).read_bytes()
    assert _demo("--readonly") == 2  # a watcher never renames anything
    assert "written by an older demo" in capsys.readouterr().err and stable.exists()
    assert _demo() == 0
    kept = [p for p in stable.parent.iterdir() if p != stable]
    assert len(kept) == 1 and kept[0].read_bytes() == old_bytes and not stable.exists()
    assert capsys.readouterr().err == (f"cockpit demo: new demo journal {stable}; the previous one "
                                       f"is kept as {kept[0].name} (it was written by an older demo)\n")
    assert not launched[-1]["rehearsal"].resumed


def test_demo_refuses_a_named_journal_that_is_not_its_rehearsal(launched, tmp_path, capsys):
    other = _demo_journal(tmp_path / "night.jsonl", rehearsal=False)
    before = other.read_bytes()
    assert _demo("--journal", str(other)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cockpit demo: journal {other} is not a rehearsal journal") and err.count("\n") == 1
    assert other.read_bytes() == before and launched == []


def test_demo_new_sets_the_old_journal_aside(launched, tmp_path, capsys):
    stable = tmp_path / "state" / "cutover-cockpit" / "demo-journal.jsonl"
    stable.parent.mkdir(parents=True)
    old_bytes = _demo_journal(stable).read_bytes()
    assert _demo("--new") == 0
    assert launched[-1]["journal"] == stable and not stable.exists()
    kept = [p for p in stable.parent.iterdir() if p != stable]
    assert len(kept) == 1 and kept[0].read_bytes() == old_bytes
    assert capsys.readouterr().err == (f"cockpit demo: new demo journal {stable}; "
                                       f"the previous one is kept as {kept[0].name}\n")


def test_demo_new_never_pulls_a_journal_from_under_a_running_demo(launched, tmp_path, capsys):
    stable = tmp_path / "state" / "cutover-cockpit" / "demo-journal.jsonl"
    stable.parent.mkdir(parents=True)
    _demo_journal(stable)
    held = Journal.open(stable, cutover_id="demo-cutover", holder=Actor.current("ann"))
    try:
        assert _demo("--new") == 2
    finally:
        held.close()
    # Only the journal and the verified checkpoint its writer left (cockpit.journal.checkpoint).
    assert launched == [] and sorted(p.name for p in stable.parent.iterdir()) == [
        stable.name, stable.name + ".verified"]
    err = capsys.readouterr().err
    assert err.startswith(f"cockpit demo: the demo journal {stable} is in use by another cockpit "
                          f"(pid {os.getpid()}, operator ann, ") and err.endswith(": --new needs it closed\n")


def test_demo_with_a_journal_resumes_that_one(launched, tmp_path, capsys):
    mine = tmp_path / "mine.jsonl"
    assert _demo("--journal", str(mine)) == 0
    assert launched[-1]["journal"] == mine
    assert launched[-1]["resume"] == f"cockpit demo --journal {mine}"
    assert launched[-1]["watch"] == f"cockpit demo --journal {mine} --readonly, or: cockpit status {mine}"
    assert _demo("--journal", str(mine), "--new") == 2
    assert "--new" in capsys.readouterr().err


def test_demo_without_a_home_says_where_its_new_journal_is(launched, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda p: p)  # no home: "~" stays "~"
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert _demo() == 0
    journal = launched[-1]["journal"]
    assert journal.parent.parent == tmp_path and journal.parent.name.startswith("cockpit-demo-")
    assert launched[-1]["resume"] == f"cockpit demo --journal {journal}"
    assert capsys.readouterr().err == f"cockpit demo: no $XDG_STATE_HOME or $HOME: a new demo journal in {journal}\n"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_quitting_the_demo_prints_the_journal_and_how_to_resume(tmp_path):
    from tests.test_e2e_tmux import tmux, wait_for

    session = f"cockpit-newcomer-{os.getpid()}"
    state = tmp_path / "state"
    stable = state / "cutover-cockpit" / "demo-journal.jsonl"
    env = f"XDG_STATE_HOME={state} TERM=xterm COCKPIT_OPERATOR="
    try:
        command = (f"cd {tmp_path} && env {env} {COCKPIT} demo; echo EXITED $?; "
                   f"env {env} {COCKPIT} demo; echo EXITED AGAIN $?; sleep 60")
        tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", command)
        wait_for(session, "▶ B01")
        tmux("send-keys", "-t", session, "q")
        pane = wait_for(session, "EXITED 0")
        flat = pane.replace("\n", "")
        assert f"journal {stable}  head #" in flat and "resume with: cockpit demo" in pane
        wait_for(session, "▶ B01")  # the second run, on the same journal
        tmux("send-keys", "-t", session, "q")
        pane = wait_for(session, "EXITED AGAIN 0")
        assert "resuming demo journal" in pane.replace("\n", "")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    entries = [json.loads(line) for line in stable.read_text().splitlines()]
    assert [e["action"] for e in entries].count("session.start") == 2  # one journal, two sessions

