"""A scripted night for the evidence-pack tests: a real reconciliation (``cockpit reconcile``
on two real PostgreSQL databases seeded with fake patient names) into the plan's journal,
then operators acting through ``Operations`` (the real action path): a two-person approval,
an override with its gate snapshot, a critical step confirmed, a triage, notes, a gate change
and a rollback, with hostile notes and secrets in the environment."""

from __future__ import annotations

import dataclasses
import html.parser
import time
from pathlib import Path

import yaml

from cockpit.cli import main
from cockpit.config import load_plan
from cockpit.gates import GateState, GateStatus
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations
from tests.test_recon_runner import write_plan

HOSTILE = ('<script>alert("x")</script> [click](http://evil.example/a) '
           '![pic](http://evil.example/p.png) <img src=x onerror=alert(1)> **bold** '
           '# not a heading | a pipe & an &amp; entity `code` <!-- c -->')
HOSTILE_TITLE = "<b onclick=alert(2)>ticket</b> [t](javascript:alert(3))"
SECRET_PASSWORD = "Sup3rS3cretPw-9d1f"
SECRET_TOKEN = "tok-7f3a9c1e55d2aa01"
PACK_FILES = {"index.html", "evidence.md", "evidence.json", "journal.jsonl",
              "journal-verification.json", "MANIFEST.sha256"}


def scripted_night(tmp_path: Path, cluster, src: str, dst: str, monkeypatch) -> Path:
    """Play the night; returns the plan's path (its journal is ``tmp_path/journal.jsonl``)."""
    monkeypatch.setenv("LEGACY_DSN", cluster.dsn(src) + f" password={SECRET_PASSWORD}")
    monkeypatch.setenv("CLOUD_DSN", cluster.dsn(dst) + f" password={SECRET_PASSWORD}")
    monkeypatch.setenv("REPORT_API_TOKEN", SECRET_TOKEN)
    path = write_plan(tmp_path, "${LEGACY_DSN}", "${CLOUD_DSN}")
    doc = yaml.safe_load(path.read_text())
    doc["operators"] = {
        "roles": {"chief": {"confirm": ["*"], "decide": True, "override": True, "rollback": True,
                            "triage": True, "approve_clinical": True, "approve_critical": True}},
        "people": [{"name": "ann", "role": "chief"}, {"name": "bob.obrien", "role": "chief"}],
    }
    steps = doc["runbook"]["phases"]
    steps[0]["steps"][0]["two_person"] = True
    steps[1]["steps"][0]["owner"] = "chief"
    steps[0]["steps"][0]["owner"] = "chief"
    doc["runbook"]["rollback"]["phases"][0]["steps"][0]["owner"] = "chief"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))

    assert main(["reconcile", str(path)]) == 1  # differences found, recorded in the journal

    plan, _ = load_plan(path, for_run=False)
    journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)

    def ops(name: str) -> Operations:
        actor = dataclasses.replace(Actor.current(name), session=f"s-{name[:3]}")
        return Operations(plan, journal, actor)

    ann, bob = ops("ann"), ops("bob.obrien")
    now = time.time()
    go = {"lag_ok": GateStatus("lag_ok", GateState.GO, "lag_s 1 < 5", now)}
    nogo = {"lag_ok": GateStatus("lag_ok", GateState.NO_GO, "lag_s 9 >= 5 " + HOSTILE_TITLE, now)}
    request = ann.confirm("B1", go)
    assert request.action == "approval.request"
    bob.approve(request.seq, go, typed="B1")
    ann.override("lag_ok", "D1", "KNOWN_ISSUE", "override: " + HOSTILE, nogo)
    ann.confirm("D1", nogo, typed="D1")
    exc_id = next(iter(ann.state.exceptions))
    bob.triage(exc_id, "defer", "KNOWN_ISSUE", "triage: " + HOSTILE)
    ann.note(HOSTILE)
    ann.record_gate_change(nogo["lag_ok"], go["lag_ok"])
    bob.start_rollback("DATA_MISMATCH", "rollback: " + HOSTILE)
    journal.close()
    return path


class Markup(html.parser.HTMLParser):
    """Every start tag and attribute, and the text, of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


def markup(page: str) -> Markup:
    p = Markup()
    p.feed(page)
    p.close()
    return p


def write_history(journal_path: Path, t0: float, minutes: int = 75) -> Path:
    """A signal history beside the journal, written by the real store: replication lag that
    spikes past its gate's threshold and settles, an exceptions count, gate changes."""
    from cockpit.history.store import History, history_path

    h = History.open(history_path(journal_path))
    for m in range(minutes):
        wall = t0 + 60 * m + 5
        h.record_reading("replication.lag_s", wall, 9.0 if 8 <= m < 20 else 1.5 + (m % 3) * 0.5,
                         False)
        h.record_reading("exceptions.open", wall, 2 if 8 <= m < 30 else 0, m == 40)
    for m, state in ((0, "GO"), (9, "NO-GO"), (21, "HOLD"), (31, "GO")):
        h.record_gate("g1", t0 + 60 * m, state, f"g1 is {state}")
    h.flush()
    h.close()
    return history_path(journal_path)
