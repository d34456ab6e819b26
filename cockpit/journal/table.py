"""The shared journal's table in PostgreSQL: its definition, and the rules the database keeps.

One row per entry: ``(cutover, seq)`` unique, ``prev`` and ``hash`` as on the entry, and
``line``: the entry's canonical JSON exactly as a file journal holds it (without the newline),
so ``SELECT line FROM <table> WHERE cutover = ... ORDER BY seq`` (``psql -At``) is a file
journal the auditor's ten-line script verifies unchanged.

The database itself keeps the chain (so two cockpits can never fork it, whatever their code):

- a BEFORE INSERT trigger refuses a row unless ``seq`` is 1 with ``prev`` = 64 zeros, or the
  row ``seq - 1`` of the same cutover exists with ``hash`` = this ``prev``; unless the line's
  own ``seq``, ``prev``, ``hash`` and ``cutover`` are the columns'; and unless ``hash`` is the
  byte rule's sha256 over ``prev`` and the line without its hash. The unique key makes the
  loser of a race for the same ``seq`` fail, and the predecessor rule makes a row chained
  onto anything but the head fail;
- the same trigger takes a line only when every reader will read it (``cockpit.journal.lines``):
  exactly the canonical JSON of its value (``<table>_canonical`` writes it again: sorted keys,
  no duplicate, Python's escapes and float repr), of the entry's shape (fields, types, a real
  UTC time, the actor), within the line length, and in batch order (``[i, n]`` after
  ``[i - 1, n]``, nothing else after an unfinished batch); a deferred constraint trigger
  refuses a transaction that leaves a batch unfinished (SQLSTATE ``CJ003``: never a race,
  not worth a retry). The table is append-only, so a row readers would call damage could
  never be taken back: it must never be taken;
- BEFORE UPDATE / DELETE (per row) and BEFORE TRUNCATE (per statement) triggers refuse;
- an AFTER INSERT trigger sends ``NOTIFY <table>, '<seq>'`` (delivered at commit), so every
  cockpit reads the new rows at once; the notification carries only the seq.

The table's owner can still drop the triggers: the cockpit's own role should have only SELECT
and INSERT on the table (``journal init`` prints the GRANT), and every cockpit's local copy
witnesses the head it has seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cockpit.journal.entry import ACTOR_FIELDS, BATCH, FIELDS
from cockpit.journal.lines import MAX_BATCH, MAX_LINE

# The SQLSTATE the chain trigger raises; a client tells "someone else appended first" by it
# (with 23505, unique_violation, for a race on the very same seq).
CHAIN_SQLSTATE = "CJ001"
APPEND_ONLY_SQLSTATE = "CJ002"
# A line no reader would take (not canonical, not of an entry's shape, out of batch order, a
# batch left unfinished at commit): never a race, so never worth a retry.
ENTRY_SQLSTATE = "CJ003"

_NAME = re.compile(r"(?:([a-z_][a-z0-9_]{0,62})\.)?([a-z_][a-z0-9_]{0,62})")


def split_name(name: str) -> tuple[str | None, str]:
    """(schema or None, table) of a plan's ``shared_journal.table``; ValueError otherwise."""
    m = _NAME.fullmatch(name)
    if m is None:
        raise ValueError(f"{name!r} is not a table name")
    return m.group(1), m.group(2)


def qualified(name: str) -> str:
    """The table's name for SQL: every part double-quoted (names are lower-case identifiers,
    checked by the plan loader, so quoting cannot change them)."""
    schema, table = split_name(name)
    return f'"{schema}"."{table}"' if schema else f'"{table}"'


def channel(name: str) -> str:
    """The LISTEN/NOTIFY channel of the table: its own name, schema included."""
    schema, table = split_name(name)
    return f"{schema}.{table}" if schema else table


def function_name(name: str, what: str) -> str:
    """The trigger function ``what`` (chain, append_only, notify) of the table, beside it."""
    schema, table = split_name(name)
    fn = f"{table}_{what}"[:63]
    return f'"{schema}"."{fn}"' if schema else f'"{fn}"'


def notified_name(name: str) -> str:
    """The table of delivered notifications beside the journal table ``name``
    (``cockpit.notify.lease``): ``<table>_notified``, in the same schema."""
    schema, table = split_name(name)
    bare = f"{table[:63 - len('_notified')]}_notified"
    return f"{schema}.{bare}" if schema else bare


def _sql_array(names) -> str:
    return "ARRAY[" + ", ".join(f"'{n}'" for n in sorted(names, key=lambda k: k.encode())) + "]"


def create_sql(name: str) -> list[str]:
    """The statements ``cockpit journal init`` runs, in order (printed before they run)."""
    t = qualified(name)
    chain, append_only, notify, canon, batch_end = (
        function_name(name, w) for w in ("chain", "append_only", "notify", "canonical", "batch_end"))
    bare = split_name(name)[1]
    listen = channel(name).replace("'", "''")
    keys = _sql_array(FIELDS)
    keys_batch = _sql_array((*FIELDS, BATCH))
    actor_keys = _sql_array(ACTOR_FIELDS)
    refuse = f"USING ERRCODE = '{ENTRY_SQLSTATE}'"
    conflict = f"USING ERRCODE = '{CHAIN_SQLSTATE}'"
    return [
        f"""CREATE TABLE {t} (
    cutover text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 1),
    prev text NOT NULL CHECK (prev ~ '^[0-9a-f]{{64}}$'),
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{{64}}$'),
    line text NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (cutover, seq)
)""",
        # The byte rule's canonical JSON (Python's json.dumps with sort_keys, separators (",",
        # ":") and ensure_ascii off) of a value, or an exception: the chain trigger takes a line
        # only when it is exactly this, as every reader will demand. Floats are written as
        # Python's repr: the shortest rounding that reads back as the same double.
        f"""CREATE FUNCTION {canon}(v json, depth int) RETURNS text LANGUAGE plpgsql IMMUTABLE
AS $cockpit$
DECLARE
    kind text := json_typeof(v);
    out text := '';
    k text;
    x json;
    last_key text;
    tok text;
    m text[];
    digits text;
    decpt int;
    ex int;
    n int;
    f float8;
    d17 numeric;
    dn numeric;
    near numeric;
    efd text;
    ftext text;
    sub text;
    part text;
BEGIN
    IF depth > 100 THEN
        RAISE EXCEPTION 'cockpit journal: entry nested too deep' {refuse};
    END IF;
    IF kind = 'object' THEN
        FOR k, x IN SELECT e.key, e.value FROM json_each(v) e ORDER BY e.key COLLATE "C" LOOP
            IF k = last_key THEN
                RAISE EXCEPTION 'cockpit journal: entry has a duplicate key' {refuse};
            END IF;
            -- The common members (a plain string, an integer, true, false, null) are written
            -- here: a call per value is most of the cost of an insert.
            tok := x::text;
            sub := json_typeof(x);
            IF sub = 'string' AND strpos(tok, '\\') = 0 THEN
                part := tok;  -- no escape at all: the token is its canonical form
            ELSIF sub IN ('boolean', 'null') OR (sub = 'number' AND tok ~ '^-?(0|[1-9][0-9]*)$'
                                                AND tok <> '-0' AND length(tok) <= 4300) THEN
                part := tok;
            ELSE
                part := {canon}(x, depth + 1);
            END IF;
            out := out || CASE WHEN last_key IS NULL THEN '' ELSE ',' END
                || CASE WHEN k ~ '["\\\\\\x01-\\x1f]' THEN {canon}(to_json(k), depth + 1)
                        ELSE '"' || k || '"' END || ':' || part;
            last_key := k;
        END LOOP;
        RETURN '{{' || out || '}}';
    ELSIF kind = 'array' THEN
        FOR x IN SELECT e.value FROM json_array_elements(v) WITH ORDINALITY e(value, n) ORDER BY e.n LOOP
            tok := x::text;
            sub := json_typeof(x);
            IF sub = 'string' AND strpos(tok, '\\') = 0 THEN
                part := tok;
            ELSIF sub IN ('boolean', 'null') OR (sub = 'number' AND tok ~ '^-?(0|[1-9][0-9]*)$'
                                                AND tok <> '-0' AND length(tok) <= 4300) THEN
                part := tok;
            ELSE
                part := {canon}(x, depth + 1);
            END IF;
            out := out || CASE WHEN out = '' THEN '' ELSE ',' END || part;
        END LOOP;
        RETURN '[' || out || ']';
    ELSIF kind = 'string' THEN
        out := v #>> '{{}}';
        IF out ~ '["\\\\\\x01-\\x1f]' THEN
            out := replace(replace(out, '\\', '\\\\'), '"', '\\"');
            out := replace(replace(replace(replace(replace(out, E'\\b', '\\b'), E'\\f', '\\f'),
                                                   E'\\n', '\\n'), E'\\r', '\\r'), E'\\t', '\\t');
            IF out ~ '[\\x01-\\x1f]' THEN
                FOR i IN 1..31 LOOP
                    out := replace(out, chr(i), '\\u00' || lpad(to_hex(i), 2, '0'));
                END LOOP;
            END IF;
        END IF;
        RETURN '"' || out || '"';
    ELSIF kind = 'number' THEN
        tok := v::text;
        IF tok ~ '^-?(0|[1-9][0-9]*)$' AND tok <> '-0' AND length(tok) <= 4300 THEN
            RETURN tok;  -- an integer (Python reads at most 4300 digits)
        END IF;
        IF tok ~ '^-?(0|[1-9][0-9]*)$' THEN
            RAISE EXCEPTION 'cockpit journal: entry holds an integer readers cannot read' {refuse};
        END IF;
        -- Python writes a float as the shortest decimal that reads back as the same double.
        -- A decimal of at most 15 significant digits (within the normal range) is that
        -- decimal itself, zeros stripped: two of them never read as one double (DBL_DIG).
        m := regexp_match(tok, '^(-?)([0-9]+)(?:\\.([0-9]+))?(?:[eE]([+-]?[0-9]{{1,3}}))?$');
        IF m IS NOT NULL THEN
            digits := m[2] || coalesce(m[3], '');
            decpt := length(m[2]) + coalesce(m[4]::int, 0);
            WHILE length(digits) > 1 AND left(digits, 1) = '0' LOOP
                digits := substr(digits, 2);
                decpt := decpt - 1;
            END LOOP;
        END IF;
        IF m IS NULL OR length(rtrim(digits, '0')) > 15 OR decpt NOT BETWEEN -300 AND 300 THEN
            -- Otherwise from PostgreSQL's digits (they read back as f, but are not always the
            -- shortest): the shortest of their roundings that reads back as f.
            f := tok::float8;
            -- (a SET clause on the function would cost every call a settings save and restore)
            efd := current_setting('extra_float_digits');
            IF efd::int < 1 THEN  -- below 1 PostgreSQL prints rounded digits, not exact ones
                PERFORM set_config('extra_float_digits', '1', true);
                ftext := f::text;
                PERFORM set_config('extra_float_digits', efd, true);
            ELSE
                ftext := f::text;
            END IF;
            m := regexp_match(ftext, '^(-?)([0-9]+)(?:\\.([0-9]+))?(?:e([+-][0-9]+))?$');
            IF m IS NULL THEN
                RAISE EXCEPTION 'cockpit journal: entry holds a number readers cannot read' {refuse};
            END IF;
            digits := m[2] || coalesce(m[3], '');
            decpt := length(m[2]) + coalesce(m[4]::int, 0);
            WHILE length(digits) > 1 AND left(digits, 1) = '0' LOOP
                digits := substr(digits, 2);
                decpt := decpt - 1;
            END LOOP;
        ELSE
            f := NULL;  -- the token's own digits are Python's
        END IF;
        IF rtrim(digits, '0') = '' THEN
            digits := '0';
            decpt := 1;
        ELSIF f IS NULL THEN
            digits := rtrim(digits, '0');
        ELSE
            d17 := rpad(digits, 17, '0')::numeric;
            FOR i IN 1..17 LOOP  -- (a loop's own i: it is gone after the loop)
                n := i;
                dn := round(d17 / (10::numeric ^ (17 - i)));
                near := (dn::text || 'e' || (decpt - i)::text)::numeric;
                -- beyond what a double holds, reading it would fail: it cannot be f
                IF near <= 1.7976931348623157e308 AND near >= 2.5e-324
                        AND near::float8 = abs(f) THEN
                    EXIT;
                END IF;
            END LOOP;
            IF length(dn::text) > n THEN  -- rounded up to a power of ten: 9.99... -> 10
                decpt := decpt + 1;
            END IF;
            digits := rtrim(dn::text, '0');
        END IF;
        IF decpt <= -4 OR decpt > 16 THEN
            ex := decpt - 1;
            out := left(digits, 1) || CASE WHEN length(digits) > 1 THEN '.' || substr(digits, 2) ELSE '' END
                || 'e' || CASE WHEN ex < 0 THEN '-' ELSE '+' END
                || CASE WHEN abs(ex) < 10 THEN '0' ELSE '' END || abs(ex)::text;
        ELSIF decpt <= 0 THEN
            out := '0.' || repeat('0', -decpt) || digits;
        ELSIF decpt >= length(digits) THEN
            out := digits || repeat('0', decpt - length(digits)) || '.0';
        ELSE
            out := left(digits, decpt) || '.' || substr(digits, decpt + 1);
        END IF;
        RETURN m[1] || out;
    END IF;
    RETURN v::text;  -- true, false, null
END
$cockpit$""",
        f"""CREATE FUNCTION {chain}() RETURNS trigger LANGUAGE plpgsql AS $cockpit$
DECLARE
    before_hash text;
    before_line text;
    before_batch jsonb;
    open_i numeric;
    open_n numeric;
    doc json;
    d jsonb;
    actor jsonb;
    batch jsonb;
    keys text[];
    ts text[];
    at int;
    body text;
BEGIN
    IF NEW.seq = 1 THEN
        IF NEW.prev <> repeat('0', 64) THEN
            RAISE EXCEPTION 'cockpit journal: entry 1 must chain onto 64 zeros' {conflict};
        END IF;
    ELSE
        SELECT j.hash, j.line INTO before_hash, before_line FROM {t} j
            WHERE j.cutover = NEW.cutover AND j.seq = NEW.seq - 1;
        IF before_hash IS NULL OR before_hash <> NEW.prev THEN
            RAISE EXCEPTION 'cockpit journal: entry % does not chain onto the head', NEW.seq {conflict};
        END IF;
    END IF;
    IF octet_length(NEW.line) > {MAX_LINE} THEN
        RAISE EXCEPTION 'cockpit journal: entry % is longer than a line may be', NEW.seq {refuse};
    END IF;
    -- json keeps the text; reading members de-escapes every string on the way, and text
    -- cannot hold U+0000, which only notes and data may carry: it is read as U+0001, on both
    -- sides of the canonical comparison below.
    doc := replace(NEW.line, '\\u0000', '\\u0001')::json;
    d := doc::jsonb;  -- parsed once for the checks below (json's operators parse every time)
    IF jsonb_typeof(d) <> 'object' OR (d->>'seq') IS DISTINCT FROM NEW.seq::text
            OR (d->>'prev') IS DISTINCT FROM NEW.prev OR (d->>'hash') IS DISTINCT FROM NEW.hash
            OR (d->>'cutover') IS DISTINCT FROM NEW.cutover THEN
        RAISE EXCEPTION 'cockpit journal: entry % does not match its columns', NEW.seq {conflict};
    END IF;
    -- What every reader demands of a line (cockpit.journal.lines): exactly the canonical JSON
    -- of an entry of the documented shape. A row readers would call damage is never taken:
    -- the table is append-only, so it could never be taken back either.
    IF {canon}(doc, 0) <> replace(NEW.line, '\\u0000', '\\u0001') THEN
        RAISE EXCEPTION 'cockpit journal: entry % is not in canonical form', NEW.seq {refuse};
    END IF;
    keys := ARRAY(SELECT k FROM jsonb_object_keys(d) k ORDER BY k COLLATE "C");
    actor := d->'actor';
    batch := d->'batch';
    ts := regexp_match(d->>'ts', '^([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}})T([0-9]{{2}}):([0-9]{{2}}):([0-9]{{2}})\\.[0-9]{{3}}Z$');
    IF (keys <> {keys} AND keys <> {keys_batch})
            OR jsonb_typeof(d->'seq') <> 'number' OR jsonb_typeof(d->'ts') <> 'string'
            OR jsonb_typeof(d->'cutover') <> 'string' OR jsonb_typeof(d->'action') <> 'string'
            OR jsonb_typeof(d->'prev') <> 'string' OR jsonb_typeof(d->'hash') <> 'string'
            OR jsonb_typeof(d->'subject') NOT IN ('string', 'null')
            OR jsonb_typeof(d->'reason_code') NOT IN ('string', 'null')
            OR jsonb_typeof(d->'note') NOT IN ('string', 'null')
            OR jsonb_typeof(actor) <> 'object'
            OR ARRAY(SELECT k FROM jsonb_object_keys(actor) k ORDER BY k COLLATE "C") <> {actor_keys}
            OR jsonb_typeof(actor->'operator') <> 'string' OR jsonb_typeof(actor->'os_user') <> 'string'
            OR jsonb_typeof(actor->'host') <> 'string' OR jsonb_typeof(actor->'session') <> 'string'
            OR jsonb_typeof(actor->'ssh_client') NOT IN ('string', 'null')
            OR (actor->>'pid') !~ '^(0|[1-9][0-9]{{0,18}})$'
            OR (actor->>'pid')::numeric >= 9223372036854775808
            OR ts IS NULL OR ts[1]::int < 1 OR ts[2]::int NOT BETWEEN 1 AND 12
            OR ts[3]::int < 1 OR ts[3]::int > extract(day FROM make_date(ts[1]::int, ts[2]::int, 1)
                                                       + interval '1 month' - interval '1 day')
            OR ts[4]::int > 23 OR ts[5]::int > 59 OR ts[6]::int > 59 THEN
        RAISE EXCEPTION 'cockpit journal: entry % is not of the shape of an entry', NEW.seq {refuse};
    END IF;
    -- Batches: [i, n] follows [i - 1, n]; nothing else follows an unfinished batch (a deferred
    -- trigger refuses a transaction that ends one unfinished).
    IF batch IS NOT NULL AND (jsonb_typeof(batch) <> 'array' OR jsonb_array_length(batch) <> 2
            OR (batch->>0) !~ '^[1-9][0-9]{{0,9}}$' OR (batch->>1) !~ '^[1-9][0-9]{{0,9}}$'
            OR (batch->>1)::numeric NOT BETWEEN 2 AND {MAX_BATCH}
            OR (batch->>0)::numeric > (batch->>1)::numeric) THEN
        RAISE EXCEPTION 'cockpit journal: entry % has a batch that is not [i, n]', NEW.seq {refuse};
    END IF;
    IF before_line IS NOT NULL AND strpos(before_line, '"batch":[') > 0 THEN
        before_batch := replace(before_line, '\\u0000', '\\u0001')::jsonb->'batch';
        IF before_batch IS NOT NULL AND (before_batch->>0)::numeric < (before_batch->>1)::numeric THEN
            open_i := (before_batch->>0)::numeric;
            open_n := (before_batch->>1)::numeric;
        END IF;
    END IF;
    IF (open_i IS NULL AND batch IS NOT NULL AND (batch->>0)::numeric <> 1)
            OR (open_i IS NOT NULL AND (batch IS NULL OR (batch->>0)::numeric <> open_i + 1
                                        OR (batch->>1)::numeric <> open_n)) THEN
        RAISE EXCEPTION 'cockpit journal: entry % breaks the order of a batch', NEW.seq {refuse};
    END IF;
    -- The byte rule: sha256(prev || "\\n" || the canonical line without its "hash" member).
    -- Keys are sorted and "hash" is never first, so that member is ,"hash":"<hex>" once.
    at := strpos(NEW.line, ',"hash":"' || NEW.hash || '"');
    IF at = 0 THEN
        RAISE EXCEPTION 'cockpit journal: entry % has no hash member', NEW.seq {conflict};
    END IF;
    body := overlay(NEW.line PLACING '' FROM at FOR 74);
    IF encode(sha256(convert_to(NEW.prev || E'\\n' || body, 'UTF8')), 'hex') <> NEW.hash THEN
        RAISE EXCEPTION 'cockpit journal: entry % hash does not match its contents', NEW.seq {conflict};
    END IF;
    RETURN NEW;
END
$cockpit$""",
        f"""CREATE FUNCTION {append_only}() RETURNS trigger LANGUAGE plpgsql AS $cockpit$
BEGIN
    RAISE EXCEPTION 'cockpit journal: % refused: the journal is append-only', TG_OP
        USING ERRCODE = '{APPEND_ONLY_SQLSTATE}';
END
$cockpit$""",
        f"""CREATE FUNCTION {notify}() RETURNS trigger LANGUAGE plpgsql AS $cockpit$
BEGIN
    PERFORM pg_notify('{listen}', NEW.seq::text);
    RETURN NULL;
END
$cockpit$""",
        f"""CREATE FUNCTION {batch_end}() RETURNS trigger LANGUAGE plpgsql AS $cockpit$
DECLARE
    batch jsonb;
BEGIN
    IF strpos(NEW.line, '"batch":[') = 0 THEN
        RETURN NULL;  -- no batch in the line: nothing to wait for
    END IF;
    batch := replace(NEW.line, '\\u0000', '\\u0001')::jsonb->'batch';
    IF batch IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {t} j WHERE j.cutover = NEW.cutover
            AND j.seq = NEW.seq + (batch->>1)::bigint - (batch->>0)::bigint) THEN
        RAISE EXCEPTION 'cockpit journal: the batch of entry % is unfinished at commit', NEW.seq
            {refuse};
    END IF;
    RETURN NULL;
END
$cockpit$""",
        f"CREATE TRIGGER {bare}_chain BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {chain}()",
        f"CREATE TRIGGER {bare}_no_change BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
        f"EXECUTE FUNCTION {append_only}()",
        f"CREATE TRIGGER {bare}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {append_only}()",
        f"CREATE TRIGGER {bare}_notify AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {notify}()",
        f"CREATE CONSTRAINT TRIGGER {bare}_batch_end AFTER INSERT ON {t} DEFERRABLE INITIALLY "
        f"DEFERRED FOR EACH ROW EXECUTE FUNCTION {batch_end}()",
        # Which notification keys some cockpit delivered (cockpit.notify.lease): a cockpit
        # that takes over delivering never posts again what another one did.
        f"""CREATE TABLE {qualified(notified_name(name))} (
    key text PRIMARY KEY,
    target text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
)""",
    ]


INSERT_SQL = "INSERT INTO {table} (cutover, seq, prev, hash, line) VALUES (%s, %s, %s, %s, %s)"
AFTER_SQL = "SELECT seq, line FROM {table} WHERE cutover = %s AND seq > %s ORDER BY seq"
HASH_AT_SQL = "SELECT hash FROM {table} WHERE cutover = %s AND seq = %s"
HEAD_SQL = "SELECT seq, hash FROM {table} WHERE cutover = %s ORDER BY seq DESC LIMIT 1"


def sql(template: str, name: str) -> str:
    return template.format(table=qualified(name))


# -- reading ---------------------------------------------------------------------------------

READ_SQL = "SELECT line FROM {table} WHERE cutover = %s AND seq > %s ORDER BY seq"


def read_lines(conn: Any, name: str, cutover: str, after: int = 0) -> list[bytes]:
    """Every line of ``cutover`` after seq ``after``, in seq order, as the UTF-8 bytes a file
    journal holds (without the newline). The one way the table is read: what a reader does with
    them is :func:`as_journal`, then the one reader rule (``cockpit.journal.lines.parse``)."""
    with conn.cursor() as cur:
        cur.execute(sql(READ_SQL, name), (cutover, after))
        return [str(row[0]).encode("utf-8") for row in cur.fetchall()]


def as_journal(rows: list[bytes]) -> bytes:
    """The lines as the bytes of a file journal: each line followed by its newline."""
    return b"".join(row + b"\n" for row in rows)


# -- checking an existing table --------------------------------------------------------------

# (column, type as format_type says it, NOT NULL) in order: what ``create_sql`` makes.
COLUMNS = (
    ("cutover", "text", True),
    ("seq", "bigint", True),
    ("prev", "text", True),
    ("hash", "text", True),
    ("line", "text", True),
    ("inserted_at", "timestamp with time zone", True),
)
PRIMARY_KEY = ("cutover", "seq")
# The CHECK constraints as pg_get_constraintdef prints what ``create_sql`` makes.
CHECKS = frozenset({
    "CHECK ((seq >= 1))",
    "CHECK ((prev ~ '^[0-9a-f]{64}$'::text))",
    "CHECK ((hash ~ '^[0-9a-f]{64}$'::text))",
})
# pg_trigger.tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32.
_TRIGGERS = (("chain", 1 | 2 | 4, "chain", False),
             ("no_change", 1 | 2 | 8 | 16, "append_only", False),
             ("no_truncate", 2 | 32, "append_only", False),
             ("notify", 1 | 4, "notify", False),
             ("batch_end", 1 | 4, "batch_end", True))
# (function, argument types as to_regprocedure reads them, returns, its settings)
_FUNCTIONS = (("chain", "", "trigger", None),
              ("append_only", "", "trigger", None),
              ("notify", "", "trigger", None),
              ("canonical", "json, integer", "text", None),
              ("batch_end", "", "trigger", None))


@dataclass(frozen=True)
class Trigger:
    name: str
    tgtype: int
    function: str  # the trigger function's name as function_name() writes it
    deferred: bool  # a constraint trigger, DEFERRABLE INITIALLY DEFERRED


def triggers(name: str) -> list[Trigger]:
    """The triggers ``create_sql`` makes on the table."""
    bare = split_name(name)[1]
    return [Trigger(f"{bare}_{suffix}", tgtype, function_name(name, fn), deferred)
            for suffix, tgtype, fn, deferred in _TRIGGERS]


def function_bodies(name: str) -> dict[str, str]:
    """Function name -> its body (``prosrc``) as ``create_sql`` creates it."""
    bodies = {}
    for stmt in create_sql(name):
        if stmt.startswith("CREATE FUNCTION "):
            fn = stmt[len("CREATE FUNCTION "):stmt.index("(")]
            bodies[fn] = stmt.split("$cockpit$")[1]
    return bodies


def exists(conn: Any, name: str) -> bool:
    """Whether a relation of that name exists (resolved as the cockpit's statements resolve it)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified(name),))
        row = cur.fetchone()
        return bool(row and row[0])


def differences(conn: Any, name: str) -> list[str]:
    """What differs between the existing table ``name`` and what ``create_sql(name)`` would
    create, each in a few words; [] when it is the same. Reads the catalogs only."""
    t = qualified(name)
    problems: list[str] = []
    with conn.cursor() as cur:
        cur.execute("SELECT c.oid, c.relkind, c.relrowsecurity FROM pg_class c "
                    "WHERE c.oid = to_regclass(%s)", (t,))
        row = cur.fetchone()
        if row is None:
            return [f"table {name} does not exist"]
        oid, relkind, rls = row
        if relkind != "r":
            return [f"{name} is not a plain table (relkind {relkind!r})"]
        if rls:
            problems.append("row level security is enabled (readers could be shown a part)")
        cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
                    "FROM pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 "
                    "AND NOT a.attisdropped ORDER BY a.attnum", (oid,))
        columns = tuple((str(n), str(ty), bool(nn)) for n, ty, nn in cur.fetchall())
        if columns != COLUMNS:
            want = {c[0]: c for c in COLUMNS}
            have = {c[0]: c for c in columns}
            for col in COLUMNS:
                if col[0] not in have:
                    problems.append(f"column {col[0]} is missing")
                elif have[col[0]] != col:
                    problems.append(f"column {col[0]} is {have[col[0]][1]}"
                                    f"{' NOT NULL' if have[col[0]][2] else ' nullable'}, "
                                    f"not {col[1]} NOT NULL")
            problems += [f"unexpected column {c}" for c in have if c not in want]
            if not problems:
                problems.append("the columns are in another order")
        cur.execute("SELECT array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY "
                    "AS u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n "
                    "ORDER BY u.i), k.condeferrable FROM pg_constraint k "
                    "WHERE k.conrelid = %s AND k.contype = 'p'", (oid,))
        pk = cur.fetchone()
        if pk is None:
            problems.append("the primary key (cutover, seq) is missing")
        elif tuple(pk[0]) != PRIMARY_KEY or pk[1]:
            problems.append(f"the primary key is ({', '.join(pk[0])})"
                            f"{' deferrable' if pk[1] else ''}, not (cutover, seq)")
        cur.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s AND contype = 'c'", (oid,))
        checks = {str(r[0]) for r in cur.fetchall()}
        problems += [f"check constraint {c} is missing" for c in sorted(CHECKS - checks)]
        problems += [f"unexpected check constraint {c}" for c in sorted(checks - CHECKS)]
        cur.execute("SELECT count(*) FROM pg_rewrite WHERE ev_class = %s", (oid,))
        rules = cur.fetchone()
        if rules and rules[0]:
            problems.append(f"{rules[0]} rule(s) on the table")
        problems += _trigger_differences(cur, oid, name)
        problems += _notified_differences(cur, name)
    return problems


NOTIFIED_COLUMNS = (("key", "text", True), ("target", "text", True),
                    ("at", "timestamp with time zone", True))


def _notified_differences(cur: Any, name: str) -> list[str]:
    acks = notified_name(name)
    cur.execute("SELECT to_regclass(%s)", (qualified(acks),))
    row = cur.fetchone()
    if row is None or row[0] is None:
        return [f"table {acks} (delivered notifications) does not exist"]
    cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
                "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum", (qualified(acks),))
    columns = tuple((str(n), str(ty), bool(nn)) for n, ty, nn in cur.fetchall())
    if columns != NOTIFIED_COLUMNS:
        return [f"table {acks} has other columns than journal init creates"]
    return []


def _trigger_differences(cur: Any, oid: int, name: str) -> list[str]:
    problems: list[str] = []
    funcs: dict[str, int | None] = {}
    bodies = function_bodies(name)
    for what, args, returns, config in _FUNCTIONS:
        fn = function_name(name, what)
        cur.execute("SELECT p.oid, p.prosrc, l.lanname, format_type(p.prorettype, NULL), "
                    "p.proconfig, p.prosecdef FROM pg_proc p "
                    "JOIN pg_language l ON l.oid = p.prolang "
                    "WHERE p.oid = to_regprocedure(%s)", (f"{fn}({args})",))
        row = cur.fetchone()
        funcs[fn] = row[0] if row else None
        if row is None:
            problems.append(f"function {fn}({args}) is missing")
        elif row[1] != bodies[fn] or row[2] != "plpgsql" or row[3] != returns:
            problems.append(f"function {fn}() has another body than journal init creates")
        elif row[4] != config or row[5]:
            problems.append(f"function {fn}() has other settings or SECURITY DEFINER")
    cur.execute("SELECT t.tgname, t.tgtype, t.tgenabled, t.tgfoid, t.tgqual IS NULL, "
                "t.tgattr = ''::int2vector, t.tgconstraint <> 0, t.tgdeferrable, t.tginitdeferred "
                "FROM pg_trigger t WHERE t.tgrelid = %s AND NOT t.tgisinternal", (oid,))
    have = {str(r[0]): r for r in cur.fetchall()}
    for want in triggers(name):
        row = have.pop(want.name, None)
        if row is None:
            problems.append(f"trigger {want.name} is missing")
            continue
        _, tgtype, enabled, foid, no_when, no_columns, constraint, deferrable, deferred = row
        if enabled not in ("O", "A"):
            problems.append(f"trigger {want.name} is disabled")
        if (tgtype != want.tgtype or not no_when or not no_columns
                or (constraint, deferrable, deferred) != (want.deferred,) * 3):
            problems.append(f"trigger {want.name} fires on other events than journal init creates")
        if funcs.get(want.function) is None or foid != funcs[want.function]:
            problems.append(f"trigger {want.name} runs another function than {want.function}()")
    problems += [f"unexpected trigger {extra}" for extra in sorted(have)]
    return problems


def grant_sql(name: str, role: str = "<cockpit_role>") -> list[str]:
    """What the cockpits' own role should be given: reading and appending, nothing more (the
    table's owner can drop or disable its triggers, so the cockpits must not connect as it)."""
    schema, _ = split_name(name)
    out = [f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'] if schema else []
    return out + [f"GRANT SELECT, INSERT ON {qualified(name)} TO {role}",
                  f"GRANT SELECT, INSERT ON {qualified(notified_name(name))} TO {role}"]
