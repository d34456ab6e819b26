"""Schema layer: per table, columns and types on both sides, with the configured renames and
type changes. Type names are catalogue words (``character varying(80)``), never data.

Also home of the relation lookup the other table layers share: configured table names are
resolved through the catalogue (never by running a statement that could fail mid-snapshot), and
every statement is then built from the resolved identifiers with ``psycopg.sql``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

from cockpit.config.recon import ReconTable
from cockpit.recon.findings import Finding
from cockpit.text import clean


class BadName(ValueError):
    """A configured table name that is not ``name``, ``schema.name`` or their quoted forms."""


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


_PART = re.compile(r'\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))\s*')


def split_name(name: str) -> tuple[str | None, str]:
    """``schema.table`` as PostgreSQL reads it: unquoted parts fold to lower case."""
    parts: list[str] = []
    pos = 0
    while True:
        m = _PART.match(name, pos)
        if not m:
            raise BadName(f"{clean(name, 100, single_line=True)!r} is not a table name")
        parts.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2).lower())
        pos = m.end()
        if pos == len(name):
            break
        if name[pos] != ".":
            raise BadName(f"{clean(name, 100, single_line=True)!r} is not a table name")
        pos += 1
    if len(parts) > 2:
        raise BadName(f"{clean(name, 100, single_line=True)!r}: use schema.table")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


_RELKINDS = "('r','v','m','p','f')"


async def resolve_relation(conn, name: str) -> Relation | None:
    """The table (or view) ``name`` names on this connection's search path, or None."""
    schema, rel = split_name(name)
    async with conn.cursor() as cur:
        if schema is not None:
            await cur.execute(
                "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN {_RELKINDS}",
                (schema, rel))
        else:
            await cur.execute(
                "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE c.relname = %s AND c.relkind IN {_RELKINDS} "
                "AND n.nspname = ANY (pg_catalog.current_schemas(true)) "
                "ORDER BY pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname) LIMIT 1",
                (rel,))
        row = await cur.fetchone()
    return Relation(row[0], row[1]) if row else None


async def columns_of(conn, rel: Relation) -> dict[str, str]:
    """Column name -> ``format_type`` in table order."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
            "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", (rel.schema, rel.name))
        return {name: typ for name, typ in await cur.fetchall()}


async def primary_key_of(conn, rel: Relation) -> list[str]:
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT a.attname FROM pg_catalog.pg_index i "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
            "WHERE i.indrelid = pg_catalog.format('%%I.%%I', %s::text, %s::text)::regclass "
            "AND i.indisprimary "
            "ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)", (rel.schema, rel.name))
        return [r[0] for r in await cur.fetchall()]


# Spellings an operator may write in ``types`` mapped to what format_type prints.
_ALIASES = [
    (r"^int4$|^int$", "integer"), (r"^int8$", "bigint"), (r"^int2$", "smallint"),
    (r"^float8$|^float$", "double precision"), (r"^float4$", "real"), (r"^bool$", "boolean"),
    (r"^decimal", "numeric"), (r"^varchar", "character varying"), (r"^char\b", "character"),
    (r"^timestamptz", "timestamp with time zone"), (r"^timetz", "time with time zone"),
    (r"^timestamp(\(\d+\))?$", r"timestamp\1 without time zone"),
    (r"^time(\(\d+\))?$", r"time\1 without time zone"),
]


def normal_type(name: str) -> str:
    t = " ".join(name.strip().lower().split())
    t = re.sub(r"\s*\(\s*", "(", re.sub(r"\s*\)", ")", re.sub(r"\s*,\s*", ",", t)))
    for pattern, repl in _ALIASES:
        new = re.sub(pattern, repl, t)
        if new != t:
            return new
    return t


_INT_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_FLOAT_RANK = {"real": 1, "double precision": 2}


def _args(t: str, base: str) -> tuple[int, ...] | None:
    m = re.fullmatch(re.escape(base) + r"(?:\((\d+)(?:,(\d+))?\))?", t)
    if not m:
        return None
    return tuple(int(g) for g in m.groups() if g is not None)


def compatible(src: str, dst: str) -> bool:
    """True when every source value fits the target type unchanged (same type or a widening)."""
    s, d = normal_type(src), normal_type(dst)
    if s == d:
        return True
    if s in _INT_RANK and d in _INT_RANK:
        return _INT_RANK[d] >= _INT_RANK[s]
    if s in _FLOAT_RANK and d in _FLOAT_RANK:
        return _FLOAT_RANK[d] >= _FLOAT_RANK[s]
    sv = _args(s, "character varying")
    if sv is not None:
        if d == "text":
            return True
        dv = _args(d, "character varying")
        return dv is not None and (dv == () or (sv != () and dv[0] >= sv[0]))
    sn = _args(s, "numeric")
    if sn is not None:
        dn = _args(d, "numeric")
        if dn is None:
            return False
        if dn == ():
            return True
        if sn == ():
            return False
        s_scale, d_scale = (sn[1] if len(sn) == 2 else 0), (dn[1] if len(dn) == 2 else 0)
        return d_scale >= s_scale and dn[0] - d_scale >= sn[0] - s_scale
    return False


def compare_columns(table: ReconTable, src_cols: dict[str, str], dst_cols: dict[str, str]) -> list[Finding]:
    """Findings for one table whose two column lists are known. Pure."""
    severity = table.severity.schema_
    out: list[Finding] = []

    def add(kind: str, column: str, detail: str) -> None:
        shown = clean(column, 120, single_line=True)
        out.append(Finding(layer="schema", table=table.name, kind=kind, keys=(shown,),
                           columns=(shown,), severity=severity, detail=detail))

    excluded = set(table.exclude)
    wanted = list(src_cols) if table.columns is None else list(dict.fromkeys([*table.key, *table.columns]))
    mapped: set[str] = {table.rename.get(c, c) for c in src_cols}
    for col in wanted:
        if col in excluded:
            continue
        target = table.rename.get(col, col)
        if col not in src_cols:
            add("column_missing", col, "configured column is not on the source")
            continue
        if target not in dst_cols:
            add("column_missing", col, "not on the target" + (f" (renamed to {clean(target, 120)})" if target != col else ""))
            continue
        want = table.types.get(col) or table.types.get(target)
        src_type, dst_type = src_cols[col], dst_cols[target]
        if want is not None:
            if normal_type(dst_type) != normal_type(want):
                add("type_mismatch", col, f"source {src_type}, target {dst_type}, configured {clean(want, 80)}")
        elif not compatible(src_type, dst_type):
            add("type_mismatch", col, f"source {src_type}, target {dst_type}")
    if table.columns is None:
        renamed_excluded = {table.rename.get(c, c) for c in excluded}
        for col in dst_cols:
            if col not in mapped and col not in excluded and col not in renamed_excluded:
                add("column_extra", col, "on the target, not on the source")
    return out


def table_missing(table: ReconTable, layer: str, sides: list[str], severity: str) -> Finding:
    return Finding(layer=layer, table=table.name, kind="table_missing", severity=severity,
                   detail="no such table on the " + " and the ".join(sides))


async def compare_schema(src_conn, dst_conn, table: ReconTable, src_rel: Relation,
                         dst_rel: Relation) -> list[Finding]:
    return compare_columns(table, await columns_of(src_conn, src_rel), await columns_of(dst_conn, dst_rel))
