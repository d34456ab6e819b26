"""Counts layer: rows per table, optionally per grouping column (e.g. per facility).

Group values are data, so they are shown only as group keys (cleaned, capped) and only for
the column the plan named; a plan should group by a facility or partition, never by a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from psycopg import sql

from cockpit.config.recon import ReconTable
from cockpit.recon.findings import Finding
from cockpit.recon.schema import Relation
from cockpit.recon.session import fetch
from cockpit.text import clean

MAX_GROUP_FINDINGS = 500
NULL_GROUP = "(null)"


@dataclass
class CountResult:
    findings: list[Finding] = field(default_factory=list)
    source_rows: int = 0
    target_rows: int = 0
    queries: int = 0
    truncated: bool = False  # more differing groups than were reported


def where_clause(table: ReconTable, side: str) -> sql.Composable:
    """The plan's filters for one side: ``where`` on both, ``<side>_where`` on that side only.

    The filters are SQL written by the plan's author; each is parenthesised so an ``OR`` in one
    cannot swallow the other, and the statements they reach run through ``session.fetch`` (one
    statement, read-only, rolled back), so a filter can narrow what is read and nothing else.
    """
    parts = [p for p in (table.where, table.source_where if side == "source" else table.target_where) if p]
    if not parts:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(sql.SQL("(") + sql.SQL(p) + sql.SQL(")") for p in parts)


async def _count(conn, rel: Relation, where: sql.Composable, group: str | None) -> dict[str | None, int]:
    if group is None:
        rows = await fetch(conn, sql.SQL("SELECT count(*) FROM {}{}").format(rel.ident, where))
        return {None: rows[0][0]}
    rows = await fetch(conn, sql.SQL("SELECT {g}::text, count(*) FROM {t}{w} GROUP BY 1").format(
        g=sql.Identifier(group), t=rel.ident, w=where))
    return {(NULL_GROUP if g is None else g): n for g, n in rows}


def _group_text(value: str) -> str:
    return clean(value, 80, single_line=True)


async def compare_counts(src_conn, dst_conn, table: ReconTable, src_rel: Relation,
                         dst_rel: Relation) -> CountResult:
    group_src = table.group_by
    group_dst = table.rename.get(group_src, group_src) if group_src else None
    src = await _count(src_conn, src_rel, where_clause(table, "source"), group_src)
    dst = await _count(dst_conn, dst_rel, where_clause(table, "target"), group_dst)
    res = CountResult(source_rows=sum(src.values()), target_rows=sum(dst.values()), queries=2)
    severity = table.severity.count
    if res.source_rows != res.target_rows:
        res.findings.append(Finding(layer="counts", table=table.name, kind="count_mismatch",
                                    severity=severity,
                                    detail=f"source {res.source_rows}, target {res.target_rows}"))
    if group_src:
        # Grouped, every key is text (NULL_GROUP stands for NULL); None keys only the total.
        groups = cast("set[str]", src.keys() | dst.keys())
        differing = sorted(g for g in groups if src.get(g, 0) != dst.get(g, 0))
        res.truncated = len(differing) > MAX_GROUP_FINDINGS
        for g in differing[:MAX_GROUP_FINDINGS]:
            shown = _group_text(g)
            res.findings.append(Finding(
                layer="counts", table=table.name, kind="group_count_mismatch", keys=(shown,),
                columns=(group_src,), severity=severity,
                detail=f"{group_src}={shown}: source {src.get(g, 0)}, target {dst.get(g, 0)}"))
    return res
