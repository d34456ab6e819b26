"""The lab's plan keeps the sample plan's names, so a scenario written for one fits the other."""

from __future__ import annotations

from pathlib import Path

import yaml

from cockpit.config import load_plan
from cockpit.lab import plan as lab_plan
from cockpit.lab.state import Cluster, Lab, Service

SAMPLE = Path(__file__).resolve().parents[1] / "sample_configs" / "ehr-cutover.yaml"
ADDED_SIGNALS = {"replication_heartbeat_s"}
ADDED_TABLES = {"documents", "attachments"}
ADDED_DOMAIN = {"attachments_per_document"}


def _lab(folder: Path) -> Lab:
    return Lab(dir=str(folder), seed=11, patients=10, run_as="postgres",
               legacy=Cluster("legacy", 5433, str(folder / "legacy" / "data"), 1),
               cloud=Cluster("cloud", 5434, str(folder / "cloud" / "data"), 2),
               service=Service(port=8080, pid=3))


def _steps(runbook: dict) -> list[str]:
    phases = [*runbook["phases"], *runbook["rollback"]["phases"]]
    return [s["id"] for p in phases for s in p["steps"]]


def test_the_lab_plan_loads_and_keeps_the_sample_names(tmp_path):
    lab = _lab(tmp_path)
    lab.plan_path.write_text(lab_plan.render(lab), encoding="utf-8")
    plan, _warnings = load_plan(lab.plan_path, env={})
    sample = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))

    assert set(plan.sources) == set(sample["sources"]) | {"legacy_heartbeat", "cloud_heartbeat"}
    assert set(plan.signals) == set(sample["signals"]) | ADDED_SIGNALS
    assert set(plan.gates) == set(sample["gates"])
    assert _steps(lab_plan.build(lab)["runbook"]) == _steps(sample["runbook"])
    recon = plan.reconciliation
    assert recon is not None and recon.storage is not None
    assert {t.name for t in recon.tables} == {t["name"] for t in sample["reconciliation"]["tables"]} | ADDED_TABLES
    assert {d.id for d in recon.domain} == {d["id"] for d in sample["reconciliation"]["domain"]} | ADDED_DOMAIN
    for name in ("legacy_db", "cloud_db"):
        assert f"port={5433 if name == 'legacy_db' else 5434}" in plan.sources[name].dsn  # type: ignore[union-attr]
    for name in ("prometheus", "helpdesk", "clinical_portal"):
        assert plan.sources[name].url == "http://127.0.0.1:8080"  # type: ignore[union-attr]
    hb = plan.signals["replication_heartbeat_s"]
    assert hb.probe == "heartbeat" and hb.heartbeat is not None and hb.heartbeat.target == "cloud_heartbeat"
    assert hb.source == "legacy_heartbeat"
    assert plan.sources["legacy_heartbeat"].dsn == plan.sources["legacy_db"].dsn  # type: ignore[union-attr]
    assert plan.sources["cloud_heartbeat"].dsn == plan.sources["cloud_db"].dsn  # type: ignore[union-attr]
    for gate, expr in ((g, plan.gates[g].expr) for g in plan.gates):
        assert expr == sample["gates"][gate]["expr"], gate  # same conditions as the sample


def test_the_plan_has_no_secret_to_hand_around(tmp_path):
    text = lab_plan.render(_lab(tmp_path))
    assert "${" not in text and "password" not in text.lower()
