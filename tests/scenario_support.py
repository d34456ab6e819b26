"""Shared by the scenario and rehearse tests: the sample plan copied into a folder of the
test's own (its journal lands there), and scenario files written beside it."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PLAN = REPO / "sample_configs" / "ehr-cutover.yaml"
SCENARIOS = REPO / "sample_configs" / "scenarios"
ALL_SOURCES = "[legacy_db, cloud_db, prometheus, helpdesk, clinical_portal]"


def plan_copy(folder: Path) -> Path:
    dest = folder / "ehr-cutover.yaml"
    shutil.copy(SAMPLE_PLAN, dest)
    return dest


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path
