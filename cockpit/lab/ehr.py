"""The synthetic EHR: schema and deterministic data from a seed.

Everything here is made up. Names come from a short list of improbable names, so a leak test
can search any output for them (:data:`FAKE_NAMES`); MRNs are ``MRN`` and nine digits; no date,
code or text belongs to anyone. The same seed and scale always give the same rows.

Clinical tables live in schema ``ehr`` on both clusters (logical replication pairs tables by
name). The legacy side also has what the sample plan's other signals read: ``interfaces.
hl7_outbound`` (the HL7 backlog) and ``ops.rollback_snapshots``, which are not replicated.
``cockpit.heartbeat`` is the one table the cockpit may write (its heartbeat probe).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

GIVEN = ("Zebulon", "Philomena", "Barnaby", "Ottoline", "Cornelius", "Hortensia")
FAMILY = ("Quackenbush", "Fairweather", "Thistlewood", "Pemberton-Fizz", "Wobblesworth",
          "Mcgillicuddy")
FAKE_NAMES = tuple(f"{g} {f}" for g, f in zip(GIVEN, FAMILY, strict=True))
# What corrupt-rows writes on the cloud side: a test asserts it is in no cockpit output.
PHI_MARKER = "Zebulon Quackenbush"

SCHEMA = "ehr"
# The replicated clinical tables, in load order, and their keys.
TABLES: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "encounters": ("encounter_id",),
    "medication_orders": ("order_id",),
    "allergies": ("patient_id", "allergen_code"),
    "problem_list": ("problem_id",),
    "documents": ("document_id",),
    "attachments": ("attachment_id",),
}
HEARTBEAT_TABLE = "cockpit.heartbeat"
READER = "cockpit_ro"  # the role the lab plan's DSNs use

DDL = f"""
create schema {SCHEMA};
create table {SCHEMA}.patients (
  patient_id bigint primary key, mrn text not null, family_name text, given_name text,
  birth_date date, sex text, email text, updated_at timestamptz not null);
create table {SCHEMA}.encounters (
  encounter_id bigint primary key, patient_id bigint not null, facility_id int not null,
  kind text not null, started_at timestamptz not null, ended_at timestamptz);
create table {SCHEMA}.medication_orders (
  order_id bigint primary key, patient_id bigint not null, encounter_id bigint,
  drug_code text not null, dose text, route text, status text not null,
  ordered_at timestamptz not null, updated_at timestamptz not null);
create table {SCHEMA}.allergies (
  patient_id bigint not null, allergen_code text not null, reaction text, severity text,
  recorded_at timestamptz not null, primary key (patient_id, allergen_code));
create table {SCHEMA}.problem_list (
  problem_id bigint primary key, patient_id bigint not null, icd10 text not null,
  status text not null, noted_on date not null);
create table {SCHEMA}.documents (
  document_id bigint primary key, patient_id bigint not null, encounter_id bigint,
  kind text not null, created_at timestamptz not null);
create table {SCHEMA}.attachments (
  attachment_id bigint primary key, document_id bigint not null, file_name text not null,
  media_type text not null, bytes int not null, sha256 text not null);
create index on {SCHEMA}.encounters (patient_id);
create index on {SCHEMA}.medication_orders (patient_id);
create index on {SCHEMA}.documents (patient_id);
create index on {SCHEMA}.attachments (document_id);
create schema cockpit;
create table {HEARTBEAT_TABLE} (id int primary key, ts timestamptz not null);
"""

LEGACY_ONLY_DDL = """
create schema interfaces;
create table interfaces.hl7_outbound (
  message_id bigint primary key, status text not null, queued_at timestamptz not null);
create schema ops;
create table ops.rollback_snapshots (
  snapshot_id int primary key, taken_at timestamptz not null, verified boolean not null);
"""

_BASE = datetime(2026, 1, 1, tzinfo=UTC)
_DRUGS = ("RX0101", "RX0202", "RX0303", "RX0404", "RX0505", "RX0606", "RX0707")
_ROUTES = ("oral", "iv", "im", "topical")
_ALLERGENS = ("ALG-PEN", "ALG-NUT", "ALG-LTX", "ALG-SUL", "ALG-EGG", "ALG-IOD")
_REACTIONS = ("rash", "hives", "anaphylaxis", "nausea", "wheeze")
_SEVERITY = ("mild", "moderate", "severe")
_ICD = ("Z00.0", "I10", "E11.9", "J45.909", "M54.5", "K21.9", "F41.1")
_KINDS = ("inpatient", "outpatient", "emergency")
_DOCS = ("discharge_summary", "lab_report", "referral", "imaging_report")


def generate(seed: int, patients: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every clinical table, the same for the same (seed, patients)."""
    rng = random.Random(seed)
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
    enc_id = order_id = problem_id = doc_id = att_id = 0
    for pid in range(1, patients + 1):
        email = rng.choice((None, "", f"patient{pid}@example.invalid"))
        out["patients"].append((
            pid, f"MRN{pid:09d}", rng.choice(FAMILY), rng.choice(GIVEN),
            date(1930, 1, 1) + timedelta(days=rng.randrange(30000)), rng.choice(("F", "M", "X")),
            email, _BASE + timedelta(seconds=pid)))
        encounters = []
        for _ in range(rng.randint(1, 4)):
            enc_id += 1
            started = _BASE + timedelta(minutes=rng.randrange(400_000))
            out["encounters"].append((enc_id, pid, rng.randint(1, 5), rng.choice(_KINDS), started,
                                      started + timedelta(hours=rng.randint(1, 96))))
            encounters.append(enc_id)
        for _ in range(rng.randint(0, 5)):
            order_id += 1
            ordered = _BASE + timedelta(minutes=rng.randrange(400_000))
            out["medication_orders"].append((
                order_id, pid, rng.choice(encounters), rng.choice(_DRUGS),
                f"{rng.choice((5, 10, 25, 50, 100))} mg", rng.choice(_ROUTES),
                rng.choice(("active", "completed", "discontinued")), ordered,
                ordered + timedelta(minutes=rng.randint(0, 600))))
        for code in rng.sample(_ALLERGENS, rng.randint(0, 2)):
            out["allergies"].append((pid, code, rng.choice(_REACTIONS), rng.choice(_SEVERITY),
                                     _BASE + timedelta(days=rng.randrange(300))))
        for _ in range(rng.randint(0, 3)):
            problem_id += 1
            out["problem_list"].append((problem_id, pid, rng.choice(_ICD),
                                        rng.choice(("active", "resolved")),
                                        date(2000, 1, 1) + timedelta(days=rng.randrange(9000))))
        for _ in range(rng.randint(1, 3)):
            doc_id += 1
            out["documents"].append((doc_id, pid, rng.choice(encounters), rng.choice(_DOCS),
                                     _BASE + timedelta(minutes=rng.randrange(400_000))))
            if rng.random() < 0.4:
                att_id += 1
                body = attachment_bytes(seed, att_id)
                out["attachments"].append((att_id, doc_id, attachment_name(att_id), "application/pdf",
                                           len(body), hashlib.sha256(body).hexdigest()))
    return out


def attachment_name(attachment_id: int) -> str:
    return f"ATT{attachment_id:08d}.pdf"


def attachment_bytes(seed: int, attachment_id: int) -> bytes:
    """The (fake) file behind an attachment row: deterministic, a few hundred bytes."""
    line = f"%PDF-1.4 lab attachment {attachment_id} seed {seed}\n".encode()
    return line * (1 + attachment_id % 7)


def create_schema(conn: psycopg.Connection, *, legacy: bool) -> None:
    with conn.cursor() as cur:
        cur.execute(DDL)
        if legacy:
            cur.execute(LEGACY_ONLY_DDL)
        cur.execute(f"create role {READER} login")
        cur.execute(f"grant pg_monitor to {READER}")
        schemas = [SCHEMA, "cockpit", *(("interfaces", "ops") if legacy else ())]
        for schema in schemas:
            cur.execute(f"grant usage on schema {schema} to {READER}")
            cur.execute(f"grant select on all tables in schema {schema} to {READER}")
        if legacy:
            # The heartbeat probe creates its table "if not exists", which needs CREATE on the
            # schema even when the table is there; it may write that one table, nothing else.
            cur.execute(f"grant create on schema cockpit to {READER}")
            cur.execute(f"grant insert, update on {HEARTBEAT_TABLE} to {READER}")


def load(conn: psycopg.Connection, seed: int, patients: int, now: datetime) -> dict[str, int]:
    """Fill the legacy side; returns rows per table."""
    data = generate(seed, patients)
    with conn.cursor() as cur:
        for table, rows in data.items():
            with cur.copy(f"copy {SCHEMA}.{table} from stdin") as copy:
                for row in rows:
                    copy.write_row(row)
        # Every HL7 message was sent (the backlog is drained); one verified rollback snapshot.
        cur.execute("insert into interfaces.hl7_outbound "
                    "select g, 'sent', %s - g * interval '1 minute' from generate_series(1, 200) g",
                    (now,))
        cur.execute("insert into ops.rollback_snapshots values (1, %s, true)", (now,))
    return {t: len(r) for t, r in data.items()}


def write_attachments(folder: Path, seed: int, rows: list[tuple[Any, ...]]) -> None:
    """The attachment files and their ``sha256sum`` manifest (the storage layer's input)."""
    files = folder / "attachments"
    files.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        att_id, name = int(row[0]), str(row[2])
        (files / name).write_bytes(attachment_bytes(seed, att_id))
        lines.append(f"{row[5]}  attachments/{name}\n")
    (folder / "manifest.sha256").write_text("".join(lines), encoding="utf-8")


def iter_keys(rows: list[tuple[Any, ...]], width: int) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield row[:width]
