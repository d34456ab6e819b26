"""Plans that are not plans at all: one clear line, exit 2, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.config import PlanError, load_plan

HERE = Path(__file__).parent
VALID = HERE / "plans" / "valid_minimal.yaml"
SAMPLES = sorted((HERE.parent / "sample_configs").glob("*.yaml"))


def _check(path, capsys) -> list[str]:
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines


def test_empty_file(tmp_path, capsys):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert "the file is empty" in _check(p, capsys)[0]


def test_only_comments(tmp_path, capsys):
    p = tmp_path / "comments.yaml"
    p.write_text("# nothing here\n\n")
    assert "empty" in _check(p, capsys)[0]


def test_directory(tmp_path, capsys):
    assert "is a directory" in _check(tmp_path, capsys)[0]


def test_missing_file(tmp_path, capsys):
    assert "no such file" in _check(tmp_path / "nope.yaml", capsys)[0]


def test_binary_file(tmp_path, capsys):
    p = tmp_path / "plan.yaml"
    p.write_bytes(bytes(range(256)) * 4)
    assert "binary" in _check(p, capsys)[0]


def test_not_utf8(tmp_path, capsys):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("cutover:\n  name: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in _check(p, capsys)[0]


def test_fifty_megabyte_file(tmp_path, capsys):
    p = tmp_path / "huge.yaml"
    with p.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: cheap to make, still 50 MB to the loader
    line = _check(p, capsys)[0]
    assert "50 MB" in line and "at most 5 MB" in line


def test_billion_laughs_is_refused(tmp_path, capsys):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    p = tmp_path / "lol.yaml"
    p.write_text("\n".join(lines) + "\n")
    assert "too many YAML nodes" in _check(p, capsys)[0]


def test_unreadable_file(tmp_path):
    """Root reads anything, so when we are root a forked child drops to an unprivileged user
    (no exec needed, so the interpreter's own location does not matter) and runs the check."""
    p = tmp_path / "secret.yaml"
    p.write_text(VALID.read_text())
    p.chmod(0)
    tmp_path.chmod(0o755)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 3
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["check", str(p)])
            os.write(write_fd, err.getvalue().encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        err = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 2, err
    assert err.strip() == f"{p}:1:1: permission denied"


def test_traceback_free_via_real_process(tmp_path):
    """The console script itself, in a fresh interpreter, with garbage input."""
    p = tmp_path / "garbage.yaml"
    p.write_bytes(b"\x00\x01\x02garbage")
    proc = subprocess.run([sys.executable, "-m", "cockpit.cli", "check", str(p)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample_plans_pass_check(sample, capsys):
    assert main(["check", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out


def test_sample_plan_is_realistic():
    plan, _ = load_plan(HERE.parent / "sample_configs" / "ehr-cutover.yaml", for_run=False)
    assert {s.type for s in plan.sources.values()} >= {"postgres", "prometheus", "helpdesk"}
    assert 20 <= len(plan.runbook.all_steps()) <= 30
    assert [p.id for p in plan.runbook.phases] == ["before", "during", "after"]
    assert len(plan.runbook.rollback.phases) >= 2  # transport and data rollback kept apart
    assert any(s.kind == "decision" for s in plan.runbook.all_steps())
    assert plan.reconciliation is not None and plan.reconciliation.domain


def test_env_substitution_and_redaction():
    env = {"LEGACY_DB_PASSWORD": "s3cr3t-legacy", "CLOUD_DB_PASSWORD": "s3cr3t-cloud",
           "PROM_TOKEN": "tok-prom-123", "JIRA_BASIC_AUTH": "amlyYTp4", "SYNTHETIC_USER_KEY": "k-9999"}
    plan, warnings = load_plan(HERE.parent / "sample_configs" / "ehr-cutover.yaml", env=env)
    assert warnings == []
    assert "s3cr3t-legacy" in plan.sources["legacy_db"].dsn
    assert plan.sources["prometheus"].headers["Authorization"] == "Bearer tok-prom-123"
    text = "connection to host=x password=s3cr3t-legacy failed; token tok-prom-123"
    redacted = plan.redact(text)
    assert "s3cr3t-legacy" not in redacted and "tok-prom-123" not in redacted
    # Secrets never show in the model's repr either way round.
    assert "s3cr3t" not in plan.redact(repr(plan))


def test_missing_env_is_error_at_run_warning_at_check(capsys):
    sample = HERE.parent / "sample_configs" / "ehr-cutover.yaml"
    with pytest.raises(PlanError) as exc:
        load_plan(sample, for_run=True, env={})
    assert any("environment variable LEGACY_DB_PASSWORD is not set" in line for line in exc.value.lines)
    plan, warnings = load_plan(sample, for_run=False, env={})
    assert any("warning: environment variable PROM_TOKEN is not set" in w for w in warnings)
    assert main(["check", str(sample)]) == 0
    assert "warning: environment variable" in capsys.readouterr().err


def test_durations_and_defaults():
    plan, _ = load_plan(VALID)
    assert plan.gates["lag_ok"].hold_for == 60.0
    assert plan.gates["lag_ok"].max_staleness == 60.0
    step = plan.runbook.step("D1")
    assert step.planned == 600.0 and step.critical and step.requires == ["lag_ok"]
    assert plan.journal_path == VALID.parent.resolve() / "journal.jsonl"
    assert "NOT_APPLICABLE" in plan.cutover.reason_codes


def test_merge_keys_merge_and_errors_point_where_the_value_was_written(tmp_path):
    text = VALID.read_text().replace("    type: simulated\n", (
        "    type: simulated\n"
        "  web: &web {type: http, url: 'http://127.0.0.1:1', timeout: 2s}\n"
        "  web2:\n"
        "    <<: *web\n"
        "    url: 'http://127.0.0.1:2'\n"))
    p = tmp_path / "merge.yaml"
    p.write_text(text)
    plan, _ = load_plan(p)
    assert plan.sources["web2"].url == "http://127.0.0.1:2" and plan.sources["web2"].timeout == 2.0
    p.write_text(text.replace("timeout: 2s}", "timeout: 0s}"))
    with pytest.raises(PlanError) as exc:
        load_plan(p)
    assert exc.value.lines == [f"{p}:15:62: sources.web.timeout: must be at least 100ms",
                               f"{p}:15:62: sources.web2.timeout: must be at least 100ms"]


def test_a_merge_chain_cannot_expand_past_the_node_budget(tmp_path):
    rows = ["a0: &a0 {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1, k8: 1, k9: 1}"]
    for i in range(1, 9):
        rows.append(f"a{i}: &a{i} [" + ", ".join([f"{{<<: *a{i - 1}, x{j}: 1}}" for j in range(10)]) + "]")
    p = tmp_path / "lol.yaml"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(PlanError) as exc:
        load_plan(p)
    assert len(exc.value.lines) == 1 and "too many YAML nodes" in exc.value.lines[0]
