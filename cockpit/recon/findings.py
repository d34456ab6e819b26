"""A finding: one difference, named by table, key and column names only, never by values.

Findings leave the databases, reach the screen, the journal and the evidence pack; patient
values must not come with them (PHI). Keys that identify a person (an MRN) are shown as a keyed
hash under the cutover's key secret (``keysecret``, which says who can reverse one).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

LAYERS = ("storage", "schema", "counts", "content", "domain")
SEVERITIES = ("critical", "major", "minor")
CATEGORIES = ("manual_review", "auto_correct_safe", "needs_clinical_approval", "defer")


@dataclass(frozen=True)
class Finding:
    layer: str  # one of LAYERS
    table: str  # recon table name, domain check table, or manifest file name
    kind: str  # missing, extra, changed, count_mismatch, column_missing, type_mismatch, ...
    keys: tuple[str, ...] = ()  # key values as text, or "h:<hash>" for identifying keys
    columns: tuple[str, ...] = ()  # column names that differ / are involved
    severity: str = "major"
    category: str = "manual_review"
    check: str | None = None  # domain check id
    detail: str = ""  # PHI-free words, e.g. "source 120 rows, target 119"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def id(self) -> str:
        """Stable across runs, so a re-run recognises the same difference. Built from the keys
        as shown (hashed ones hashed), so an id reveals no more than the finding itself."""
        basis = "\x1f".join([self.layer, self.table, self.kind, self.check or "", *self.keys])
        return "rx-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:12]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "layer": self.layer,
            "table": self.table,
            "kind": self.kind,
            "keys": list(self.keys),
            "columns": list(self.columns),
            "severity": self.severity,
            "category": self.category,
            "check": self.check,
            "detail": self.detail,
        }


def hash_key(value: str, secret: bytes | str) -> str:
    """An identifying key as ``h:`` + 64 bits of HMAC-SHA256 under the key secret: the same for
    every run that has the secret, not reversible without it (not even by guessing every MRN)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    return f"h:{digest}"
