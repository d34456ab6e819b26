"""The JSON Schema of ``evidence.json``, derived from the facts' dataclasses (pydantic), so the
published ``docs/evidence.schema.json`` cannot drift from what the pack writes: a test compares
the two."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from cockpit.report.facts import SCHEMA_VERSION, Facts

SCHEMA_ID = "https://cutover-cockpit.invalid/evidence.schema.json"


def json_schema() -> dict[str, Any]:
    schema = TypeAdapter(Facts).json_schema(mode="serialization")
    schema["properties"]["schema_version"] = {"const": SCHEMA_VERSION, "title": "Schema Version",
                                              "type": "integer"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "description": "evidence.json of a cutover cockpit evidence pack (cockpit report)",
            **schema}


def text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m cockpit.report.schema > docs/evidence.schema.json
    print(text(), end="")
