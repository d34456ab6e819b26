"""Verbs on a plan with a shared journal: ``cockpit reconcile`` records its run in the table
through ``Operations.record_recon`` (the local copy is the login's), and says so; with the
database down it records nothing and says why in one line."""

from __future__ import annotations

import json

import yaml

from cockpit.cli import main
from cockpit.config import load_plan
from cockpit.journal import table
from cockpit.journal.entry import _os_user
from cockpit.journal.shared import local_copy_path
from cockpit.session import open_session
from tests.fixtures.pg import free_port
from tests.test_journal_shared import TABLE, table_lines, wait_for
from tests.test_recon_runner import dbs, write_plan  # noqa: F401 - fixture


def _shared(path, dsn: str) -> None:
    doc = yaml.safe_load(path.read_text())
    doc["sources"]["jdb"] = {"type": "postgres", "dsn": dsn, "connect_timeout": "2s"}
    doc["cutover"]["shared_journal"] = {"source": "jdb", "table": TABLE}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_reconcile_records_its_run_in_the_shared_journal(dbs, pg_db, tmp_path, capsys):  # noqa: F811
    cl, (src, dst) = dbs
    for stmt in table.create_sql(TABLE):
        pg_db.execute(stmt)
    path = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    _shared(path, pg_db.dsn)
    plan, _ = load_plan(path, for_run=False)
    watcher = open_session(plan, tmp_path / "watcher.jsonl", "someone", mode="readonly")
    try:
        code = main(["reconcile", str(path), "--json"])
        out, err = capsys.readouterr()
        assert code == 1, err
        data = json.loads(out)
        assert data["journal"] == "recorded in the shared journal" and data["opened"]
        exported = table_lines(pg_db, cutover=plan.cutover.id)
        actions = [json.loads(x)["action"] for x in exported.splitlines()]
        assert actions[-1] == "recon.run" and actions.count("exception.open") == len(data["opened"])
        copy = local_copy_path(plan, _os_user())
        assert copy != plan.journal_path and copy.read_bytes() == exported
        assert not plan.journal_path.exists()
        wait_for(lambda: len(watcher.journal.entries) == len(actions), "the watcher to follow")
        assert watcher.ops.state.exceptions  # the other cockpit sees the opened exceptions
    finally:
        watcher.close()


def test_reconcile_with_the_shared_journal_down_records_nothing(dbs, tmp_path, capsys):  # noqa: F811
    cl, (src, dst) = dbs
    path = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    _shared(path, f"host=127.0.0.1 port={free_port()} dbname=nothing user=postgres")
    code = main(["reconcile", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out)["journal"] == "not recorded (journal read-only)"
    warning = [line for line in err.splitlines() if "not recorded" in line]
    assert len(warning) == 1 and "DISCONNECTED" in warning[0] and "Traceback" not in err
