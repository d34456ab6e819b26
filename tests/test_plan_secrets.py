"""A ``${VAR}`` value in the wrong field (a swapped variable name) is never printed.

The plan puts the variables into typed fields (an interval, a duration, a number, a source
type, an id, a choice) and into a reference (a signal's source); each verb that loads a plan
runs as a real process with the variables set, and no part of either secret may show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"
PASSWORD = "p@ss:w0rd/42!xyz"
FRAGMENTS = [PASSPHRASE, PASSWORD, "correct", "horse", "battery", "staple", "w0rd", "42!xyz", "p%40ss"]

PLAN = """\
cutover:
  id: leak-1
  name: Leak test
  journal: journal.jsonl
  window: {start: 2026-11-28T22:00:00Z, end: 2026-11-29T06:00:00Z}
operators:
  roles:
    lead: {confirm: ["*"]}
  people:
    - {name: ann, role: lead}
sources:
  sim:
    type: simulated
    seed: ${PW_A}
  other:
    type: ${PW_B}
  web:
    type: http
    url: "http://127.0.0.1:1"
    max_redirects: ${PW_B}
    timeout: ${PW_A}
signals:
  lag_s:
    source: sim
    every: ${PW_A}
    measure: ${PW_B}
    simulate: {base: 1}
  other_s:
    source: ${PW_A}
gates:
  lag_ok:
    expr: lag_s < 5
    hold_for: ${PW_B}
runbook:
  phases:
    - id: before
      title: Before
      steps:
        - {id: "${PW_B}", title: Prepare, owner: lead, planned: "${PW_A}"}
  rollback:
    phases:
      - id: back
        title: Back
        steps:
          - {id: R1, title: Back, owner: lead, planned: 10m}
"""


@pytest.mark.parametrize("verb", ["check", "gates", "status", "reconcile", "run"])
def test_env_values_in_typed_fields_never_reach_the_output(tmp_path, verb):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT_")}
    env |= {"PW_A": PASSPHRASE, "PW_B": PASSWORD}
    proc = subprocess.run([sys.executable, "-m", "cockpit.cli", verb, str(plan)], capture_output=True,
                          text=True, env=env, timeout=60, stdin=subprocess.DEVNULL, cwd=Path(__file__).parent)
    both = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in both, both
    lines = proc.stderr.splitlines()
    prefix = "" if verb == "check" else f"cockpit {verb}: "  # every verb but check names itself
    assert len(lines) >= 10 and all(line.startswith(f"{prefix}{plan}:") for line in lines), both
    for fragment in FRAGMENTS:
        assert fragment not in both, (fragment, both)
    assert "${PW_A}" in both and "${PW_B}" in both  # the message names the variable instead
    assert "every: must be at least" not in both  # sanity: the interval error is the hidden one
