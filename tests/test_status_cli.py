"""``cockpit status CONFIG [--json]``: runbook progress replayed from the plan's journal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cockpit.cli import main as cli
from tests.test_runbook_rules import Cockpit, gates, make_plan


def _run(capsys, *argv):
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_no_journal_yet(tmp_path, capsys):
    plan = make_plan(tmp_path)
    code, out, err = _run(capsys, "status", str(plan.path))
    assert code == 0 and err == ""
    assert f"no journal yet at {plan.journal_path}: nothing has been done" in out
    assert "phase before   next S1" in out
    assert "[>] S1     active" in out and "[ ] S3     pending" in out
    assert not plan.journal_path.exists()  # status never creates or writes the journal
    code, out, _ = _run(capsys, "status", str(plan.path), "--json")
    data = json.loads(out)
    assert code == 0 and data["journal"]["exists"] is False and data["head"]["seq"] == 0
    assert {s["status"] for s in data["steps"].values()} == {"pending", "active"}


def test_progress_while_a_cockpit_holds_the_journal(tmp_path, capsys):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)  # keeps the write lock: status reads without it
    ck("dba1").confirm("S1", gates())
    ck("dba1").skip("S2", "NOT_APPLICABLE", "no units affected")
    ck().start_rollback("DATA_MISMATCH", "bad rows")
    code, out, _ = _run(capsys, "status", str(plan.path))
    assert code == 0
    assert f"head #3 {ck.journal.head[1]}" in out
    assert "ROLLBACK ACTIVE" in out and "by lead1 [DATA_MISMATCH]" in out
    assert "phase back   next R1" in out
    assert "[x] S1     done      dba1" in out and "[-] S2     skipped   dba1" in out and "[NOT_APPLICABLE]" in out
    code, out, _ = _run(capsys, "status", str(plan.path), "--json")
    data = json.loads(out)
    assert data["rollback"]["active"] and data["steps"]["S1"]["actor"] == "dba1"
    assert data["head"] == {"seq": 3, "hash": ck.journal.head[1]}
    ck.journal.close()


def test_bad_config_and_corrupt_journal_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cutover: [\n")
    code, out, err = _run(capsys, "status", str(bad))
    assert code == 2 and out == "" and err.count("\n") == 1
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    ck("dba1").confirm("S2", gates())
    ck.journal.close()
    p = plan.journal_path
    p.write_bytes(p.read_bytes().replace(b'"S1"', b'"S9"'))
    code, out, err = _run(capsys, "status", str(plan.path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "damaged at seq 1 (line 1)" in err and "cockpit journal verify" in err


def test_status_as_a_user_runs_it(tmp_path):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    ck.journal.close()
    run = subprocess.run([sys.executable, "-m", "cockpit.cli", "status", str(plan.path)],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 0 and "[x] S1     done      dba1" in run.stdout and run.stderr == ""
