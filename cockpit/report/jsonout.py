"""``evidence.json``: the facts as they are, with ``schema_version`` (``docs/evidence.schema.json``
describes them; a change of shape is a new version)."""

from __future__ import annotations

import json

from cockpit.report.facts import Facts


def render(facts: Facts) -> str:
    return json.dumps(facts.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
