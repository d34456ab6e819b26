"""The SQL expressions that make a row comparable on two servers: key, bucket and row hashes.

Both sides are PostgreSQL, so both sides can evaluate the *same* hash function over the *same*
expression; what has to be chosen per column is which expression.

- A column whose type is identical on both sides (``format_type`` equal, a built-in type with a
  hash opclass) and that no normaliser touches goes into the row hash as itself: the hash is
  then the type's own hash (``2.5 = 2.50`` for ``numeric``, one instant for ``timestamptz``),
  the cheapest thing PostgreSQL can compute.
- Every other column goes in as a canonical text form: normalised (``AT TIME ZONE 'UTC'``,
  ``round(x::numeric, scale)``, ``btrim``, ``lower``, ``nullif(x, '')``) and cast to text under
  the pinned session settings (``session.PINNED_SETTINGS``).
- The row hash is ``hash_record_extended(ROW(k1, .., e1, e2, ...), seed)`` with the row's key
  as the seed. A record hash combines one hash per field by position (``31 * h + h'``) and
  hashes NULL fields as 0, so ``'12','3'`` never equals ``'1','23'`` and NULL never equals
  ``''`` without relying on a separator character that must not occur in the data.
- Why the key, and why as the seed: a bucket is compared as (count, sum of row hashes), and
  the record hash is linear in its fields' hashes. Without the key, moving a row's values (or
  one column's, an allergy onto the wrong patient) between two keys of one bucket left the sum
  unchanged, and so did a NULL -> '' change in one row beside a '' -> NULL change in another.
  Each field's hash function takes the seed into its mixing, so a field's hash is a non-linear
  function of (value, key): a value moved to another key changes the sum. The key fields are in
  the record too, so a key change is seen even when every other column is NULL. The seed is the
  key itself for an integer key (no hash to compute, and exact: ``hashint8extended`` folds 64
  bits to 32, so keys 1 and 2^32 share a hash), else the key hash the bucket uses (64 bits).
  A NULL key part seeds as 0; the NULL key field in the record still tells it apart from 0.
- Enums, domains and other user-defined types always go through text: their hash functions
  hash OIDs, which differ between the two databases.

Types of a different kind on the two sides (a number against a date, say) are not compared at
all unless the plan configures a type change for the column (``types``), in which case the
text forms are compared; that is reported as an incomparable column, never as a match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from cockpit.config.recon import ReconTable

# Built-in types whose default hash opclass makes "same hash" mean "equal values"; arrays of
# them hash element-wise and are fine too.
HASHABLE = frozenset(
    [
        "int2",
        "int4",
        "int8",
        "numeric",
        "float4",
        "float8",
        "bool",
        "text",
        "varchar",
        "bpchar",
        "char",
        "name",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "uuid",
        "bytea",
        "jsonb",
        "inet",
        "cidr",
        "macaddr",
        "macaddr8",
        "oid",
    ]
)
INTEGERS = frozenset({"int2", "int4", "int8"})
LOOKUP_TYPES = {"text": "text", "varchar": "text", "uuid": "uuid"}
TEXTUAL_CATEGORY = "S"
NUMERIC_CATEGORY = "N"
FIRST_USER_OID = 16384
# Plain hash bits of a bigint: abs() would overflow on -2^63.
POSITIVE_MASK = 9223372036854775807
TRIM_CHARS = " \t\r\n\f\v"


class Incomparable(ValueError):
    """A column or key that cannot be compared as configured; one PHI-free line."""

    def __init__(self, message: str, columns: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.columns = columns


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # format_type, e.g. "numeric(10,2)"
    typname: str  # pg_type.typname (arrays start with "_")
    category: str  # pg_type.typcategory
    type_oid: int
    notnull: bool = False

    @property
    def builtin(self) -> bool:
        return self.type_oid < FIRST_USER_OID

    @property
    def hashable(self) -> bool:
        return self.builtin and self.typname.removeprefix("_") in HASHABLE


@dataclass(frozen=True)
class Side:
    """The expressions for one side; every identifier already quoted."""

    key_texts: tuple[sql.Composable, ...]
    key_hash: sql.Composable
    row_hash: sql.Composable
    column_hashes: tuple[sql.Composable, ...]
    # Single-column key whose text forms cast back to an index-comparable array type:
    # (column, array element type), so changed keys can be looked up through an index.
    lookup: tuple[str, str] | None = None


@dataclass(frozen=True)
class RowPlan:
    key: tuple[str, ...]  # source names
    columns: tuple[str, ...]  # compared source names, in hash order
    source: Side
    target: Side
    raw_columns: tuple[str, ...] = ()  # compared by their own type hash
    text_columns: tuple[str, ...] = ()  # compared by canonical text
    notes: list[str] = field(default_factory=list)


def _normalisers(table: ReconTable, column: str) -> tuple[list[str], list[str]]:
    """(explicit per-column, plan-wide) normalisers, each in configured order without repeats."""
    own: list[str] = list(dict.fromkeys(table.normalize.get(column, [])))
    return own, [n for n in dict.fromkeys(table.normalize_all) if n not in own]


def _value_expr(
    ident: sql.Composable, info: ColumnInfo, own: list[str], common: list[str], scale: int
) -> tuple[sql.Composable, bool]:
    """(canonical expression, whether any normaliser applied) for one side of one column.

    Plan-wide normalisers apply only where they make sense (``trim`` to text columns, ``utc``
    to timestamps); a normaliser named for the column itself is applied as written.
    """
    expr: sql.Composable = ident
    applied = False

    def wants(name: str, fits: bool) -> bool:
        return name in own or (name in common and fits)

    is_ts = info.typname in ("timestamp", "timestamptz")
    if wants("utc", is_ts) and is_ts:
        applied = True
        if info.typname == "timestamptz":
            expr = sql.SQL("({} AT TIME ZONE 'UTC')").format(expr)
        # timestamp without time zone is taken to hold UTC already; text form is the same.
    numeric = info.category == NUMERIC_CATEGORY and info.typname not in INTEGERS
    if wants("scale", numeric) and info.category == NUMERIC_CATEGORY:
        applied = True
        expr = sql.SQL("round(({})::numeric, {})").format(expr, sql.Literal(scale))
    text: sql.Composable = sql.SQL("({})::text").format(expr)
    textual = info.category == TEXTUAL_CATEGORY
    if wants("trim", textual):
        applied = True
        text = sql.SQL("btrim({}, {})").format(text, sql.Literal(TRIM_CHARS))
    if wants("casefold", textual):
        applied = True
        text = sql.SQL("lower({})").format(text)
    if wants("empty_as_null", textual):
        applied = True
        text = sql.SQL("nullif({}, '')").format(text)
    # COLLATE "C" last (lower() above keeps the column's collation, so it folds non-ASCII
    # letters): a nondeterministic collation must not make the hash case-blind.
    return sql.SQL('({} COLLATE "C")').format(text), applied


def _key_pair(src: ColumnInfo, dst: ColumnInfo, s: sql.Composable, d: sql.Composable):
    """(source expr, target expr, kind) for one key column; kind picks the cheap hash."""
    if src.typname in INTEGERS and dst.typname in INTEGERS:
        return sql.SQL("{}::int8").format(s), sql.SQL("{}::int8").format(d), "int"
    if src.type == dst.type and src.hashable:
        return s, d, "uuid" if src.typname == "uuid" else "raw"
    # Keys of different types (uuid stored as text, say) are matched by their text forms.
    as_text = '(({})::text COLLATE "C")'
    return sql.SQL(as_text).format(s), sql.SQL(as_text).format(d), "text"


def _seed(exprs: list[sql.Composable], kinds: list[str], key_hash: sql.Composable,
          nullable: bool) -> sql.Composable:
    """The row hash's seed: the integer key itself, else the key hash (see the docstring)."""
    seed = exprs[0] if len(exprs) == 1 and kinds[0] == "int" else key_hash
    return sql.SQL("coalesce({}, 0)").format(seed) if nullable else seed


def _key_hash(exprs: list[sql.Composable], kinds: list[str]) -> sql.Composable:
    if len(exprs) == 1:
        fn = {"int": "hashint8extended", "uuid": "uuid_hash_extended", "text": "hashtextextended"}
        if kinds[0] in fn:
            return sql.SQL("{}({}, 0)").format(sql.SQL(fn[kinds[0]]), exprs[0])
    return sql.SQL("hash_record_extended(ROW({}), 0)").format(sql.SQL(", ").join(exprs))


def bucket_expr(key_hash: sql.Composable, buckets: int) -> sql.Composable:
    """Bucket number of a row: its key hash, masked non-negative, modulo the bucket count.

    A NULL key (possible only in a configured, non-primary key) goes to bucket 0.
    """
    return sql.SQL("coalesce(({} & {}) % {}, 0)").format(
        key_hash, sql.Literal(POSITIVE_MASK), sql.Literal(int(buckets))
    )


def plan_rows(
    table: ReconTable,
    key: list[str],
    src_cols: dict[str, ColumnInfo],
    dst_cols: dict[str, ColumnInfo],
) -> RowPlan:
    """Key and row expressions for both sides; raises ``Incomparable`` with a clear reason."""
    target_of = {c: table.rename.get(c, c) for c in src_cols}
    for col in key:
        if col not in src_cols:
            raise Incomparable(f"key column {col} is not on the source", (col,))
        if target_of[col] not in dst_cols:
            raise Incomparable(f"key column {col} is not on the target", (col,))
    excluded = set(table.exclude) | set(key)
    wanted = [
        c for c in (table.columns if table.columns is not None else src_cols) if c not in excluded
    ]
    wanted = list(dict.fromkeys(wanted))
    for col in wanted:
        if col not in src_cols:
            raise Incomparable(f"column {col} is not on the source", (col,))
        if target_of[col] not in dst_cols:
            raise Incomparable(f"column {col} is not on the target", (col,))

    k_src, k_dst, kinds = [], [], []
    for col in key:
        s, d, kind = _key_pair(
            src_cols[col],
            dst_cols[target_of[col]],
            sql.Identifier(col),
            sql.Identifier(target_of[col]),
        )
        k_src.append(s)
        k_dst.append(d)
        kinds.append(kind)

    row_src: list[sql.Composable] = []
    row_dst: list[sql.Composable] = []
    raw, text = [], []
    for col in wanted:
        s_info, d_info = src_cols[col], dst_cols[target_of[col]]
        s_id, d_id = sql.Identifier(col), sql.Identifier(target_of[col])
        own, common = _normalisers(table, col)
        type_change = col in table.types or target_of[col] in table.types
        s_text, s_norm = _value_expr(s_id, s_info, own, common, table.numeric_scale)
        d_text, d_norm = _value_expr(d_id, d_info, own, common, table.numeric_scale)
        same_type = s_info.type == d_info.type and s_info.type_oid == d_info.type_oid
        if same_type and s_info.hashable and not (s_norm or d_norm) and not type_change:
            row_src.append(s_id)
            row_dst.append(d_id)
            raw.append(col)
            continue
        if (
            not type_change
            and s_info.category != d_info.category
            and not _text_like_pair(s_info, d_info)
        ):
            raise Incomparable(
                f"column {col}: source {s_info.type} and target {d_info.type} are different "
                "kinds of value; configure `types` for it to compare their text forms",
                (col,),
            )
        row_src.append(s_text)
        row_dst.append(d_text)
        text.append(col)

    lookups: tuple[str | None, str | None] = (None, None)
    if len(key) == 1:
        s_info, d_info = src_cols[key[0]], dst_cols[target_of[key[0]]]
        if kinds[0] == "int":
            lookups = ("int8", "int8")
        elif s_info.typname in LOOKUP_TYPES and d_info.typname in LOOKUP_TYPES:
            lookups = (LOOKUP_TYPES[s_info.typname], LOOKUP_TYPES[d_info.typname])
            if lookups[0] != lookups[1]:
                lookups = (None, None)

    def side(keys, key_names, row, lookup, cols: dict[str, ColumnInfo]) -> Side:
        key_idents = [sql.Identifier(c) for c in key_names]
        key_hash = _key_hash(keys, kinds)
        nullable = not all(cols[c].notnull for c in key_names)
        row_hash = sql.SQL("hash_record_extended(ROW({}), {})").format(
            sql.SQL(", ").join([*keys, *row]), _seed(keys, kinds, key_hash, nullable))
        col_hashes = tuple(sql.SQL("hash_record_extended(ROW({}), 0)").format(e) for e in row)
        return Side(
            key_texts=tuple(sql.SQL("({})::text").format(i) for i in key_idents),
            key_hash=key_hash,
            row_hash=row_hash,
            column_hashes=col_hashes,
            lookup=(key_names[0], lookup) if lookup else None,
        )

    return RowPlan(
        key=tuple(key),
        columns=tuple(wanted),
        source=side(k_src, list(key), row_src, lookups[0], src_cols),
        target=side(k_dst, [target_of[c] for c in key], row_dst, lookups[1], dst_cols),
        raw_columns=tuple(raw),
        text_columns=tuple(text),
    )


def _text_like_pair(a: ColumnInfo, b: ColumnInfo) -> bool:
    """Enums and text-ish types move into each other in migrations; their text forms compare."""
    text_like = {TEXTUAL_CATEGORY, "E"}
    return a.category in text_like and b.category in text_like
