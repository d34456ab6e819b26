"""Every broken plan under tests/plans/broken exits 2 with the right place and words.

Each case names the line and column the first error must point at, the dotted path and the
start of the message; the YAML at that position is also checked, so a position that is off by
a line fails even if the message is right.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli import main

BROKEN = Path(__file__).parent / "plans" / "broken"

CASES = [
    ("bad_json_path", 25, 16, "signals.web_sig.json_path", "bad JSON path: expected [number] or ['key'] at column 4"),
    ("bad_step_id", 28, 16, "runbook.phases[0].steps[0].id", "'B 1!' is not a valid id: use letters, d"),
    ("critical_not_bool", 32, 91, "runbook.phases[1].steps[0].critical", 'expected true or false, got 3'),
    ("duplicate_step_id", 38, 18, "runbook.rollback.phases[0].steps[0].id", "duplicate step id 'B1' (first used at ru"),
    ("duplicate_yaml_key", 23, 5, "gates.lag_ok.hold_for", "duplicate key 'hold_for' (first at line "),
    ("duration_garbage", 22, 15, "gates.lag_ok.hold_for", "bad duration '1 fortnight': write it lik"),
    ("duration_negative", 32, 56, "runbook.phases[1].steps[0].planned", "bad duration '-10m': write it like 5s, 1"),
    ("duration_no_unit", 28, 58, "runbook.phases[0].steps[0].planned", 'duration 5 needs a unit: write it like 5'),
    ("empty_phase_steps", 27, 14, "runbook.phases[0].steps", 'needs at least one entry'),
    ("expr_attribute_access", 21, 11, "gates.lag_ok.expr", 'expression does not parse: names startin'),
    ("expr_does_not_parse", 21, 19, "gates.lag_ok.expr", "expression does not parse: unexpected '<"),
    ("expr_function_call", 21, 12, "gates.lag_ok.expr", 'expression does not parse: names startin'),
    ("expr_unbalanced", 21, 21, "gates.lag_ok.expr", "expression does not parse: missing ')' a"),
    ("gate_not_mapping", 21, 5, "gates.lag_ok", 'expected a mapping, got a list'),
    ("gate_unknown_signal", 21, 11, "gates.lag_ok.expr", "unknown signal 'lag_seconds' (did you me"),
    ("inline_auth_header", 18, 30, "sources.prom.headers.Authorization", 'secret header written inline: use an env'),
    ("inline_dsn_password", 17, 10, "sources.db.dsn", 'password written inline in the DSN: writ'),
    ("inline_token_field", 19, 5, "sources.hd.token", "unknown key 'token'"),
    ("inline_url_password", 17, 10, "sources.db.dsn", 'password written inline in the URL: use '),
    ("malformed_yaml", 23, 8, "malformed YAML", "expected ',' or ']', but got ':'"),
    ("missing_cutover_id", 2, 3, "cutover.id", "missing required key 'id'"),
    ("missing_runbook", 1, 1, "runbook", "missing required key 'runbook'"),
    ("owner_unknown_role", 32, 42, "runbook.phases[1].steps[0].owner", "owner 'dbaa' is not a role in operators."),
    ("person_unknown_role", 11, 25, "operators.people[0].role", "unknown role 'leed' (did you mean 'lead'"),
    ("recon_unknown_source", 24, 11, "reconciliation.source", "unknown source 'legacy'"),
    ("requires_unknown_gate", 32, 72, "runbook.phases[1].steps[0].requires[0]", "requires unknown gate 'lag_okk' (did you"),
    ("signal_probe_on_http", 24, 5, "signals.web_sig.probe", "'probe' does not apply to a http source"),
    ("signal_unknown_source", 17, 13, "signals.lag_s.source", "unknown source 'simm' (did you mean 'sim"),
    ("sql_probe_without_query", 23, 5, "signals.db_sig", "probe 'sql' needs a 'query'"),
    ("step_kind_invalid", 28, 68, "runbook.phases[0].steps[0].kind", "expected 'task' or 'decision', got 'chor"),
    ("step_title_wrong_type", 28, 27, "runbook.phases[0].steps[0].title", 'expected text, got a list'),
    ("tab_indentation", 22, 1, "malformed YAML", "found character '\\t' that cannot start a"),
    ("top_level_list", 1, 1, "(top)", "a plan is a mapping with 'cutover', 'ope"),
    ("unknown_key_typo_requries", 32, 61, "runbook.phases[1].steps[0].requries", "unknown key 'requries' (did you mean 're"),
    ("unknown_source_type", 14, 11, "sources.sim.type", "unknown type 'oracle': expected one of p"),
    ("unknown_top_level_key", 19, 1, "gatez", "unknown key 'gatez' (did you mean 'gates"),
    ("window_no_timezone", 5, 19, "cutover.window.start", 'timestamp needs a time zone, e.g. 2026-1'),
    ("window_reversed", 5, 11, "cutover.window", 'window end must be after its start'),
    # bounds: durations are finite and at most 30 days; each field narrows that
    ("duration_over_30_days", 22, 15, "gates.lag_ok.hold_for", "duration '99999999999999999999999999999999999999s' is longer than 30 days"),
    ("duration_400_digits", 22, 15, "gates.lag_ok.hold_for", "duration is 402 characters long"),
    ("every_zero", 19, 12, "signals.lag_s.every", "must be at least 1s"),
    ("every_above_ceiling", 19, 12, "signals.lag_s.every", "must be at most 1h"),
    ("signal_timeout_below_floor", 19, 14, "signals.lag_s.timeout", "must be at least 100ms"),
    ("connect_timeout_zero", 18, 22, "sources.web.connect_timeout", "must be at least 100ms"),
    ("statement_timeout_above_ceiling", 18, 24, "sources.db.statement_timeout", "must be at most 1h"),
    ("hold_for_above_ceiling", 22, 15, "gates.lag_ok.hold_for", "must be at most 24h"),
    ("max_staleness_zero", 23, 20, "gates.lag_ok.max_staleness", "must be at least 1s"),
    ("run_timeout_zero", 29, 87, "runbook.phases[0].steps[0].run_timeout", "must be at least 1s"),
    ("number_not_finite", 18, 22, "signals.lag_s.simulate.base", "input should be a finite number"),
    ("expr_number_out_of_range", 21, 19, "gates.lag_ok.expr", "expression does not parse: number 1e16 is out of range (at most 1e15)"),
    # windows are met by readings that cover them
    ("gate_hold_for_shorter_than_every", 23, 15, "gates.lag_ok.hold_for",
     "signal 'lag_s' is read every 2m, longer than this gate's hold_for 1m"),
    ("gate_staleness_shorter_than_every", 24, 20, "gates.lag_ok.max_staleness",
     "signal 'lag_s' is read every 30s, longer than this gate's max_staleness 20s"),
    ("gate_default_staleness_shorter_than_every", 22, 5, "gates.lag_ok",
     "signal 'lag_s' is read every 2m, longer than this gate's max_staleness 1m (the default)"),
    ("signal_reserved_namespace", 19, 3, "signals.exceptions.open_critical",
     "'exceptions.open_critical' is in the reserved namespace 'exceptions.'"),
    # ids, names and codes are single-line tokens
    ("step_id_trailing_newline", 28, 16, "runbook.phases[0].steps[0].id", "'B1\\n' is not a valid id"),
    ("signal_name_trailing_newline", 16, 3, "signals['lag_s\\n']", "'lag_s\\n' is not a valid signal name"),
    ("reason_code_not_a_code", 6, 5, "cutover.reason_codes['SKIP IT\\n']", "'SKIP IT\\n' is not a valid id"),
    ("role_not_an_id", 9, 5, "operators.roles['db a']", "'db a' is not a valid id"),
    ("journal_path_not_printable", 4, 12, "cutover.journal", "a path must be non-empty printable text on one line"),
    # the file itself: every refusal has its place
    ("yaml_nested_too_deep", 20, 71, "YAML nested deeper than 64 levels", ""),
    ("yaml_control_character", 28, 30, "character U+0007 is not allowed in YAML", ""),
    ("yaml_merge_not_a_mapping", 23, 9, "a merge key (<<) takes a mapping or a list of mappings", ""),
    ("binary_nul_byte", 3, 16, "looks like a binary file, not a YAML plan", ""),
    ("not_utf8_byte", 3, 20, "not UTF-8 text (bad byte at offset 41)", ""),
]


def test_every_broken_plan_has_a_case():
    assert {p.stem for p in BROKEN.glob("*.yaml")} == {c[0] for c in CASES}
    assert len(CASES) >= 30


@pytest.mark.parametrize(("name", "line", "col", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_broken_plan_reports_place(name, line, col, path, message, capsys):
    plan = BROKEN / f"{name}.yaml"
    assert main(["check", str(plan)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""
    first = captured.err.splitlines()[0]
    expected = f"{plan}:{line}:{col}: {path}" + (f": {message}" if message else "")
    assert first.startswith(expected), first
    # The reported position is inside the file and on a non-blank line.
    lines = plan.read_bytes().decode("utf-8", "replace").split("\n")
    assert 1 <= line <= len(lines)
    assert lines[line - 1].strip(), f"line {line} of {name} is blank"


def test_all_problems_reported_at_once(tmp_path, capsys):
    text = (BROKEN.parent / "valid_minimal.yaml").read_text()
    text = text.replace("requires: [lag_ok]", "requries: [lag_ok]")
    text = text.replace("expr: lag_s < 5", "expr: lag_x < 5")
    text = text.replace("planned: 5m}", "planned: soon}")
    text = text.replace("source: sim\n", "source: nowhere\n")
    plan = tmp_path / "many.yaml"
    plan.write_text(text)
    assert main(["check", str(plan)]) == 2
    err = capsys.readouterr().err.splitlines()
    joined = "\n".join(err)
    assert "unknown key 'requries'" in joined
    assert "unknown signal 'lag_x'" in joined
    assert "bad duration 'soon'" in joined
    assert "unknown source 'nowhere'" in joined
    # Sorted by position in the file, so the operator can fix top to bottom.
    lines = [int(e.split(":")[1]) for e in err]
    assert lines == sorted(lines)


def test_relative_ca_file_is_taken_from_the_plan_folder(tmp_path):
    from cockpit.config import load_plan

    text = (BROKEN / "bad_json_path.yaml").read_text().replace("$.a[", "$.a[0]")
    plan_path = tmp_path / "sub" / "plan.yaml"
    plan_path.parent.mkdir()
    plan_path.write_text(text)
    plan, _ = load_plan(plan_path)
    assert plan.sources["web"].ca_file == str(plan_path.parent.resolve() / "certs" / "ca.pem")
