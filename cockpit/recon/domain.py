"""Domain layer: clinical checks as SQL returning offending keys.

Built-in templates (duplicates, orphans, required, per_parent_count) generate their SQL from
the plan with every identifier quoted by ``psycopg.sql``; ``sql`` checks run the plan author's
query as a subquery of ours, by the rules of ``session.fetch`` (one statement on the extended
protocol, inside the read-only snapshot that is always rolled back).

Only keys leave the database. A ``sql`` check declares which of its result columns are keys
(``keys``); only those are selected from its result, every other column is counted, never
fetched, so ``select id, name from patients where ...`` cannot put a name in the journal. A
duplicated value (an MRN shared by two patients) is itself identifying, so it is reported as a
keyed hash, never as text; row keys are hashed too when the table's key identifies a person
(``identifying_key``) and the plan asks for it.

``per_parent_count`` is compared inside the databases, like the content layer: per bucket of
parent key, the child count and the sum of a hash of each child's parent key; only the parents
of buckets that differ are read, streamed from both sides in the same order and merged, and
reading stops at the findings cap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from cockpit.config.recon import DomainCheck, Reconciliation, ReconTable
from cockpit.recon import segments
from cockpit.recon.canonical import bucket_expr
from cockpit.recon.counts import where_clause
from cockpit.recon.findings import Finding, hash_key
from cockpit.recon.schema import Relation, primary_key_of, resolve_relation
from cockpit.recon.session import Counted, fetch, fetch_described, stream
from cockpit.text import clean

MAX_FINDINGS_PER_CHECK = 1000
MAX_KEYS_PER_DUPLICATE = 50
# Parents read per side at a time by the per-parent comparison (streamed: bounded memory).
PARENT_BATCH = 20_000

KINDS = {"duplicates": "duplicate", "orphans": "orphan", "required": "required_null",
         "per_parent_count": "count_mismatch", "sql": "offending_row"}


class CheckError(Exception):
    """The check could not be made; the message is one PHI-free line."""


@dataclass
class DomainResult:
    findings: list[Finding] = field(default_factory=list)
    queries: int = 0
    rows_transferred: int = 0
    truncated: bool = False  # more offenders than reported: do not close unlisted exceptions


def sides_of(check: DomainCheck) -> tuple[str, ...]:
    if check.check == "per_parent_count" or check.side == "both":
        return ("source", "target")
    return (check.side,)


def table_label(check: DomainCheck) -> str:
    return check.table or check.id


@dataclass(frozen=True)
class _Target:
    """What a check's table name means on one side."""

    rel: Relation
    recon: ReconTable | None
    where: sql.Composable


def recon_table_for(recon: Reconciliation, name: str | None) -> ReconTable | None:
    """A plan table named ``name``, or whose source/target table is ``name``."""
    if not name:
        return None
    for t in recon.tables:
        if name in (t.name, t.source_table, t.target_table):
            return t
    return None


async def _resolve(conn, recon: Reconciliation, name: str, side: str) -> _Target:
    table = next((t for t in recon.tables if t.name == name), None)
    physical = name
    where: sql.Composable = sql.SQL("")
    if table is not None:
        physical = (table.source_table if side == "source" else table.target_table) or table.name
        where = where_clause(table, side)
    rel = await resolve_relation(conn, physical)
    if rel is None:
        raise CheckError(f"no table {clean(physical, 120, single_line=True)} on the {side}")
    return _Target(rel, table or recon_table_for(recon, physical), where)


def _col(recon_table: ReconTable | None, column: str, side: str) -> str:
    if recon_table is not None and side == "target":
        return recon_table.rename.get(column, column)
    return column


def _and(where: sql.Composable, cond: sql.Composable) -> sql.Composable:
    if where == sql.SQL(""):
        return sql.SQL(" WHERE ") + cond
    return where + sql.SQL(" AND (") + cond + sql.SQL(")")


async def _key_columns(conn, check: DomainCheck, tgt: _Target, side: str) -> list[str]:
    if check.key:
        return [_col(tgt.recon, k, side) for k in check.key]
    if tgt.recon is not None and tgt.recon.key:
        return [_col(tgt.recon, k, side) for k in tgt.recon.key]
    key = await primary_key_of(conn, tgt.rel)
    if not key:
        raise CheckError(f"{tgt.rel} has no primary key: set 'key' on the check")
    return key


def _key_text(cols: list[str]) -> sql.Composable:
    parts = [sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols]
    if len(parts) == 1:
        return parts[0]
    return sql.SQL("concat_ws('|', {})").format(sql.SQL(", ").join(parts))


class _Keys:
    """Turns key values into what a finding may carry."""

    def __init__(self, hashed: bool, secret: bytes):
        self.hashed = hashed
        self.secret = secret

    def __call__(self, value: object) -> str:
        text = "(null)" if value is None else str(value)
        return hash_key(text, self.secret) if self.hashed else clean(text, 120, single_line=True)


def _identifying(recon: Reconciliation, *tables: ReconTable | None) -> bool:
    return recon.hash_identifying_keys and any(t is not None and t.identifying_key for t in tables)


class _Collector:
    def __init__(self, check: DomainCheck, result: DomainResult):
        self.check = check
        self.result = result
        self.by_id: dict[str, tuple[Finding, set[str]]] = {}

    def full(self) -> bool:
        return len(self.by_id) >= MAX_FINDINGS_PER_CHECK

    def add(self, side: str, keys: tuple[str, ...], columns: tuple[str, ...], detail: str) -> bool:
        """False once the cap is reached (the rest is counted as truncated)."""
        f = Finding(layer="domain", table=table_label(self.check), kind=KINDS[self.check.check],
                    keys=keys, columns=columns, severity=self.check.severity,
                    category=self.check.category, check=self.check.id, detail=detail)
        if f.id in self.by_id:
            self.by_id[f.id][1].add(side)
            return True
        if self.full():
            self.result.truncated = True
            return False
        self.by_id[f.id] = (f, {side})
        return True

    def findings(self, both: bool) -> list[Finding]:
        out = []
        for f, sides in self.by_id.values():
            where = " and ".join(s for s in ("source", "target") if s in sides)
            detail = f"{f.detail} (on {where})" if both and f.detail else (f"on {where}" if both else f.detail)
            out.append(Finding(**{**f.__dict__, "detail": detail}))
        return out


async def run_check(check: DomainCheck, conns: Mapping[str, psycopg.AsyncConnection],
                    recon: Reconciliation, salt: bytes) -> DomainResult:
    """Run one check on the connections of :func:`sides_of` (each inside its snapshot).

    ``salt`` is the key secret (``keysecret``) that hashes identifying keys. Raises
    ``CheckError`` or a database error when the check could not be made.
    """
    result = DomainResult()
    collect = _Collector(check, result)
    if check.check == "per_parent_count":
        await _per_parent_count(check, conns, recon, salt, collect)
        return _finish(result, collect, both=False)
    for side in sides_of(check):
        runner = {"duplicates": _duplicates, "orphans": _orphans, "required": _required,
                  "sql": _custom}[check.check]
        await runner(check, conns[side], side, recon, salt, collect)
    return _finish(result, collect, both=len(sides_of(check)) > 1)


def _finish(result: DomainResult, collect: _Collector, *, both: bool) -> DomainResult:
    result.findings = collect.findings(both)
    return result


async def _duplicates(check, conn, side, recon, salt, collect: _Collector) -> None:
    tgt = await _resolve(conn, recon, check.table, side)
    keys = await _key_columns(conn, check, tgt, side)
    cols = [_col(tgt.recon, c, side) for c in check.columns]
    row_key = _Keys(_identifying(recon, tgt.recon), salt)
    not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in cols)
    q = sql.SQL(
        "SELECT (array_agg({k} ORDER BY {k}))[1:{n}], count(*), "
        "concat_ws(chr(31), {vals}) FROM {t}{w} GROUP BY {g} HAVING count(*) > 1 "
        "ORDER BY 1 LIMIT {lim}").format(
        k=_key_text(keys), n=sql.Literal(MAX_KEYS_PER_DUPLICATE),
        vals=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols),
        t=tgt.rel.ident, w=_and(tgt.where, not_null),
        g=sql.SQL(", ").join(sql.Identifier(c) for c in cols), lim=sql.Literal(MAX_FINDINGS_PER_CHECK + 1))
    collect.result.queries += 1
    label = ", ".join(check.columns)
    for row_keys, n, value in await fetch(conn, q):
        collect.result.rows_transferred += 1
        shown = f" (first {MAX_KEYS_PER_DUPLICATE} shown)" if n > len(row_keys) else ""
        # The shared value is identifying by nature: only its salted hash is shown.
        detail = f"{n} rows share one {label} value {hash_key(value, salt)}{shown}"
        if not collect.add(side, tuple(row_key(k) for k in row_keys), tuple(check.columns), detail):
            break


async def _orphans(check, conn, side, recon, salt, collect: _Collector) -> None:
    child = await _resolve(conn, recon, check.table, side)
    parent = await _resolve(conn, recon, check.parent_table, side)
    keys = await _key_columns(conn, check, child, side)
    col = _col(child.recon, check.column, side)
    pkey = _col(parent.recon, check.parent_key, side)
    row_key = _Keys(_identifying(recon, child.recon), salt)
    cond = sql.SQL("c.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {p} p WHERE p.{pk} = c.{col})").format(
        col=sql.Identifier(col), p=parent.rel.ident, pk=sql.Identifier(pkey))
    q = sql.SQL("SELECT {k} FROM {t} c{w} ORDER BY 1 LIMIT {lim}").format(
        k=sql.SQL(", ").join(sql.SQL("c.{}::text").format(sql.Identifier(k)) for k in keys),
        t=child.rel.ident, w=_and(child.where, cond), lim=sql.Literal(MAX_FINDINGS_PER_CHECK + 1))
    collect.result.queries += 1
    detail = f"{check.column} refers to a missing {clean(check.parent_table, 120)}.{check.parent_key}"
    for row in await fetch(conn, q):
        collect.result.rows_transferred += 1
        if not collect.add(side, tuple(row_key(v) for v in row), (check.column,), detail):
            break


async def _required(check, conn, side, recon, salt, collect: _Collector) -> None:
    tgt = await _resolve(conn, recon, check.table, side)
    keys = await _key_columns(conn, check, tgt, side)
    cols = [_col(tgt.recon, c, side) for c in check.columns]
    row_key = _Keys(_identifying(recon, tgt.recon), salt)
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(c)) for c in cols)
    q = sql.SQL("SELECT {k}, {flags} FROM {t}{w} ORDER BY {order} LIMIT {lim}").format(
        k=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in keys),
        flags=sql.SQL(", ").join(sql.SQL("{} IS NULL").format(sql.Identifier(c)) for c in cols),
        t=tgt.rel.ident, w=_and(tgt.where, any_null),
        order=sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(len(keys))),
        lim=sql.Literal(MAX_FINDINGS_PER_CHECK + 1))
    collect.result.queries += 1
    for row in await fetch(conn, q):
        collect.result.rows_transferred += 1
        nulls = tuple(name for name, flag in zip(check.columns, row[len(keys):], strict=True) if flag)
        if not collect.add(side, tuple(row_key(v) for v in row[: len(keys)]), nulls,
                           "required " + ", ".join(nulls) + " is null"):
            break


async def _custom(check, conn, side, recon, salt, collect: _Collector) -> None:
    """The plan's query as a subquery: first only its column names (``LIMIT 0``), then only
    the declared key columns of at most the cap's rows, with the number of rows beside them."""
    text = check.sql.strip().rstrip(";").strip()
    # The text must be one complete statement on its own before it is wrapped: EXPLAIN (which
    # plans, never runs) refuses "...) o UNION SELECT 1 FROM (SELECT 1", a text that would
    # close the wrapper's parenthesis and make the check a different query. Its own lines, so
    # a trailing "--" comment cannot swallow the wrapper's ")".
    collect.result.queries += 1
    await fetch(conn, sql.SQL("EXPLAIN {}").format(sql.SQL(text)))
    offenders = sql.SQL("(\n{}\n) AS offenders").format(sql.SQL(text))
    identifying = _identifying(recon, recon_table_for(recon, check.table)) or (
        recon.hash_identifying_keys and check.identifying_key)
    row_key = _Keys(identifying, salt)
    collect.result.queries += 1
    names, _ = await fetch_described(conn, sql.SQL("SELECT * FROM {} LIMIT 0").format(offenders))
    if not names:
        raise CheckError("the check's query returns no columns")
    absent = [k for k in check.keys if k not in names]
    if absent:
        raise CheckError(
            "declared key column(s) " + ", ".join(clean(k, 60, single_line=True) for k in absent)
            + " not returned by the check's query (it returns "
            + ", ".join(clean(n, 60, single_line=True) for n in names[:20]) + ")")
    if len(set(names)) != len(names) and any(names.count(k) > 1 for k in check.keys):
        raise CheckError("a declared key column is returned twice by the check's query")
    shown = tuple(clean(n, 60, single_line=True) for n in names)
    collect.result.queries += 1
    if not check.keys:
        # Nothing may be shown: one finding for the check, carrying only how many rows.
        counted = await fetch(conn, sql.SQL("SELECT count(*) FROM {}").format(offenders))
        if len(counted) != 1:  # cannot happen after EXPLAIN above; never a crash if it does
            raise CheckError("the check's query is not one query")
        ((n,),) = counted
        collect.result.rows_transferred += 1
        if n:
            collect.add(side, (), shown, f"{n} row(s) returned by the check's query "
                                         "(no keys declared)")
        return
    rows = await fetch(conn, sql.SQL("SELECT {k}, count(*) OVER () FROM {o} LIMIT {lim}").format(
        k=sql.SQL(", ").join(sql.SQL("(offenders.{})::text").format(sql.Identifier(k))
                             for k in check.keys),
        o=offenders, lim=sql.Literal(MAX_FINDINGS_PER_CHECK + 1)))
    nkeys = len(check.keys)
    for row in rows:
        collect.result.rows_transferred += 1
        detail = f"returned by the check's query ({row[nkeys]} row(s) in all)"
        if not collect.add(side, tuple(row_key(v) for v in row[:nkeys]), shown, detail):
            break


async def _estimated_rows(conn, rel: Relation) -> float:
    ((tuples, pages),) = await fetch(conn, sql.SQL(
        "SELECT c.reltuples::float8, pg_catalog.pg_relation_size(c.oid) "
        "/ current_setting('block_size')::int8 FROM pg_catalog.pg_class c WHERE c.oid = "
        "pg_catalog.format('%I.%I', {}, {})::regclass").format(
            sql.Literal(rel.schema), sql.Literal(rel.name)))
    return float(tuples) if tuples >= 0 else float(pages) * segments.GUESS_ROWS_PER_PAGE


async def _per_parent_count(check, conns, recon, salt, collect: _Collector) -> None:
    """Child rows per parent key, compared without bringing every parent to the client.

    Per side and bucket of the parent key's hash: the child count and the exact sum of that
    hash over the children. Moving n children from parent p to q changes the sum by
    n * (h(q) - h(p)), so equal sums with equal counts mean equal per-parent counts, short of
    a coincidence of 64-bit hashes. Only the parents of differing buckets are fetched.
    """
    sides = {s: await _resolve(conns[s], recon, check.table, s) for s in ("source", "target")}
    parent_tables = [t for t in recon.tables if t.key == [check.parent_key]]
    key_of = _Keys(_identifying(recon, *parent_tables), salt)

    def parent(tgt: _Target, side: str) -> sql.Composable:
        col = sql.Identifier(_col(tgt.recon, check.parent_key, side))
        return sql.SQL('({}::text COLLATE "C")').format(col)

    def hashed(tgt: _Target, side: str) -> sql.Composable:
        return sql.SQL("pg_catalog.hashtextextended({}, 0)").format(parent(tgt, side))

    estimate = max([await _estimated_rows(conns[s], sides[s].rel) for s in sides])
    buckets = segments.choose_buckets(estimate, recon.buckets)

    async def bucket_sums(side: str) -> segments.BucketSums:
        tgt = sides[side]
        rows = await fetch(conns[side], sql.SQL(
            "SELECT b, count(*), sum(h) FROM (SELECT {b} AS b, {h} AS h FROM {t}{w} OFFSET 0) s "
            "GROUP BY b").format(b=bucket_expr(hashed(tgt, side), buckets), h=hashed(tgt, side),
                                 t=tgt.rel.ident, w=tgt.where))
        collect.result.rows_transferred += len(rows)
        sums: segments.BucketSums = {}
        segments.add_sums(sums, ((b, n, h or 0) for b, n, h in rows))
        return sums

    collect.result.queries += 2
    src_sums, dst_sums = await _both(bucket_sums("source"), bucket_sums("target"))
    bad = segments.mismatched(src_sums, dst_sums)
    if not bad:
        return
    wanted = sql.Literal("{" + ",".join(str(int(b)) for b in bad) + "}")

    def counts(side: str) -> sql.Composed:
        """Child count per parent of the differing buckets, in the parents' byte order."""
        tgt = sides[side]
        member = sql.SQL("{} = ANY({}::int8[])").format(
            bucket_expr(hashed(tgt, side), buckets), wanted)
        return sql.SQL("SELECT {p}, count(*) FROM {t}{w} GROUP BY 1 "
                       "ORDER BY pg_catalog.convert_to({p}, 'UTF8') NULLS LAST").format(
            p=parent(tgt, side), t=tgt.rel.ident, w=_and(tgt.where, member))

    def pair(s_row: tuple | None, d_row: tuple | None) -> None:
        p = (s_row or d_row)[0]  # type: ignore[index]
        ns, nt = (s_row[1] if s_row else 0), (d_row[1] if d_row else 0)
        if ns != nt and not collect.add("both", (key_of(p),), (check.parent_key,),
                                        f"source {ns}, target {nt}"):
            raise _Full()

    collect.result.queries += 2
    try:
        async with contextlib.AsyncExitStack() as stack:
            streams = await _both(
                stack.enter_async_context(stream(conns["source"], counts("source"), PARENT_BATCH)),
                stack.enter_async_context(stream(conns["target"], counts("target"), PARENT_BATCH)))
            src, dst = streams
            await segments.merge_sorted(Counted(src, collect.result), Counted(dst, collect.result),
                                        lambda r: segments.text_order((r[0],)), pair)
    except _Full:
        pass  # the cap: the collector marked the result truncated


class _Full(Exception):
    """The check's findings reached the cap: stop reading."""


async def _both(a: Coroutine[Any, Any, Any], b: Coroutine[Any, Any, Any]) -> tuple[Any, Any]:
    """Both sides at once (two connections); a failure cancels the other side."""
    try:
        async with asyncio.TaskGroup() as tg:
            ta, tb = tg.create_task(a), tg.create_task(b)
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None
    return ta.result(), tb.result()
