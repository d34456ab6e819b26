"""Runs the reconciliation layers over the plan's source and target databases.

Safety: every session is read-only with the plan's ``statement_timeout`` (``session``), at
most ``max_concurrent`` sessions (so queries) per database, and each table's schema and count
queries share one snapshot per side. Units (a table, a domain check, the storage manifest) run
concurrently within that bound; one that fails becomes an error finding for itself while the
others go on.

Fail closed: a check that could not be made is never reported as clean. Its error is a finding,
its scope is left out of ``checked`` (so the exception queue does not close what it could not
see), and figures it would have produced are ``None``, which the gate signals read as unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg

from cockpit.config.plan import Plan
from cockpit.config.recon import LAYERS, DomainCheck, Reconciliation, ReconTable, Storage
from cockpit.recon import domain as domain_layer
from cockpit.recon import evidence
from cockpit.recon.counts import compare_counts
from cockpit.recon.findings import Finding
from cockpit.recon.keysecret import KeySecretError, load_key_secret
from cockpit.recon.queue import suggest_category
from cockpit.recon.schema import BadName, compare_schema, resolve_relation, table_missing
from cockpit.recon.session import (
    ReconDbError,
    describe_error,
    is_statement_timeout,
    open_readonly,
    snapshot,
)
from cockpit.recon.storage import StorageCancelled, check_storage
from cockpit.text import clean

TABLE_LAYERS = ("schema", "counts", "content")
STORAGE_SCOPE = "storage"
NOT_FINDINGS = ("error", "not_checked")  # kinds that say a check could not be made

# A scope is (layer, table label, domain check id or None): what one unit fully examined.
Scope = tuple[str, str, str | None]


class ReconInputError(ValueError):
    """Unknown table or layer names: bad input, one line listing the valid ones."""


class _Cancelled(Exception):
    """The run was cancelled before this unit got its sessions."""


@dataclass
class TableSummary:
    missing: int | None = None
    extra: int | None = None
    changed: int | None = None
    source_rows: int | None = None
    target_rows: int | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return {
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "error": self.error,
        }


@dataclass
class UnitResult:
    """One unit's measurement in this run (``evidence`` says what the signals make of it)."""

    layer: str
    table: str
    check: str | None = None
    failed: bool = False  # counts in failed_checks: a missing table, or domain/storage findings
    error: str | None = None  # the unit could not be completed (counts as failed too)
    findings: int = 0
    values: dict = field(default_factory=dict)  # counts: row figures; content: all five

    def to_json(self) -> dict:
        return {"layer": self.layer, "table": self.table, "check": self.check,
                "failed": self.failed, "error": self.error, "findings": self.findings,
                **self.values}


@dataclass
class LayerSummary:
    checks: int = 0  # units of this layer that were attempted
    findings: int = 0  # findings other than errors
    errors: int = 0  # units that could not be completed

    def to_json(self) -> dict:
        return {"checks": self.checks, "findings": self.findings, "errors": self.errors}


@dataclass
class ReconReport:
    findings: list[Finding] = field(default_factory=list)
    tables: dict[str, TableSummary] = field(default_factory=dict)
    layers: dict[str, LayerSummary] = field(default_factory=dict)
    mismatched_rows: int | None = None  # None: not measured for every table by this run
    failed_checks: int = 0  # checks that errored, plus domain checks that found offenders
    duration_s: float = 0.0
    queries: int = 0
    rows_transferred: int = 0
    checked: set[Scope] = field(default_factory=set)
    cancelled: bool = False
    partial: bool = False  # a --table/--layer selection, not the whole plan
    units: dict[str, UnitResult] = field(default_factory=dict)  # what this run measured
    # A rehearsal's scripted run (no database was read): {"scenario", "t_s", ...}; None: real.
    simulated: dict | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind in NOT_FINDINGS]

    @property
    def clean(self) -> bool:
        """Nothing found and nothing left unchecked: the only state that exits 0."""
        return not self.findings and not self.cancelled

    def to_journal_data(self, opened: Sequence[str] = (), closed: Sequence[str] = ()) -> dict:
        """The ``recon.run`` entry's data, format 2 (``cockpit.recon.evidence``)."""
        data = {
            "format": evidence.FORMAT,
            "units": {uid: u.to_json() for uid, u in sorted(self.units.items())},
            "tables": {name: t.to_json() for name, t in self.tables.items()},
            "mismatched_rows": self.mismatched_rows,
            "failed_checks": self.failed_checks,
            "layers": {name: s.to_json() for name, s in self.layers.items()},
            "duration_s": round(self.duration_s, 3),
            "cancelled": self.cancelled,  # a cancelled run is evidence too, never a clean one
            "opened": list(opened),
            "closed": list(closed),
        }
        if self.simulated is not None:  # only then: a real run's entry keeps its old bytes
            data["simulated"] = dict(self.simulated)
        return data

    def to_json(self) -> dict:
        data = self.to_journal_data()
        del data["opened"], data["closed"]
        data.update(
            findings=[f.to_json() for f in self.findings],
            queries=self.queries,
            rows_transferred=self.rows_transferred,
            partial=self.partial,
            clean=self.clean,
        )
        return data


@dataclass(frozen=True)
class RunProgress:
    """What a progress display needs. Rows are the content layer's (source rows compared of
    the estimate) for the tables it has started; ``rows_total`` is None before any."""

    units_done: int
    units_total: int
    rows_done: int
    rows_total: int | None
    elapsed_s: float
    current: str = ""


ProgressFn = Callable[[RunProgress], None]


def select(
    recon: Reconciliation, tables: Sequence[str] | None, layers: Sequence[str] | None
) -> tuple[list[ReconTable], list[DomainCheck], tuple[str, ...], bool]:
    """The tables, domain checks and layers a run covers; raises ``ReconInputError``."""
    names = [t.name for t in recon.tables]
    unknown = [t for t in tables or () if t not in names]
    if unknown:
        raise ReconInputError(
            f"unknown table {clean(unknown[0], 80)!r}; valid tables: "
            + (", ".join(names) or "none configured")
        )
    bad = [x for x in layers or () if x not in LAYERS]
    if bad:
        raise ReconInputError(
            f"unknown layer {clean(bad[0], 80)!r}; valid layers: {', '.join(LAYERS)}"
        )
    chosen_layers = tuple(x for x in LAYERS if not layers or x in layers)
    chosen_tables = [t for t in recon.tables if not tables or t.name in tables]
    checks = list(recon.domain)
    if tables:
        checks = [
            c
            for c in checks
            if (t := domain_layer.recon_table_for(recon, c.table)) is not None and t.name in tables
        ]
    partial = bool(tables) or bool(layers and set(chosen_layers) != set(LAYERS))
    return chosen_tables, checks, chosen_layers, partial


class _Pool:
    """At most ``size`` read-only sessions toward one database, reused between units."""

    def __init__(
        self,
        side: str,
        dsn: str,
        size: int,
        statement_timeout_s: float,
        connect_timeout_s: float,
        redact: Callable[[str], str],
        cancelled: Callable[[], bool],
    ):
        self.side = side
        self.cancelled = cancelled
        self.dsn = dsn
        self.sem = asyncio.Semaphore(size)
        self.idle: list[psycopg.AsyncConnection] = []
        self.statement_timeout_s = statement_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.redact = redact
        self.down: str | None = None  # why the database cannot be reached, once known

    async def _open(self) -> psycopg.AsyncConnection:
        if self.down:
            raise ReconDbError(self.down)
        try:
            return await open_readonly(
                self.dsn,
                statement_timeout_s=self.statement_timeout_s,
                connect_timeout_s=self.connect_timeout_s,
                application_name="cutover-cockpit-recon",
            )
        except ReconDbError as exc:
            self.down = f"{self.side} database: {self.redact(str(exc))}"
            raise ReconDbError(self.down) from None

    @contextlib.asynccontextmanager
    async def conn(self):
        async with self.sem:
            if self.cancelled():
                raise _Cancelled()
            conn = None
            while self.idle and conn is None:
                candidate = self.idle.pop()
                conn = None if candidate.closed or candidate.broken else candidate
            if conn is None:
                conn = await self._open()
            try:
                yield conn
            finally:
                ok = (
                    not conn.closed
                    and not conn.broken
                    and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                )
                if ok:
                    self.idle.append(conn)
                else:
                    with contextlib.suppress(Exception):
                        await conn.close()

    async def close(self) -> None:
        while self.idle:
            with contextlib.suppress(Exception):
                await self.idle.pop().close()


def _error_text(exc: BaseException, timeout_s: float, redact: Callable[[str], str]) -> str:
    if is_statement_timeout(exc) or isinstance(exc, TimeoutError):
        return f"query timed out after {timeout_s:g}s (statement_timeout)"
    if isinstance(exc, (ReconDbError, domain_layer.CheckError, BadName)):
        return clean(redact(str(exc)), 300, single_line=True)
    return redact(describe_error(exc))


class _Run:
    def __init__(self, plan: Plan, recon: Reconciliation, layers: tuple[str, ...], progress, cancel,
                 key_secret: bytes | None):
        self.plan = plan
        self.recon = recon
        self.layers = layers
        self.salt = key_secret  # hashes identifying keys (keysecret); None: none to hash
        self.progress = progress
        self.cancel = cancel
        self.report = ReconReport(layers={name: LayerSummary() for name in layers})
        self.started = time.monotonic()
        self.units_total = 0
        self.units_done = 0
        self.content_rows: dict[str, tuple[int, int]] = {}  # table -> (rows done, rows estimated)
        self.pools: dict[str, _Pool] = {}
        self.content_complete: set[str] = set()

    def cancelled(self) -> bool:
        return bool(self.cancel is not None and self.cancel.is_set())

    def tick(self, current: str = "") -> None:
        if self.progress is None:
            return
        rows = list(self.content_rows.values())
        self.progress(RunProgress(
            self.units_done, self.units_total, sum(d for d, _ in rows),
            sum(t for _, t in rows) if rows else None, time.monotonic() - self.started, current))

    def add(self, findings: Sequence[Finding], layer: str) -> None:
        self.report.findings.extend(findings)
        self.report.layers[layer].findings += sum(1 for f in findings if f.kind not in NOT_FINDINGS)

    def error(
        self,
        layer: str,
        table: str,
        message: str,
        *,
        check: DomainCheck | None = None,
        severity: str = "major",
    ) -> None:
        self.report.findings.append(
            Finding(
                layer=layer,
                table=table,
                kind="error",
                severity=severity,
                category="manual_review",
                check=check.id if check else None,
                detail=clean(message, 300, single_line=True),
            )
        )
        self.report.layers[layer].errors += 1

    def unit(self, layer: str, table: str, check: str | None = None, **kw) -> UnitResult:
        u = UnitResult(layer, table, check, **kw)
        self.report.units[evidence.unit_id(layer, table, check)] = u
        return u

    # -- units ------------------------------------------------------------------------------

    async def table_unit(self, table: ReconTable) -> None:
        summary = self.report.tables[table.name]
        layers = [x for x in TABLE_LAYERS if x in self.layers]
        layer = layers[0]
        for x in layers:
            self.report.layers[x].checks += 1
        done: list[str] = []
        try:
            async with self.pools["source"].conn() as s, self.pools["target"].conn() as d:
                async with snapshot(s), snapshot(d):
                    src_rel = await resolve_relation(s, table.source_table or table.name)
                    dst_rel = await resolve_relation(d, table.target_table or table.name)
                    self.report.queries += 2
                    if src_rel is None or dst_rel is None:
                        sides = [
                            side
                            for side, rel in (("source", src_rel), ("target", dst_rel))
                            if rel is None
                        ]
                        f = table_missing(table, layer, sides, table.severity.missing)
                        self.add([f], layer)
                        summary.error = f.detail
                        self.unit(layer, table.name, failed=True, findings=1)
                        for x in layers[1:]:
                            self.unit(x, table.name, error=f.detail)
                        return
                    if "schema" in layers:
                        layer = "schema"
                        found = await compare_schema(s, d, table, src_rel, dst_rel)
                        self.add(found, "schema")
                        self.report.queries += 2
                        self.report.checked.add(("schema", table.name, None))
                        self.unit("schema", table.name, findings=len(found))
                        done.append("schema")
                    if "counts" in layers:
                        layer = "counts"
                        res = await compare_counts(s, d, table, src_rel, dst_rel)
                        self.add(res.findings, "counts")
                        self.report.queries += res.queries
                        summary.source_rows, summary.target_rows = res.source_rows, res.target_rows
                        if not res.truncated:
                            self.report.checked.add(("counts", table.name, None))
                        self.unit("counts", table.name, findings=len(res.findings),
                                  values={"source_rows": res.source_rows,
                                          "target_rows": res.target_rows})
                        done.append("counts")
                if "content" in layers and not self.cancelled():
                    layer = "content"
                    await self._content(table, s, d)
                    done.append("content")
        except _Cancelled:
            self.report.cancelled = True
        except (psycopg.Error, OSError, ReconDbError, BadName, domain_layer.CheckError) as exc:
            message = _error_text(exc, self.recon.statement_timeout, self.plan.redact)
            summary.error = message
            self.error(layer, table.name, message, severity=table.severity.missing)
            # This layer, and the ones after it that it kept from running, were not measured.
            for x in layers[layers.index(layer):]:
                if x not in done:
                    self.unit(x, table.name, error=message)

    async def _content(self, table: ReconTable, s, d) -> None:
        summary = self.report.tables[table.name]
        try:
            from cockpit.recon.content import compare_table
        except ImportError:
            raise domain_layer.CheckError("content layer is not available in this build") from None

        def on_rows(done: int, total: int) -> None:
            self.content_rows[table.name] = (done, total)
            self.tick(table.name)

        res = await compare_table(s, d, table, buckets=self.recon.buckets, salt=self._salt(),
                                  progress=on_rows, cancel=self.cancel,
                                  hash_identifying_keys=self.recon.hash_identifying_keys)
        self.add([suggest_category(f) for f in res.findings], "content")
        self.report.queries += res.queries
        self.report.rows_transferred += res.rows_transferred
        if res.error:
            # The comparison did not finish: its zeros are not a measurement.
            summary.error = clean(self.plan.redact(res.error), 300, single_line=True)
            self.report.layers["content"].errors += 1
            self.unit("content", table.name, error=summary.error)
            if any(f.kind == "not_checked" for f in res.findings):
                self.report.cancelled = self.report.cancelled or self.cancelled()
            return
        summary.missing, summary.extra, summary.changed = res.missing, res.extra, res.changed
        summary.source_rows, summary.target_rows = res.source_rows, res.target_rows
        self.report.checked.add(("content", table.name, None))
        self.content_complete.add(table.name)
        self.unit("content", table.name, findings=len(res.findings), values={
            "missing": res.missing, "extra": res.extra, "changed": res.changed,
            "source_rows": res.source_rows, "target_rows": res.target_rows})

    async def domain_unit(self, check: DomainCheck) -> None:
        label = domain_layer.table_label(check)
        self.report.layers["domain"].checks += 1
        sides = domain_layer.sides_of(check)
        try:
            async with contextlib.AsyncExitStack() as stack:
                conns: dict[str, psycopg.AsyncConnection] = {}
                for side in ("source", "target"):  # always source first: no lock-order deadlock
                    if side in sides:
                        conns[side] = await stack.enter_async_context(self.pools[side].conn())
                for conn in conns.values():
                    await stack.enter_async_context(snapshot(conn))
                res = await domain_layer.run_check(check, conns, self.recon, self._salt())
        except _Cancelled:
            self.report.cancelled = True
            return
        except (psycopg.Error, OSError, ReconDbError, BadName, domain_layer.CheckError) as exc:
            message = _error_text(exc, self.recon.statement_timeout, self.plan.redact)
            self.error("domain", label, message, check=check, severity=check.severity)
            self.unit("domain", label, check.id, error=clean(message, 300, single_line=True))
            return
        self.add(res.findings, "domain")
        self.report.queries += res.queries
        self.report.rows_transferred += res.rows_transferred
        self.unit("domain", label, check.id, failed=bool(res.findings),
                  findings=len(res.findings))
        if not res.truncated:
            self.report.checked.add(("domain", label, check.id))

    def _salt(self) -> bytes:
        # Loaded by run_reconciliation whenever the content or domain layer (its only users)
        # is chosen.
        assert self.salt is not None
        return self.salt

    async def storage_unit(self, storage: Storage) -> None:
        self.report.layers["storage"].checks += 1
        try:
            res = await asyncio.to_thread(
                check_storage, storage, self.plan.resolve, cancelled=self.cancelled
            )
        except StorageCancelled:
            self.report.cancelled = True
            return
        errors = [f for f in res.findings if f.kind == "error"]
        self.add([f for f in res.findings if f.kind != "error"], "storage")
        for f in errors:
            self.report.findings.append(f)
            self.report.layers["storage"].errors += 1
        self.unit("storage", clean(storage.manifest, 200, single_line=True),
                  failed=bool(res.findings), error=res.error,
                  findings=sum(1 for f in res.findings if f.kind != "error"))
        if res.error is None:
            self.report.checked.add(
                (STORAGE_SCOPE, clean(storage.manifest, 200, single_line=True), None)
            )

    async def counted(self, unit, label: str) -> None:
        await unit
        self.units_done += 1
        self.tick(label)


async def run_reconciliation(
    plan,
    *,
    tables: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
    key_secret: bytes | None = None,
) -> ReconReport:
    """Run the selected layers; ``cancel`` is an event (``is_set()``) that stops new work.

    ``key_secret`` hashes identifying keys; by default it is the cutover's (``keysecret``),
    loaded or created only when the content or domain layer runs.
    """
    recon: Reconciliation | None = plan.reconciliation
    if recon is None:
        raise ReconInputError("the plan has no reconciliation section")
    chosen, checks, chosen_layers, partial = select(recon, tables, layers)
    if key_secret is None and {"content", "domain"} & set(chosen_layers):
        try:
            key_secret = load_key_secret(plan.journal_path, plan.cutover.id)
        except KeySecretError as exc:
            raise ReconInputError(clean(str(exc), 300, single_line=True)) from None
    run = _Run(plan, recon, chosen_layers, progress, cancel, key_secret)
    run.report.partial = partial
    for side in ("source", "target"):
        name = getattr(recon, side)
        src = plan.sources.get(name)
        if src is None or src.type != "postgres":  # the loader refuses this too
            raise ReconInputError(
                f"reconciliation.{side}: '{clean(name, 80)}' is not a postgres source"
            )
        run.pools[side] = _Pool(
            side,
            src.dsn,
            recon.max_concurrent,
            recon.statement_timeout,
            src.connect_timeout,
            plan.redact,
            run.cancelled,
        )

    units = []
    if any(x in chosen_layers for x in TABLE_LAYERS):
        for t in chosen:
            run.report.tables[t.name] = TableSummary()
            units.append((run.table_unit(t), t.name))
    if "domain" in chosen_layers:
        units += [(run.domain_unit(c), c.id) for c in checks]
    if "storage" in chosen_layers and recon.storage is not None and not tables:
        units.append((run.storage_unit(recon.storage), "storage"))
    if not units:
        raise ReconInputError("nothing to check: the selected layers have nothing configured"
                              + (" for the selected tables" if tables else ""))
    run.units_total = len(units)
    try:
        await asyncio.gather(*(run.counted(u, label) for u, label in units))
    finally:
        for pool in run.pools.values():
            await pool.close()
    report = run.report
    report.cancelled = report.cancelled or run.cancelled()
    # This run's own figure, of the units it measured (the gate signal sums the latest
    # measurement of every configured unit: cockpit.recon.evidence).
    report.failed_checks = sum(1 for u in report.units.values() if u.failed or u.error)
    _close_domain_tables(report, recon)
    if (
        "content" in chosen_layers
        and not tables
        and not report.cancelled
        and run.content_complete == {t.name for t in recon.tables}
    ):
        report.mismatched_rows = sum(
            (t.missing or 0) + (t.extra or 0) + (t.changed or 0) for t in report.tables.values()
        )
    order = {name: i for i, name in enumerate(LAYERS)}
    report.findings.sort(key=lambda f: (order.get(f.layer, 9), f.table, f.check or "", f.kind, f.keys))
    report.duration_s = time.monotonic() - run.started
    return report


def _close_domain_tables(report: ReconReport, recon: Reconciliation) -> None:
    """A domain table scope counts as checked only when every check on it completed; exceptions
    journalled without their check id are matched at that level."""
    labels = {domain_layer.table_label(c) for c in recon.domain}
    for label in labels:
        on_label = [c for c in recon.domain if domain_layer.table_label(c) == label]
        if all(("domain", label, c.id) in report.checked for c in on_label):
            report.checked.add(("domain", label, None))
