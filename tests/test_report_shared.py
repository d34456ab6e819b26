"""``cockpit report CONFIG`` on a plan with a shared journal reads the table (the cutover's
rows, by the one reader rule), and the journal copied into the pack is those rows exactly as
``psql -At`` would export them."""

from __future__ import annotations

import json

from cockpit.cli import main
from cockpit.journal import table
from tests.test_journal_shared import TABLE, table_lines
from tests.test_journal_shared_verbs import _shared
from tests.test_recon_runner import dbs, write_plan  # noqa: F401 - fixture


def test_a_plan_with_a_shared_journal_reports_the_table(dbs, pg_db, tmp_path, capsys):  # noqa: F811
    cl, (src, dst) = dbs
    for stmt in table.create_sql(TABLE):
        pg_db.execute(stmt)
    path = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    _shared(path, pg_db.dsn)
    assert main(["reconcile", str(path)]) == 1
    capsys.readouterr()
    out = tmp_path / "pack"
    assert main(["report", str(path), "--out", str(out)]) == 0, capsys.readouterr().err
    exported = table_lines(pg_db, cutover="mini-1")
    assert (out / "journal.jsonl").read_bytes() == exported
    ev = json.loads((out / "evidence.json").read_text())
    assert ev["summary"]["verification"]["ok"]
    assert ev["summary"]["journal"] == f"shared journal table {TABLE}"
    assert len(ev["timeline"]) == len(exported.splitlines()) and ev["recon"]
    assert pg_db.dsn not in (out / "index.html").read_text()
