"""``evidence.json``: the facts as they are, with ``schema_version`` (``docs/evidence.schema.json``
describes them; a change of shape is a new version)."""

from __future__ import annotations

from cockpit.report.facts import Facts


def render(facts: Facts) -> str:
    return facts.to_bytes().decode("utf-8") + "\n"
