"""The ``env`` keys of a runbook and its steps: refused at ``check`` with FILE:LINE:COL when
malformed; their values are secrets to the plan's redactor; a missing one is an error at run
and a warning at check, like ``${VAR}``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.config import PlanError, load_plan

VALID = Path(__file__).parent / "plans" / "valid_minimal.yaml"
STEP = "        - {id: B1, title: Prepare, owner: lead, planned: 5m}\n"


def variant(tmp_path: Path, step_line: str, runbook_env: str = "") -> Path:
    text = VALID.read_text()
    assert STEP in text
    text = text.replace(STEP, step_line)
    if runbook_env:
        text = text.replace("runbook:\n", f"runbook:\n  env: {runbook_env}\n")
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def check_error(path: Path, capsys) -> str:
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[0]


@pytest.mark.parametrize("env, col, words", [
    ('"PGPASSWORD"', 79, "expected a list, got 'PGPASSWORD'"),
    ("[PG-PASSWORD]", 80, "'PG-PASSWORD' is not an environment variable name"),
    ("[9LIVES]", 80, "'9LIVES' is not an environment variable name"),
    ("[PATH]", 80, "'PATH' is always given to step commands: do not declare it in env"),
    ("[TOKEN_A, TOKEN_A]", 79, "'TOKEN_A' is declared twice"),
    ("[{a: b}]", 80, "expected text, got a mapping"),
])
def test_a_malformed_step_env_is_refused_at_its_place(tmp_path, capsys, env, col, words):
    line = ("        - {id: B1, title: Prepare, owner: lead, planned: 5m, run: [env], "
            f"env: {env}}}\n")
    path = variant(tmp_path, line)
    first = check_error(path, capsys)
    assert first.startswith(f"{path}:28:{col}: runbook.phases[0].steps[0].env"), first
    assert words in first, first


def test_a_malformed_runbook_env_is_refused_at_its_place(tmp_path, capsys):
    path = variant(tmp_path, STEP, runbook_env="[HOME]")
    first = check_error(path, capsys)
    assert first.startswith(f"{path}:24:9: runbook.env[0]: 'HOME' is always given"), first


def test_declared_values_are_secrets_and_the_step_gets_runbook_and_step_names(tmp_path):
    line = "        - {id: B1, title: Prepare, owner: lead, planned: 5m, env: [STEP_PW]}\n"
    path = variant(tmp_path, line, runbook_env="[SHARED_TOKEN]")
    plan, warnings = load_plan(path, env={"STEP_PW": "pw-7f3a9c", "SHARED_TOKEN": "tok-51e0d2"})
    assert warnings == []
    step = plan.runbook.step("B1")
    assert plan.runbook.env_for(step) == ["SHARED_TOKEN", "STEP_PW"]
    assert plan.runbook.env_for(plan.runbook.step("R1")) == ["SHARED_TOKEN"]
    assert plan.redact("pw-7f3a9c and tok-51e0d2") == "*** and ***"


def test_a_declared_variable_not_set_is_an_error_at_run_and_a_warning_at_check(tmp_path):
    line = "        - {id: B1, title: Prepare, owner: lead, planned: 5m, env: [STEP_PW]}\n"
    path = variant(tmp_path, line)
    with pytest.raises(PlanError) as exc:
        load_plan(path, for_run=True, env={})
    assert any(":28:" in e and "environment variable STEP_PW is not set" in e
               for e in exc.value.lines), exc.value.lines
    _, warnings = load_plan(path, for_run=False, env={})
    assert any("warning: environment variable STEP_PW is not set" in w for w in warnings)
