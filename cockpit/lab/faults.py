"""``lab fault NAME``: faults the cockpit must notice, and ``clear`` to undo them.

Data faults write on the cloud side with the lab's own superuser session (the cockpit's
sessions stay read-only); what they changed is recorded in ``lab.json`` by key only, so
``clear`` can put the legacy values back. Service faults edit ``service.json``.

What notices each one (the lab plan's names):

- ``pause-replication``: the subscription is disabled and clinical work goes on on legacy
  (new encounters): ``replication_caught_up`` leaves GO, reconcile finds missing encounters.
- ``resume-replication``: enabled again; lag falls back to 0 once the backlog is applied.
- ``corrupt-rows``: N patients changed on cloud: reconcile ``changed`` on ``patients``.
- ``delete-attachments``: N attachment rows and their files gone on cloud: reconcile
  storage ``file_missing``, content ``missing`` and ``attachments_per_document``.
- ``duplicate-mrns``: N cloud patients given another patient's MRN: ``duplicate_mrn``.
- ``ticket-surge``: N chart-access tickets: ``helpdesk_quiet`` NO-GO.
- ``slow-queries``: the clinical portal answers in 2.5 s: ``clinical_health`` NO-GO.
- ``clear``: all of the above undone (replication resumed; encounters written during a pause
  stay, they are real work and replicate).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from cockpit.lab import catalog, ehr, replication, service, state
from cockpit.lab.state import Lab, LabError

FAULTS = catalog.FAULTS
DEFAULT_COUNT = catalog.DEFAULT_COUNT


def inject(lab: Lab, name: str, count: int | None = None) -> str:
    """Apply fault ``name`` to a running lab; returns the one line saying what was done."""
    if name not in FAULTS:
        raise LabError(f"unknown fault {name!r}: one of {', '.join(FAULTS)}")
    n = DEFAULT_COUNT.get(name, 1) if count is None else count
    if n < 1 or n > 10_000:
        raise LabError(f"--count must be between 1 and 10000, not {n}")
    fn = globals()["_" + name.replace("-", "_")]
    message: str = fn(lab, n)
    state.save(lab)
    return message


def _rng(lab: Lab, name: str) -> random.Random:
    return random.Random(f"{lab.seed}:{name}:{sorted(lab.faults.get(name, []))}")


def _pick(lab: Lab, name: str, universe: int, n: int, taken: set[int]) -> list[int]:
    free = [k for k in range(1, universe + 1) if k not in taken]
    if len(free) < n:
        raise LabError(f"only {len(free)} rows left for {name}")
    return sorted(_rng(lab, name).sample(free, n))


def _touched_patients(lab: Lab) -> set[int]:
    return set(lab.faults.get("corrupt-rows", [])) | set(lab.faults.get("duplicate-mrns", []))


# -- replication ----------------------------------------------------------------------------

def _pause_replication(lab: Lab, n: int) -> str:
    with replication.connect(lab.cloud.port) as cloud:
        replication.pause(cloud)
    with replication.connect(lab.legacy.port) as legacy:
        top = legacy.execute("select coalesce(max(encounter_id), 0) from ehr.encounters").fetchone()
        first = int(top[0] if top else 0) + 1
        rng = _rng(lab, "pause-replication")
        now = datetime.now(UTC)
        with legacy.cursor() as cur:
            cur.executemany(
                "insert into ehr.encounters values (%s, %s, %s, 'emergency', %s, null)",
                [(first + i, rng.randint(1, lab.patients), rng.randint(1, 5),
                  now - timedelta(seconds=i)) for i in range(n)])
    lab.faults["pause-replication"] = True
    return (f"replication paused (subscription {replication.SUBSCRIPTION} disabled); "
            f"{n} new encounters written on legacy")


def _resume_replication(lab: Lab, n: int) -> str:
    with replication.connect(lab.cloud.port) as cloud:
        replication.resume(cloud)
    lab.faults.pop("pause-replication", None)
    return f"replication resumed (subscription {replication.SUBSCRIPTION} enabled)"


# -- data on the cloud side -------------------------------------------------------------------

def _corrupt_rows(lab: Lab, n: int) -> str:
    ids = _pick(lab, "corrupt-rows", lab.patients, n, _touched_patients(lab))
    # The whole marker in given_name: no generated given name has a space, so every picked
    # row really changes (a random name could otherwise be written over with itself).
    with replication.connect(lab.cloud.port) as cloud:
        cloud.execute("update ehr.patients set given_name = %s, family_name = 'Corrupted' "
                      "where patient_id = any(%s)", (ehr.PHI_MARKER, ids))
    lab.faults["corrupt-rows"] = sorted({*lab.faults.get("corrupt-rows", []), *ids})
    return f"{n} patient rows changed on cloud (ehr.patients)"


def _duplicate_mrns(lab: Lab, n: int) -> str:
    if lab.patients < 2:
        raise LabError("duplicate-mrns needs at least 2 patients")
    ids = _pick(lab, "duplicate-mrns", lab.patients, n, _touched_patients(lab))
    with replication.connect(lab.cloud.port) as cloud, cloud.cursor() as cur:
        for pid in ids:
            other = pid - 1 if pid > 1 else pid + 1
            cur.execute("update ehr.patients set mrn = (select mrn from ehr.patients "
                        "where patient_id = %s) where patient_id = %s", (other, pid))
    lab.faults["duplicate-mrns"] = sorted({*lab.faults.get("duplicate-mrns", []), *ids})
    return f"{n} cloud patients now share another patient's MRN (ehr.patients.mrn)"


def _delete_attachments(lab: Lab, n: int) -> str:
    with replication.connect(lab.legacy.port) as legacy:
        row = legacy.execute("select count(*) from ehr.attachments").fetchone()
    total = int(row[0]) if row else 0
    ids = _pick(lab, "delete-attachments", total, n, set(lab.faults.get("delete-attachments", [])))
    with replication.connect(lab.cloud.port) as cloud:
        cloud.execute("delete from ehr.attachments where attachment_id = any(%s)", (ids,))
    files = lab.path / "exports" / "attachments"
    for att in ids:
        (files / ehr.attachment_name(att)).unlink(missing_ok=True)
    lab.faults["delete-attachments"] = sorted({*lab.faults.get("delete-attachments", []), *ids})
    return f"{n} attachments deleted on cloud (ehr.attachments rows and their files)"


# -- the service ------------------------------------------------------------------------------

def _service_state(lab: Lab) -> dict[str, Any]:
    doc = state.read_json(lab.path / state.SERVICE_FILE)
    if not isinstance(doc, dict):
        raise LabError("service.json is not the lab service's state")
    return doc


def _ticket_surge(lab: Lab, n: int) -> str:
    doc = _service_state(lab)
    tickets = doc.setdefault("tickets", [])
    start = len(tickets) + 1
    added = service.surge_tickets(start, n, datetime.now(UTC))
    tickets.extend(added)
    state.write_json(lab.path / state.SERVICE_FILE, doc)
    lab.faults["ticket-surge"] = [*lab.faults.get("ticket-surge", []), *(t["key"] for t in added)]
    return f"{n} chart-access tickets opened on the help desk"


def _slow_queries(lab: Lab, n: int) -> str:
    doc = _service_state(lab)
    doc["chart_ms"] = service.SLOW_CHART_MS
    state.write_json(lab.path / state.SERVICE_FILE, doc)
    lab.faults["slow-queries"] = True
    return f"the clinical portal now takes {service.SLOW_CHART_MS} ms to open a chart"


# -- clear ----------------------------------------------------------------------------------

def _clear(lab: Lab, n: int) -> str:
    done = []
    patients = sorted(_touched_patients(lab))
    attachments = lab.faults.get("delete-attachments", [])
    if patients or attachments:
        with replication.connect(lab.legacy.port) as legacy, \
                replication.connect(lab.cloud.port) as cloud:
            if patients:
                _copy_rows(legacy, cloud, "patients", "patient_id", patients, replace=True)
                done.append(f"{len(patients)} patients restored")
            if attachments:
                _copy_rows(legacy, cloud, "attachments", "attachment_id", attachments, replace=False)
                files = lab.path / "exports" / "attachments"
                files.mkdir(parents=True, exist_ok=True)
                for att in attachments:
                    (files / ehr.attachment_name(att)).write_bytes(ehr.attachment_bytes(lab.seed, att))
                done.append(f"{len(attachments)} attachments restored")
    if lab.faults.get("pause-replication"):
        _resume_replication(lab, 0)
        done.append("replication resumed")
    if lab.faults.get("ticket-surge") or lab.faults.get("slow-queries"):
        doc = _service_state(lab)
        surge = set(lab.faults.get("ticket-surge", []))
        doc["tickets"] = [t for t in doc.get("tickets", []) if t.get("key") not in surge]
        doc["chart_ms"] = service.BASELINE_CHART_MS
        state.write_json(lab.path / state.SERVICE_FILE, doc)
        done.append("help desk and portal back to normal")
    lab.faults = {}
    return "cleared: " + ("; ".join(done) if done else "nothing to undo")


def _copy_rows(legacy: psycopg.Connection, cloud: psycopg.Connection, table: str, key: str,
               keys: list[int], *, replace: bool) -> None:
    """The legacy rows with these keys, written over (or back into) the cloud table."""
    with legacy.cursor() as cur:
        cur.execute(f"select * from ehr.{table} where {key} = any(%s)", (keys,))
        rows = cur.fetchall()
        columns = [d.name for d in cur.description or []]
    marks = ", ".join(["%s"] * len(columns))
    with cloud.transaction(), cloud.cursor() as cur:
        if replace:
            cur.execute(f"delete from ehr.{table} where {key} = any(%s)", (keys,))
        cur.executemany(f"insert into ehr.{table} ({', '.join(columns)}) values ({marks}) "
                        "on conflict do nothing", rows)
