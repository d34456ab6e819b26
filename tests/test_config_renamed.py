"""Plans written for an older cockpit: a renamed key is one line saying what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli import main

MINIMAL = (Path(__file__).parent / "plans" / "valid_minimal.yaml").read_text()


def _check(tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    code = main(["check", str(plan)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("old, new, words", [
    ("{id: D1, title: Switch, owner: dba, planned: 10m, requires: [lag_ok], critical: true}",
     "{id: D1, title: Switch, owner: dba, planned: 10m, requires: [lag_ok], critical: true, "
     "second_operator: true}",
     "'second_operator' is now 'two_person: true'"),
    ("  journal: journal.jsonl\n",
     "  journal: journal.jsonl\n  journal_mirror: {source: sim, table: cockpit_journal}\n",
     "'journal_mirror' is replaced by 'shared_journal: {source: <a postgres source>"),
])
def test_an_old_key_says_what_to_write_instead(tmp_path, capsys, old, new, words):
    assert old in MINIMAL
    code, err = _check(tmp_path, MINIMAL.replace(old, new), capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if words in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{tmp_path / 'plan.yaml'}:")


def test_the_new_keys_load(tmp_path, capsys):
    text = MINIMAL.replace("critical: true}", "critical: true, two_person: true}")
    text = text.replace("- {id: back", "- {id: back")
    text = text.replace("  rollback:\n", "  rollback:\n    two_person: true\n")
    text = text.replace("- {name: ann, role: lead}", "- {name: ann, role: lead, logins: [ann, ann_ops]}")
    code, err = _check(tmp_path, text, capsys)
    assert code == 0, err


@pytest.mark.parametrize("bad, words", [
    ("logins: ['Robert; rm']", "is not a unix login name"),
    ("logins: [7]", "expected"),
])
def test_a_login_that_is_no_login_name_is_refused(tmp_path, capsys, bad, words):
    text = MINIMAL.replace("- {name: ann, role: lead}", f"- {{name: ann, role: lead, {bad}}}")
    code, err = _check(tmp_path, text, capsys)
    assert code == 2 and words in err, err


def test_shared_journal_needs_a_postgres_source(tmp_path, capsys):
    text = MINIMAL.replace("  journal: journal.jsonl\n",
                           "  journal: journal.jsonl\n  shared_journal: {source: sim}\n")
    code, err = _check(tmp_path, text, capsys)
    assert code == 2 and "source 'sim' must be of type postgres" in err, err
    text = MINIMAL.replace("  journal: journal.jsonl\n",
                           "  journal: journal.jsonl\n  shared_journal: {source: sim, table: 'Bad-Name'}\n")
    code, err = _check(tmp_path, text, capsys)
    assert code == 2 and "is not a table name" in err, err


def test_two_person_on_a_decision_is_refused_not_ignored(tmp_path, capsys):
    text = MINIMAL.replace("critical: true}", "critical: true, kind: decision, two_person: true}")
    code, err = _check(tmp_path, text, capsys)
    assert code == 2 and "two_person applies to task steps" in err, err
