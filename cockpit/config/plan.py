"""The whole cutover plan, as one validated, typed object."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, model_validator

from cockpit.config.base import Duration, Ident, PathText, SignalName, Strict, within
from cockpit.config.notify import Notify
from cockpit.config.recon import Reconciliation
from cockpit.config.runbook import Runbook
from cockpit.config.sources import Signal, Source
from cockpit.redact import Redactor

HoldFor = Annotated[Duration, within("0s", "24h")]
MaxStaleness = Annotated[Duration, within("1s", "24h")]
Settle = Annotated[Duration, within("0s", "1h")]

DEFAULT_REASON_CODES: dict[str, str] = {
    "NOT_APPLICABLE": "step does not apply to this cutover",
    "DONE_OUT_OF_BAND": "done by another team or channel, evidence attached elsewhere",
    "VENDOR_DELAY": "waiting on a vendor or third party",
    "GATE_DATA_STALE": "gate data is stale but the condition was verified by hand",
    "KNOWN_ISSUE": "known, accepted issue with a ticket",
    "CLINICAL_SAFETY": "patient-safety concern raised by clinical staff",
    "DATA_MISMATCH": "reconciliation found differences",
    "REPLICATION_LAG": "replication lag outside tolerance",
    "PERFORMANCE": "clinical system performance degraded",
    "INTERFACE_FAILURE": "an interface (HL7, FHIR, lab, pharmacy) is failing",
    "TIME_EXCEEDED": "cutover window exceeded",
    "OPERATOR_ERROR": "an operator made a mistake that is being corrected",
    "REHEARSAL": "rehearsal only",
}


def _utc(value: object) -> object:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"bad timestamp {value!r}: write it like 2026-11-28T22:00:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp needs a time zone, e.g. 2026-11-28T22:00:00Z")
        return value.astimezone(UTC)
    return value


Timestamp = Annotated[datetime, BeforeValidator(_utc)]


class Window(Strict):
    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("window end must be after its start")
        return self


_TABLE = re.compile(r"(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}")


def _table_name(value: str) -> str:
    if not _TABLE.fullmatch(value):
        raise ValueError(f"{value!r} is not a table name: lower-case letters, digits and '_', "
                         "optionally schema.table")
    return value


class SharedJournal(Strict):
    """The journal of record is a table in PostgreSQL (``cockpit journal init`` creates it);
    ``cutover.journal`` is then the local copy each cockpit keeps of it."""

    source: str
    """A postgres source of the plan (best: a database of its own, not a clinical one)."""
    table: Annotated[str, AfterValidator(_table_name)] = "cockpit_journal"
    """``table`` or ``schema.table``."""


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value[:60]!r} is not an IANA time zone (e.g. Europe/Stockholm)") from None
    return value


class Cutover(Strict):
    id: Ident
    name: str
    journal: PathText
    window: Window
    reason_codes: dict[Ident, str] = Field(default_factory=lambda: dict(DEFAULT_REASON_CODES))
    shared_journal: SharedJournal | None = None
    rehearsal: bool = False
    # Rehearsal journals (relative to the plan file, like ``journal``) whose actual step
    # durations feed the finish forecast: read and verified when the plan is loaded
    # (cockpit.runbook.baseline).
    baseline: list[PathText] = []
    timezone: Annotated[str, AfterValidator(_zone)] | None = None
    """The site's IANA time zone (``Europe/Stockholm``): messages give UTC and this local time."""


_LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?")


def _login(value: str) -> str:
    if not _LOGIN.fullmatch(value):
        raise ValueError(f"{value!r} is not a unix login name")
    return value


Login = Annotated[str, AfterValidator(_login)]


class Person(Strict):
    name: Ident
    role: str
    contact: str = ""
    logins: list[Login] = []
    """The OS logins (unix user names) this person works under; when any person of the plan
    lists logins, a session may act only as a person its login maps to."""


class Role(Strict):
    confirm: list[str] = []  # owner roles this role may confirm besides its own; "*" = any
    approve_critical: bool = False
    decide: bool = False
    override: bool = False
    rollback: bool = False
    triage: bool = False
    approve_clinical: bool = False
    """May triage an exception that waits for clinical approval (category
    ``needs_clinical_approval``, from reconciliation or an earlier triage): the clinical
    sign-off. Routing an exception to clinical approval needs only ``triage``."""
    local_mode: bool = False
    """May switch a cockpit whose shared journal is unreachable to local mode (its actions
    journalled in a local file, merged into the shared journal, flagged, on reconnect)."""


class Operators(Strict):
    roles: dict[Ident, Role]
    people: list[Person] = []
    approval_expires: Annotated[Duration, within("1m", "24h")] = 600.0
    """How long a two-person request waits for the second person: 1m to 24h."""


class Gate(Strict):
    expr: str
    title: str = ""
    description: str = ""
    hold_for: HoldFor = 0.0
    """How long the condition must hold on fresh data before GO: 0s to 24h."""
    max_staleness: MaxStaleness = 60.0
    """Readings older than this make the gate UNKNOWN: 1s to 24h (more than 0, and at least
    the poll interval of every signal the gate reads, see config.checks)."""
    settle: Settle = 10.0
    """After a NO-GO, how long the condition must hold again (on fresh readings that cover the
    time) before the gate shows HOLD or GO: 0s to 1h. A signal hovering at its threshold keeps
    the gate NO-GO instead of flipping; a worse state (NO-GO, UNKNOWN) always shows at once."""


class Plan(Strict):
    version: int = 1
    cutover: Cutover
    operators: Operators
    sources: dict[Ident, Source] = {}
    signals: dict[SignalName, Signal] = {}
    gates: dict[Ident, Gate] = {}
    reconciliation: Reconciliation | None = None
    runbook: Runbook
    notify: Notify | None = None

    _path: Path = PrivateAttr(default=Path("plan.yaml"))
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())
    _redactor: Redactor | None = PrivateAttr(default=None)
    # Per step id, the median rehearsed duration (seconds) over ``cutover.baseline``: set by
    # cockpit.runbook.baseline.load; empty until then (the forecast then uses ``planned``).
    _rehearsed: dict[str, float] = PrivateAttr(default_factory=dict)
    # Where each value sits in the plan file and the name it was loaded by: problems found
    # after loading (a baseline that does not verify) are placed like the loader's own.
    _positions: Any = PrivateAttr(default=None)
    _name: str = PrivateAttr(default="plan.yaml")

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent

    def resolve(self, relative: str) -> Path:
        """A path from the plan, taken relative to the plan file's folder."""
        p = Path(os.path.expanduser(relative))
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def journal_path(self) -> Path:
        return self.resolve(self.cutover.journal)

    @property
    def rehearsed(self) -> dict[str, float]:
        """Step id -> median rehearsed duration in seconds (steps a baseline finished)."""
        return self._rehearsed

    def use_rehearsed(self, durations: dict[str, float]) -> None:
        """Set by cockpit.runbook.baseline.load once the baselines are read and verified."""
        self._rehearsed = dict(durations)

    def redact(self, text: str) -> str:
        """Remove every value that came from the environment (tokens, passwords, DSNs), their
        fragments and encoded forms: the rule is :mod:`cockpit.redact`'s."""
        # On the poll path: read the private attributes from their dict, since pydantic's
        # attribute lookup for them costs microseconds each.
        private = self.__pydantic_private__
        assert private is not None  # pydantic sets it on every model with private attributes
        redactor, secrets = private["_redactor"], private["_secrets"]
        if redactor is None or (redactor.secrets is not secrets and redactor.secrets != secrets):
            redactor = private["_redactor"] = Redactor(secrets)
        return redactor(text)

    def role_of(self, operator: str) -> str | None:
        return next((p.role for p in self.operators.people if p.name == operator), None)


# Namespaces of the cockpit's own signals: a plan may not declare a signal in them.
RESERVED_NAMESPACES = ("recon", "exceptions", "runbook", "cockpit")

# Signals every plan can use without declaring them: they are produced by the cockpit itself.
BUILTIN_SIGNALS = (
    "recon.mismatched_rows",
    "recon.last_run_age_s",
    "recon.failed_checks",
    "exceptions.open",
    "exceptions.open_critical",
    "runbook.forecast_margin_s",
    "runbook.late_steps",
)
RECON_TABLE_SIGNALS = ("missing", "extra", "changed", "source_rows", "target_rows")


def builtin_signal_names(plan_data: dict) -> set[str]:
    """Built-in signal names, including ``recon.<table>.<kind>`` for each configured table."""
    names = set(BUILTIN_SIGNALS)
    recon = plan_data.get("reconciliation") if isinstance(plan_data, dict) else None
    tables = recon.get("tables") if isinstance(recon, dict) else None
    for t in tables if isinstance(tables, list) else []:
        if isinstance(t, dict) and isinstance(t.get("name"), str):
            names.update(f"recon.{t['name']}.{k}" for k in RECON_TABLE_SIGNALS)
    return names
