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
- BEFORE UPDATE / DELETE (per row) and BEFORE TRUNCATE (per statement) triggers refuse;
- an AFTER INSERT trigger sends ``NOTIFY <table>, '<seq>'`` (delivered at commit), so every
  cockpit reads the new rows at once; the notification carries only the seq.

The table's owner can still drop the triggers: the cockpit's own role should have only SELECT
and INSERT on the table (``journal init`` prints the GRANT), and every cockpit's local copy
witnesses the head it has seen.
"""

from __future__ import annotations

import re

# The SQLSTATE the chain trigger raises; a client tells "someone else appended first" by it
# (with 23505, unique_violation, for a race on the very same seq).
CHAIN_SQLSTATE = "CJ001"
APPEND_ONLY_SQLSTATE = "CJ002"

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


def create_sql(name: str) -> list[str]:
    """The statements ``cockpit journal init`` runs, in order (printed before they run)."""
    t = qualified(name)
    chain, append_only, notify = (function_name(name, w) for w in ("chain", "append_only", "notify"))
    bare = split_name(name)[1]
    listen = channel(name).replace("'", "''")
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
        f"""CREATE FUNCTION {chain}() RETURNS trigger LANGUAGE plpgsql AS $cockpit$
DECLARE
    before_hash text;
    doc json;
    at int;
    body text;
BEGIN
    IF NEW.seq = 1 THEN
        IF NEW.prev <> repeat('0', 64) THEN
            RAISE EXCEPTION 'cockpit journal: entry 1 must chain onto 64 zeros'
                USING ERRCODE = '{CHAIN_SQLSTATE}';
        END IF;
    ELSE
        SELECT j.hash INTO before_hash FROM {t} j WHERE j.cutover = NEW.cutover AND j.seq = NEW.seq - 1;
        IF before_hash IS NULL OR before_hash <> NEW.prev THEN
            RAISE EXCEPTION 'cockpit journal: entry % does not chain onto the head', NEW.seq
                USING ERRCODE = '{CHAIN_SQLSTATE}';
        END IF;
    END IF;
    -- json keeps the text; reading members de-escapes every string on the way, and text
    -- cannot hold U+0000, which only notes and data may carry: it is not read here.
    doc := replace(NEW.line, '\\u0000', '\\u0001')::json;
    IF json_typeof(doc) <> 'object' OR (doc->>'seq') IS DISTINCT FROM NEW.seq::text
            OR (doc->>'prev') IS DISTINCT FROM NEW.prev OR (doc->>'hash') IS DISTINCT FROM NEW.hash
            OR (doc->>'cutover') IS DISTINCT FROM NEW.cutover THEN
        RAISE EXCEPTION 'cockpit journal: entry % does not match its columns', NEW.seq
            USING ERRCODE = '{CHAIN_SQLSTATE}';
    END IF;
    -- The byte rule: sha256(prev || "\\n" || the canonical line without its "hash" member).
    -- Keys are sorted and "hash" is never first, so that member is ,"hash":"<hex>" once.
    at := strpos(NEW.line, ',"hash":"' || NEW.hash || '"');
    IF at = 0 THEN
        RAISE EXCEPTION 'cockpit journal: entry % has no hash member', NEW.seq
            USING ERRCODE = '{CHAIN_SQLSTATE}';
    END IF;
    body := overlay(NEW.line PLACING '' FROM at FOR 74);
    IF encode(sha256(convert_to(NEW.prev || E'\\n' || body, 'UTF8')), 'hex') <> NEW.hash THEN
        RAISE EXCEPTION 'cockpit journal: entry % hash does not match its contents', NEW.seq
            USING ERRCODE = '{CHAIN_SQLSTATE}';
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
        f"CREATE TRIGGER {bare}_chain BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {chain}()",
        f"CREATE TRIGGER {bare}_no_change BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
        f"EXECUTE FUNCTION {append_only}()",
        f"CREATE TRIGGER {bare}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {append_only}()",
        f"CREATE TRIGGER {bare}_notify AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {notify}()",
    ]


INSERT_SQL = "INSERT INTO {table} (cutover, seq, prev, hash, line) VALUES (%s, %s, %s, %s, %s)"
AFTER_SQL = "SELECT seq, line FROM {table} WHERE cutover = %s AND seq > %s ORDER BY seq"
HASH_AT_SQL = "SELECT hash FROM {table} WHERE cutover = %s AND seq = %s"
HEAD_SQL = "SELECT seq, hash FROM {table} WHERE cutover = %s ORDER BY seq DESC LIMIT 1"


def sql(template: str, name: str) -> str:
    return template.format(table=qualified(name))
