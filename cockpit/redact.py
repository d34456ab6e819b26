"""Secrets out of every string the cockpit shows or writes: one :class:`Redactor`, one rule.

The secrets are the values that came from ``${VAR}`` in the plan (passwords, tokens, whole
DSNs). Error messages rarely quote a secret whole: libpq quotes *parts* of a connection
string (``missing "=" after "horse"`` for a passphrase with spaces, ``could not translate
host name "FRAG@host"`` for an unencoded ``@`` in a URL password), URLs carry it
percent-encoded, JSON escapes its quotes. So the rule is:

- For each secret, its *forms*: the value itself, its percent-encoded forms (``quote`` with
  nothing safe, with ``/`` safe, ``quote_plus``; upper- and lower-case hex) and its
  URL-decoded forms (``unquote``, ``unquote_plus``).
- Its *fragments*: every form split on whitespace, on the URL/DSN delimiters
  ``@ : / ? # & = ; , ' " \\`` and on percent-escapes (``%40``).
- Every form and every fragment of at least :data:`MIN_LENGTH` (4) characters is replaced by
  ``***`` wherever it appears, longest first, until none is left (if masking itself recreates
  one, after a few passes the whole text is replaced by ``***``: fail closed).
- A *fragment* that is a connection keyword or a URL scheme (``host``, ``password``,
  ``sslmode``, ``postgresql``, ``Bearer``..., see :data:`KEYWORDS`) is not a needle on its own,
  so a whole DSN held in one variable does not blank the word "password" out of every error;
  the whole value and its other fragments still are.

Limits: a secret or fragment shorter than 4 characters is not redacted (it would blank out
ordinary words), nor one made only of delimiters (spaces, ``::::``); a secret transformed in other ways (base64, hashed, truncated, case-folded,
JSON ``\\u`` escapes of non-ASCII characters, split across lines) is not recognised.

The *shapes* of a secret are the second rule, the last barrier before disk: a secret that
reached a string some other way (pasted into a note, quoted in a database error) and so is not
among the known values. :func:`find_secret` says which shape a value holds (the journal refuses
operator text and entries that hold one); :func:`redact` masks them, and the known values, in
system-made data (gate snapshots, readings), which is recorded whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"
MIN_LENGTH = 4
_PASSES = 8
DELIMITERS = re.compile(r"(?:%[0-9A-Fa-f]{2}|[\s@:/?#&=;,'\"\\])+")
_HEX = re.compile(r"%[0-9A-F]{2}")

KEYWORDS = frozenset({
    # libpq connection parameters and sslmode values
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding",
    "connect_timeout", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
    "requiressl", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslcertmode",
    "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service",
    "target_session_attrs", "load_balance_hosts", "disable", "allow", "prefer", "require",
    "verify-ca", "verify-full",
    # URL schemes and authorization schemes
    "postgres", "postgresql", "http", "https", "bearer", "basic", "token", "localhost",
})


def forms(secret: str) -> set[str]:
    """The secret as it may appear: raw, percent-encoded, URL-decoded."""
    out = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
           unquote(secret), unquote_plus(secret)}
    out |= {_HEX.sub(lambda m: m.group(0).lower(), f) for f in list(out)}
    return out


def needles(secret: str) -> set[str]:
    """Every string :class:`Redactor` removes for ``secret`` (see the module docstring)."""
    found: set[str] = set()
    for form in forms(secret):
        if len(form) >= MIN_LENGTH and not DELIMITERS.fullmatch(form):
            found.add(form)
        for piece in DELIMITERS.split(form):
            if len(piece) >= MIN_LENGTH and piece.lower() not in KEYWORDS:
                found.add(piece)
    return found


def _alternation(words: set[str]) -> str:
    """One regex matching the longest of ``words`` at each position.

    Factored as a prefix tree (``ab(?:c|d)`` rather than ``abc|abd``): the regex engine tries the
    branches at every position of the text, so sharing prefixes makes it about twice as fast. Branch points nest at most ``_NEST`` deep;
    beyond that a flat, longest-first alternation is used.
    """
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict, depth: int) -> str:
        if depth > _NEST:
            raise RecursionError
        end = "" in node
        branches = []
        for ch, child in sorted((k, v) for k, v in node.items() if k):
            run = ch
            while len(child) == 1 and "" not in child:  # a chain: no branch to nest
                (nxt, child), = child.items()
                run += nxt
            branches.append(re.escape(run) + build(child, depth + 1))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not end else "(?:" + "|".join(branches) + ")"
        return f"{body}?" if end else body  # a longer match first, the shorter one after

    try:
        return build(tree, 0)
    except RecursionError:
        return "|".join(map(re.escape, sorted(words, key=lambda n: (-len(n), n))))


_NEST = 60


class Redactor:
    """``redactor(text)``: ``text`` with every form and fragment of every secret masked."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = frozenset(secrets)
        found: set[str] = set()
        for secret in self.secrets:
            if isinstance(secret, str) and secret:
                found |= needles(secret)
        self._needles = tuple(found)
        self._pattern = re.compile(_alternation(found)) if found else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        # The common case holds no secret: substring tests are C loops, far cheaper than
        # running the regex over the text.
        if not any(needle in text for needle in self._needles):
            return text
        for _ in range(_PASSES):
            masked = self._pattern.sub(MASK, text)
            if masked == text:
                return text
            text = masked
        return text if self._pattern.search(text) is None else MASK


NOTHING = Redactor()


# A password in a DSN or URL, a bearer/basic token, an API key header; an already masked one
# (``***``) is not a secret.
_SHAPES = (
    # Quoted, a password may hold spaces (libpq's ``password='a b c'``): the whole quote goes.
    (re.compile(r"\b(?:password|passwd|pwd)\s*[=:]\s*(?!\*\*\*)"
                r"(?:'[^'\s*][^']*'|\"[^\"\s*][^\"]*\"|['\"]?[^\s'\"*][^\s'\"]*)", re.I), "a password"),
    # The look-behind starts a scheme only where a run of scheme characters starts: without it
    # a long word (a pasted token, a huge note) is rescanned from every position, O(n^2).
    (re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:(?!\*\*\*@)[^@\s/]+@"),
     "a password in a URL"),
    (re.compile(r"\bBearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}", re.I), "a bearer token"),
    (re.compile(r"\bBasic\s+(?!\*\*\*)[A-Za-z0-9+/=]{8,}"), "a basic-auth credential"),
    (re.compile(r"\b(?:api[_-]?key|secret|token)\s*[=:]\s*(?!\*\*\*)[A-Za-z0-9._~+/=-]{12,}", re.I),
     "an API key or token"),
)


def find_secret(value: Any) -> str | None:
    """What shape of secret ``value`` (a string, or nested lists/dicts) seems to hold, or None."""
    if isinstance(value, str):
        for pattern, what in _SHAPES:
            if pattern.search(value):
                return what
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = find_secret(k) or find_secret(v)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for v in value:
            found = find_secret(v)
            if found:
                return found
    return None


def redact(value: Any, known: Callable[[str], str] | None = None) -> Any:
    """``value`` (a string, or nested lists/dicts; tuples become lists) with the known secrets
    masked by ``known`` (``plan.redact``) in every string value, then every secret shape masked
    in values and keys alike. Keys are spared ``known``: they are the plan's own ids, and a
    fragment of a DSN there (a user name) must not merge two entries into one ``***``."""
    return _shapes_masked(value if known is None else _known_masked(value, known))


def _known_masked(value: Any, known: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return known(value)
    if isinstance(value, dict):
        return {k: _known_masked(v, known) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_known_masked(v, known) for v in value]
    return value


def _shapes_masked(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, _ in _SHAPES:
            value = pattern.sub(MASK, value)
        return value
    if isinstance(value, dict):
        return {_shapes_masked(k): _shapes_masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shapes_masked(v) for v in value]
    return value
