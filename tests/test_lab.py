"""`cockpit lab` end to end, through the command line, on one lab for the whole module.

The lab is brought up once (small scale), every fault is injected in turn and seen by
`cockpit gates` or `cockpit reconcile` (each a subprocess, as a user runs them), undone by
`clear` or `resume-replication`, and the last test takes the lab down and checks that no
process and no listening port is left. Waits poll a condition with a deadline; none sleeps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.commands.rehearse import Prepared, prepare
from cockpit.lab.clusters import children_of, listening, pid_alive
from cockpit.lab.ehr import FAKE_NAMES, PHI_MARKER
from cockpit.rehearsal.source import ScriptedSource
from tests.fixtures.pg import require_pg_bindir

SCENARIOS = Path(__file__).resolve().parents[1] / "sample_configs" / "scenarios"

PATIENTS = 300
TIMEOUT = 120
DEADLINE = 60.0


def cockpit(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, env=env)


def _lab_parent() -> Path:
    # PostgreSQL runs as an unprivileged user under root: it must be able to enter the folder
    # (pytest's tmp_path lives under a root-only 0700 folder).
    parent = Path(tempfile.mkdtemp(prefix="cockpit-lab-test-", dir="/tmp"))
    parent.chmod(0o755)
    return parent


class Lab:
    def __init__(self, folder: Path, plan: Path, seconds: float):
        self.dir = folder
        self.plan = plan
        self.seconds = seconds

    def state(self) -> dict[str, Any]:
        return json.loads((self.dir / "lab.json").read_text())

    def fault(self, name: str, *extra: str) -> str:
        done = cockpit("lab", "fault", name, "--dir", str(self.dir), *extra)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def gates(self) -> dict[str, str]:
        done = cockpit("gates", str(self.plan), "--json")
        assert done.returncode in (0, 1), done.stderr
        return {g["gate"]: g["state"] for g in json.loads(done.stdout)}

    def reconcile(self, *extra: str) -> tuple[int, dict[str, Any], str]:
        done = cockpit("reconcile", str(self.plan), "--json", *extra)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_pg_bindir()
    parent = _lab_parent()
    folder = parent / "lab"
    try:
        started = time.monotonic()
        done = cockpit("lab", "up", "--dir", str(folder), "--patients", str(PATIENTS))
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        plan = Path(done.stdout.strip().splitlines()[-1])
        yield Lab(folder, plan, seconds)
    finally:
        if folder.exists():
            cockpit("lab", "down", "--purge", "--dir", str(folder))
        shutil.rmtree(parent, ignore_errors=True)


def wait_for(what: str, probe: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
    """Poll ``probe`` until ``ok`` holds for its answer; fail with the last answer."""
    deadline = time.monotonic() + DEADLINE
    while True:
        seen = probe()
        if ok(seen):
            return seen
        assert time.monotonic() < deadline, f"{what}: still {seen!r} after {DEADLINE:.0f}s"


PASSING = ("GO", "HOLD")  # HOLD: true, but one poll cannot observe a hold_for window
LEFT = ("NO-GO", "UNKNOWN")


def kinds(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["layer"], f["kind"], f.get("check") or f["table"]) for f in report["findings"]}


# -- up -------------------------------------------------------------------------------------

def test_up_prints_a_plan_that_works_at_once(lab: Lab):
    assert lab.plan.is_file() and lab.plan.parent == lab.dir
    print(f"\nlab up with {PATIENTS} patients: {lab.seconds:.1f}s")
    assert cockpit("check", str(lab.plan)).returncode == 0
    state = lab.state()
    for part in (state["legacy"], state["cloud"], state["service"]):
        assert pid_alive(part["pid"]) and listening(part["port"])
    gates = lab.gates()
    assert set(gates) == {"replication_caught_up", "reconciliation_clean", "interfaces_drained",
                          "clinical_health", "helpdesk_quiet", "rollback_ready"}
    # Everything but reconciliation (no run in the journal yet) passes on a healthy lab.
    assert all(gates[g] in PASSING for g in gates if g != "reconciliation_clean"), gates
    code, report, _ = lab.reconcile()
    assert code == 0 and report["findings"] == []
    assert lab.gates()["reconciliation_clean"] == "GO"


def test_a_second_up_says_so_and_changes_nothing(lab: Lab):
    before = (lab.dir / "lab.json").read_bytes(), lab.plan.read_bytes()
    done = cockpit("lab", "up", "--dir", str(lab.dir))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "already up" in done.stderr and str(lab.plan) in done.stderr
    assert ((lab.dir / "lab.json").read_bytes(), lab.plan.read_bytes()) == before


def test_status_shows_pids_ports_and_replication(lab: Lab):
    done = cockpit("lab", "status", "--dir", str(lab.dir))
    assert done.returncode == 0, done.stderr
    state = lab.state()
    for part in ("legacy", "cloud", "service"):
        assert f"pid {state[part]['pid']}" in done.stdout and f"port {state[part]['port']}" in done.stdout
    assert "replication  streaming" in done.stdout


def test_bad_input_is_one_line_and_exit_2(lab: Lab, tmp_path: Path):
    for argv in (["lab", "fault", "no-such-fault", "--dir", str(lab.dir)],
                 ["lab", "fault", "corrupt-rows", "--count", "0", "--dir", str(lab.dir)],
                 ["lab", "status", "--dir", str(tmp_path / "none")],
                 ["lab", "fault", "clear", "--dir", str(tmp_path / "none")],
                 ["lab", "down", "--dir", str(tmp_path / "none")],
                 ["lab", "up", "--patients", "0", "--dir", str(tmp_path / "zero")],
                 ["lab"]):
        done = cockpit(*argv)
        assert done.returncode == 2, argv
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, (argv, done.stderr)
    assert not (tmp_path / "none").exists() and not (tmp_path / "zero").exists()
    assert lab.state()["faults"] == {}
    env = {**os.environ, "COCKPIT_LAB_PG_BINDIR": str(tmp_path)}  # a folder without PostgreSQL
    done = cockpit("lab", "up", "--dir", str(tmp_path / "nopg"), env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "PostgreSQL server binaries not found" in done.stderr
    assert not (tmp_path / "nopg").exists()


@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_every_sample_scenario_fits_the_lab_plan(lab: Lab, scenario: str):
    """Same source and signal names as the sample plan: every sample scenario prepares
    against the lab plan (no secrets needed), and the lab one keeps the databases real."""
    args = argparse.Namespace(config=str(lab.plan), scenario=str(SCENARIOS / scenario), speed=1.0,
                              journal=str(lab.dir / "journal" / f"r-{scenario}.jsonl"),
                              operator="m.okafor", layout=None)
    prepared = prepare(args, env={})
    assert isinstance(prepared, Prepared), scenario
    real = {n for n, s in prepared.sources.items() if not isinstance(s, ScriptedSource)}
    if scenario == "lag-crisis-lab.yaml":
        assert real == {"legacy_db", "cloud_db", "legacy_heartbeat", "cloud_heartbeat"}
    else:
        assert real == {"legacy_heartbeat", "cloud_heartbeat"}  # the sample knows no heartbeat


# -- data faults: reconcile sees them, clear undoes them -----------------------------------

def _clean_after_clear(lab: Lab) -> None:
    out = lab.fault("clear")
    assert "cleared" in out
    code, report, _ = lab.reconcile()
    assert code == 0 and report["findings"] == [], kinds(report)


def test_corrupt_rows_are_found_without_leaking_the_values(lab: Lab):
    lab.fault("corrupt-rows", "--count", "4")
    code, report, text = lab.reconcile()
    assert code == 1
    changed = [f for f in report["findings"] if f["kind"] == "changed" and f["table"] == "patients"]
    assert len(changed) == 4
    assert sorted(int(f["keys"][0]) for f in changed) == lab.state()["faults"]["corrupt-rows"]
    for name in (PHI_MARKER, *FAKE_NAMES, *PHI_MARKER.split()):
        assert name not in text
    _clean_after_clear(lab)


def test_duplicate_mrns_make_a_domain_finding(lab: Lab):
    lab.fault("duplicate-mrns")
    code, report, text = lab.reconcile()
    assert code == 1
    assert ("domain", "duplicate", "duplicate_mrn") in kinds(report)
    assert "MRN0" not in text  # the shared MRN itself is identifying: hashed, never shown
    gates = lab.gates()
    assert gates["reconciliation_clean"] == "NO-GO"
    _clean_after_clear(lab)


def test_deleted_attachments_are_missing_in_storage_content_and_domain(lab: Lab):
    lab.fault("delete-attachments", "--count", "3")
    code, report, _ = lab.reconcile()
    assert code == 1
    found = kinds(report)
    assert ("storage", "file_missing", "exports/manifest.sha256") in found
    assert ("content", "missing", "attachments") in found
    assert ("domain", "count_mismatch", "attachments_per_document") in found
    missing = [f for f in report["findings"] if f["kind"] == "missing" and f["table"] == "attachments"]
    assert sorted(int(f["keys"][0]) for f in missing) == lab.state()["faults"]["delete-attachments"]
    _clean_after_clear(lab)


# -- replication: gates see the pause, catch-up is real -------------------------------------

def test_paused_replication_leaves_go_and_resume_catches_up(lab: Lab):
    assert lab.gates()["replication_caught_up"] in PASSING
    lab.fault("pause-replication", "--count", "7")
    wait_for("replication_caught_up after pause", lambda: lab.gates()["replication_caught_up"],
             lambda state: state in LEFT)
    code, report, _ = lab.reconcile("--table", "encounters", "--layer", "content")
    assert code == 1
    assert len([f for f in report["findings"] if f["kind"] == "missing"]) == 7
    status = cockpit("lab", "status", "--dir", str(lab.dir))
    assert "replication  paused" in status.stdout

    lab.fault("resume-replication")
    assert "pause-replication" not in lab.state()["faults"]
    wait_for("replication_caught_up after resume", lambda: lab.gates()["replication_caught_up"],
             lambda state: state in PASSING)
    wait_for("encounters caught up", lambda: lab.reconcile("--table", "encounters")[0],
             lambda code: code == 0)


# -- service faults: gates see them ---------------------------------------------------------

def test_ticket_surge_holds_the_help_desk_gate(lab: Lab):
    lab.fault("ticket-surge")
    assert lab.gates()["helpdesk_quiet"] == "NO-GO"
    lab.fault("clear")
    assert lab.gates()["helpdesk_quiet"] == "GO"


def test_slow_queries_fail_clinical_health(lab: Lab):
    lab.fault("slow-queries")
    done = cockpit("gates", str(lab.plan))
    assert done.returncode == 1
    line = next(line for line in done.stdout.splitlines() if "clinical_health" in line)
    assert "NO-GO" in line and "chart_open_ms" in line
    lab.fault("clear")
    assert lab.gates()["clinical_health"] in PASSING


def test_purge_refuses_while_a_cockpit_writes_a_journal_in_the_lab(lab: Lab):
    from cockpit.journal import Actor, Journal

    path = lab.dir / "journal" / "lab.rehearsal-lag-crisis.jsonl"
    path.parent.mkdir(exist_ok=True)
    held = Journal.open(path, cutover_id="ehr-lab", holder=Actor.current("m.okafor"))
    try:
        before = (lab.dir / "lab.json").read_bytes()
        done = cockpit("lab", "down", "--purge", "--dir", str(lab.dir))
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert f"a cockpit is writing the journal {path} (pid" in done.stderr
        assert "operator m.okafor" in done.stderr
        # Nothing stopped, nothing removed.
        assert (lab.dir / "lab.json").read_bytes() == before and path.exists()
        assert cockpit("lab", "status", "--dir", str(lab.dir)).returncode == 0
    finally:
        held.close()
    path.unlink()


# -- down: nothing left behind (keep this test last) -----------------------------------------

def test_down_stops_everything_it_started_and_nothing_else(lab: Lab):
    state = lab.state()
    ports = [state[p]["port"] for p in ("legacy", "cloud", "service")]
    pids = [state[p]["pid"] for p in ("legacy", "cloud", "service")]
    pids += [kid for p in ("legacy", "cloud") for kid in children_of(state[p]["pid"])]
    # A second lab beside it (own ports, recorded in its own lab.json) must survive.
    other = lab.dir.parent / "other"
    done = cockpit("lab", "up", "--dir", str(other), "--patients", "20")
    assert done.returncode == 0, done.stderr
    try:
        theirs = json.loads((other / "lab.json").read_text())
        assert not {theirs[p]["port"] for p in ("legacy", "cloud", "service")} & set(ports)
        done = cockpit("lab", "down", "--dir", str(lab.dir))
        assert done.returncode == 0, done.stderr
        assert "stopped legacy, cloud, service" in done.stdout
        assert [p for p in pids if pid_alive(p)] == []
        assert [p for p in ports if listening(p)] == []
        assert cockpit("lab", "status", "--dir", str(other)).returncode == 0  # not ours: untouched
    finally:
        cockpit("lab", "down", "--purge", "--dir", str(other))
    assert not other.exists()
    assert cockpit("lab", "status", "--dir", str(lab.dir)).returncode == 1
    assert cockpit("lab", "fault", "clear", "--dir", str(lab.dir)).returncode == 2
    # A stopped lab starts again on its data and its database ports.
    done = cockpit("lab", "up", "--dir", str(lab.dir))
    assert done.returncode == 0 and "started again" in done.stderr, done.stderr
    assert Path(done.stdout.strip()) == lab.plan
    again = lab.state()
    assert [again[p]["port"] for p in ("legacy", "cloud")] == ports[:2]
    assert cockpit("lab", "status", "--dir", str(lab.dir)).returncode == 0
    done = cockpit("lab", "down", "--purge", "--dir", str(lab.dir))
    assert done.returncode == 0 and not lab.dir.exists()
