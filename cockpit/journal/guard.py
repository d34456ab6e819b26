"""The last barrier before disk: no secrets in the journal.

Secrets from the plan's ``${VAR}`` values are removed upstream with ``plan.redact``; this
catches the shapes a secret takes when it arrives some other way (pasted into a note, quoted
in a database error): a password in a DSN or URL, a bearer/basic token, an API key header.
"""

from __future__ import annotations

import re
from typing import Any

_PATTERNS = (
    (re.compile(r"\b(?:password|passwd|pwd)\s*[=:]\s*(?!\*\*\*)['\"]?[^\s'\"*][^\s'\"]*", re.I), "a password"),
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
    """What kind of secret ``value`` (a string, or nested lists/dicts) seems to hold, or None."""
    if isinstance(value, str):
        for pattern, what in _PATTERNS:
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


def scrub(value: Any) -> Any:
    """``value`` with every secret-looking span replaced by ``***`` (for system-made data)."""
    if isinstance(value, str):
        for pattern, _ in _PATTERNS:
            value = pattern.sub("***", value)
        return value
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value
