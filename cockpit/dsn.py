"""PostgreSQL connection strings, parsed by us so that libpq never gets to describe one.

libpq's own messages about a connection string quote pieces of it: a passphrase with spaces
gives ``missing "=" after "horse"``, an unencoded ``@`` in a URL password makes the rest of the
password the host name (``could not translate host name "FRAG@host"``). Those messages reach
stdout, ``--json`` and the journal. So a DSN is parsed here, once, with psycopg's conninfo
helpers, and refused in our own words (never quoting it) when it is malformed or ambiguous;
the connection is then made from the parsed parameters.
"""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SECRET_KEYS = ("password", "sslpassword")
_URL = re.compile(r"^postgres(?:ql)?://(?P<authority>[^/?#]*)", re.IGNORECASE)


class DsnError(ValueError):
    """The DSN cannot be used; the message is one line and never quotes the DSN."""


def parse(dsn: str) -> dict[str, str]:
    """The connection parameters of ``dsn`` (keyword/value or URL form)."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise DsnError("empty dsn")
    url = _URL.match(dsn.strip())
    if url and url.group("authority").count("@") > 1:
        raise DsnError("the dsn URL has more than one '@': percent-encode an '@' in the user "
                       "or password as %40")
    try:
        params = conninfo_to_dict(dsn)
    except (psycopg.Error, ValueError, TypeError):
        raise DsnError("invalid dsn: check its key=value syntax and quoting (libpq's message is "
                       "not shown: it may quote the password)") from None
    for key in ("host", "hostaddr", "port", "user", "dbname"):
        value = str(params.get(key) or "")
        if any(c in value for c in "@ \t\r\n"):
            raise DsnError(f"the dsn's {key} holds '@' or whitespace: a password with an "
                           "unencoded '@' or a missing quote?")
    return {k: str(v) for k, v in params.items() if v is not None}


def secrets(params: dict[str, str]) -> tuple[str, ...]:
    """The secret values among ``params`` (for redaction)."""
    return tuple(params[k] for k in SECRET_KEYS if params.get(k))


def conninfo(params: dict[str, str], **extra: str | int | None) -> str:
    """A keyword/value connection string built from parsed parameters plus ``extra``."""
    return make_conninfo("", **{**params, **{k: v for k, v in extra.items() if v is not None}})
