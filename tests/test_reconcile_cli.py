"""``cockpit reconcile`` end to end: real plan files, real databases, real journal.

In-process via ``cockpit.cli.main`` for speed; one subprocess on a pseudo-terminal proves the
progress line and the absence of tracebacks in a real process.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import yaml

from cockpit.cli import main
from cockpit.journal import Journal
from tests.fixtures.pg import free_port
from tests.test_recon_domain import FAKE_NAMES, seed_pair
from tests.test_recon_runner import BASE_PLAN, TABLES, dbs, write_plan  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["reconcile", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _no_phi(*texts: str) -> None:
    for text in texts:
        for name in FAKE_NAMES:
            assert name not in text
        assert "MRN-0007" not in text and "Traceback" not in text


def _entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_differences_exit_1_with_a_table_per_layer_and_a_journal(dbs, tmp_path, capsys) -> None:  # noqa: F811
    cl, (src, dst) = dbs
    plan = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    code, out, err = run(capsys, str(plan))
    assert code == 1, err
    for heading in ("SCHEMA  4 check(s): clean", "COUNTS  4 check(s)", "CONTENT  4 check(s)",
                    "DOMAIN  5 check(s)", "STORAGE  not configured"):
        assert heading in out
    assert "duplicate_mrn" in out and "meds_per_patient" in out and "7, 8" in out
    assert "mismatched rows 5" in out and "recorded in" in out
    journal = _entries(tmp_path / "journal.jsonl")
    assert journal[-1]["action"] == "recon.run"
    opens = [e for e in journal if e["action"] == "exception.open"]
    assert len(opens) == len(journal[-1]["data"]["opened"]) > 10
    _no_phi(out, err, (tmp_path / "journal.jsonl").read_text())

    code, out, err = run(capsys, str(plan), "--json", "--no-journal")
    assert code == 1
    data = json.loads(out)
    assert data["mismatched_rows"] == 5 and data["journal"].startswith("not recorded")
    assert data["tables"]["medication_orders"]["missing"] == 1
    assert {f["kind"] for f in data["findings"]} >= {"duplicate", "orphan", "required_null",
                                                      "count_mismatch", "offending_row", "missing", "changed"}
    _no_phi(out, err)
    assert len(_entries(tmp_path / "journal.jsonl")) == len(journal)  # --no-journal wrote nothing

    # A second run only records the run itself: nothing new, nothing closed.
    code, out, _ = run(capsys, str(plan), "--json")
    assert code == 1 and json.loads(out)["opened"] == [] and json.loads(out)["closed"] == []
    assert _entries(tmp_path / "journal.jsonl")[-1]["action"] == "recon.run"
    assert len(_entries(tmp_path / "journal.jsonl")) == len(journal) + 1


def test_clean_pair_exits_0(pg_shared, tmp_path, capsys) -> None:
    names = [pg_shared.create_database(), pg_shared.create_database()]
    try:
        seed_pair(pg_shared, *names, defects=False)
        plan = write_plan(tmp_path, pg_shared.dsn(names[0]), pg_shared.dsn(names[1]))
        code, out, err = run(capsys, str(plan), "--no-journal")
        assert code == 0, out + err
        assert "CLEAN: 0 finding(s)" in out and "mismatched rows 0" in out
    finally:
        for n in names:
            pg_shared.drop_database(n)


def test_bad_input_exits_2_with_one_line(tmp_path, capsys) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(BASE_PLAN))
    code, out, err = run(capsys, str(plain))
    assert code == 2 and out == "" and err.strip().count("\n") == 0
    assert "no reconciliation section" in err

    plan = write_plan(tmp_path, "host=127.0.0.1 dbname=a", "host=127.0.0.1 dbname=b")
    code, _, err = run(capsys, str(plan), "--table", "nope")
    assert code == 2 and "valid tables: patients, medication_orders, allergies, documents" in err
    code, _, err = run(capsys, str(plan), "--layer", "rows")
    assert code == 2 and "valid layers: storage, schema, counts, content, domain" in err
    code, _, err = run(capsys, str(plan), "--layer", "storage")
    assert code == 2 and "nothing to check" in err and err.count("\n") == 1
    code, _, err = run(capsys, str(tmp_path / "missing.yaml"))
    assert code == 2 and err.strip().count("\n") == 0


def test_unreachable_database_is_not_clean(dbs, tmp_path, capsys) -> None:  # noqa: F811
    cl, (src, _dst) = dbs
    plan = write_plan(tmp_path, cl.dsn(src), f"host=127.0.0.1 port={free_port()} dbname=x user=postgres")
    code, out, err = run(capsys, str(plan), "--layer", "counts", "--no-journal")
    assert code == 1
    assert "target database: cannot connect" in out and "not checked" in out
    assert "mismatched rows -" in out and "NOT CHECKED: 4 finding(s), 4 not checked" in out


def test_locked_journal_gives_a_warning_and_the_result(dbs, tmp_path, capsys) -> None:  # noqa: F811
    cl, (src, dst) = dbs
    plan = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    holder = Journal.open(tmp_path / "journal.jsonl", cutover_id=BASE_PLAN["cutover"]["id"])
    try:
        code, out, err = run(capsys, str(plan), "--table", "patients", "--layer", "counts")
    finally:
        holder.close()
    assert code == 0, out + err
    assert "warning: the journal is in use by a running cockpit" in err
    assert err.count("\n") == 1 and "not recorded (journal locked)" in out
    assert _entries(tmp_path / "journal.jsonl") == []


def test_progress_on_a_terminal_and_no_traceback(dbs, tmp_path) -> None:  # noqa: F811
    cl, (src, dst) = dbs
    plan = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "cockpit.cli", "reconcile", str(plan), "--no-journal"],
                                stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 1
    assert "reconcile: " in err and "/9 checks" in err and "rows" in err
    _no_phi(out.decode(), err)


def _readings(plan_path: Path) -> dict:
    from cockpit.clock import RealClock
    from cockpit.config import load_plan
    from cockpit.runbook import builtin_readings, replay

    plan, _ = load_plan(plan_path, for_run=True)
    journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, readonly=True)
    try:
        return builtin_readings(replay(plan, journal.entries), RealClock())
    finally:
        journal.close()


def test_partial_runs_keep_what_they_did_not_measure(dbs, tmp_path, capsys) -> None:  # noqa: F811
    """After a failing full run, ``--layer schema`` measured no domain check: failed_checks
    keeps their failures (it read 0 before, turning a NO-GO gate GO with nothing fixed)."""
    cl, (src, dst) = dbs
    plan = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    code, out, _ = run(capsys, str(plan), "--json")
    full = json.loads(out)
    assert code == 1 and full["failed_checks"] == 5 and full["mismatched_rows"] == 5
    assert full["format"] == 2 and full["units"]["domain:duplicate_mrn"]["failed"] is True
    assert full["units"]["content:patients"] == {
        "layer": "content", "table": "patients", "check": None, "failed": False, "error": None,
        "findings": 2, "missing": 0, "extra": 0, "changed": 2, "source_rows": 20,
        "target_rows": 20}
    first = _readings(plan)
    assert first["recon.failed_checks"].value == 5 and first["recon.mismatched_rows"].value == 5

    code, out, _ = run(capsys, str(plan), "--layer", "schema", "--json")
    partial = json.loads(out)
    assert code == 0 and partial["failed_checks"] == 0  # of this run's four schema checks
    assert set(partial["units"]) == {f"schema:{t['name']}" for t in TABLES}
    after = _readings(plan)
    assert after["recon.failed_checks"].value == 5
    assert after["recon.failed_checks"].ts == first["recon.failed_checks"].ts
    assert after["recon.mismatched_rows"].value == 5

    # Fix the target's documents, re-run only that table's content: the sum follows, aged by
    # the oldest measurement in it.
    cl.execute("INSERT INTO ehr.documents VALUES (3, 'Discharge letter Zebulon Quillfeather 3')",
               dbname=dst)
    code, out, _ = run(capsys, str(plan), "--table", "documents", "--layer", "content")
    assert code == 0, out
    last = _readings(plan)
    assert last["recon.mismatched_rows"].value == 4
    assert last["recon.mismatched_rows"].ts == first["recon.mismatched_rows"].ts
    assert last["recon.documents.missing"].value == 0
    assert last["recon.documents.missing"].ts > first["recon.documents.missing"].ts
