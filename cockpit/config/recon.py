"""The ``reconciliation`` section: which databases, tables and clinical checks to compare."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cockpit.config.base import Duration, Ident, Strict

Severity = Literal["critical", "major", "minor"]
Category = Literal["manual_review", "auto_correct_safe", "needs_clinical_approval", "defer"]
Normaliser = Literal["trim", "casefold", "empty_as_null", "utc", "scale"]
Layer = Literal["storage", "schema", "counts", "content", "domain"]
LAYERS: tuple[str, ...] = ("storage", "schema", "counts", "content", "domain")


class Severities(Strict):
    model_config = Strict.model_config | {"populate_by_name": True}

    missing: Severity = "critical"
    extra: Severity = "major"
    changed: Severity = "major"
    schema_: Severity = Field(default="major", alias="schema")
    count: Severity = "major"


class ReconTable(Strict):
    name: Ident
    source_table: str | None = None
    target_table: str | None = None
    key: list[str] = []
    columns: list[str] | None = None
    exclude: list[str] = []
    rename: dict[str, str] = {}
    types: dict[str, str] = {}
    normalize: dict[str, list[Normaliser]] = {}
    normalize_all: list[Normaliser] = []
    numeric_scale: int = Field(default=2, ge=0, le=20)
    where: str | None = None
    source_where: str | None = None
    target_where: str | None = None
    group_by: str | None = None
    identifying_key: bool = False
    severity: Severities = Severities()


class DomainCheck(Strict):
    id: Ident
    check: Literal["duplicates", "orphans", "required", "per_parent_count", "sql"]
    table: str | None = None
    columns: list[str] = []
    key: list[str] = []
    column: str | None = None
    parent_table: str | None = None
    parent_key: str | None = None
    side: Literal["source", "target", "both"] = "target"
    sql: str | None = None
    # A ``sql`` check's result columns that name the offending row; only these leave the
    # database (hashed when they identify a person); every other column is only counted.
    keys: list[str] = []
    # The ``keys`` identify a person (an MRN): shown hashed, like an identifying table's keys.
    identifying_key: bool = False
    severity: Severity = "major"
    category: Category = "manual_review"
    title: str = ""

    @model_validator(mode="after")
    def _keys_only_for_sql(self) -> DomainCheck:
        if self.keys and self.check != "sql":
            raise ValueError("'keys' names a sql check's result columns; "
                             f"a '{self.check}' check takes 'key' (the table's key columns)")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("'keys' lists a column twice")
        return self


class Storage(Strict):
    manifest: str
    dir: str
    severity: Severity = "critical"


class Reconciliation(Strict):
    source: str
    target: str
    max_concurrent: int = Field(default=2, ge=1, le=16)
    statement_timeout: Duration = 600.0
    buckets: int = Field(default=4096, ge=16, le=1_000_000)
    every: Duration | None = None
    hash_identifying_keys: bool = True
    storage: Storage | None = None
    tables: list[ReconTable] = []
    domain: list[DomainCheck] = []
