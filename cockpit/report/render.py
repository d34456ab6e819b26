"""The pack's files from the journal: facts once, then each layout of them.

Files: ``index.html``, ``evidence.md``, ``evidence.json``, ``journal.jsonl`` (the journal's
bytes exactly as read), ``journal-verification.json`` (``cockpit journal verify --json``'s
result) and ``MANIFEST.sha256`` over all of them (``cockpit.report.pack``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cockpit.config.plan import Plan
from cockpit.journal.verify import VerifyResult
from cockpit.report import html, jsonout, markdown
from cockpit.report import pack as packfile
from cockpit.report.facts import Facts, HistoryLike, build_facts, verification
from cockpit.report.source import Read

JOURNAL = "journal.jsonl"
VERIFICATION = "journal-verification.json"
FILES = ("index.html", "evidence.md", "evidence.json", JOURNAL, VERIFICATION)


def facts_of(read: Read, result: VerifyResult, *, plan: Plan | None = None,
             history: HistoryLike | None = None, baseline: Mapping[str, float] | None = None,
             journal_label: str = "", expect_head: str | None = None, generated: float = 0.0,
             warnings: Iterable[str] = ()) -> Facts:
    v = verification(result, read.verified, len(read.entries), read.unreadable, expect_head)
    return build_facts(read.entries, v, plan=plan, history=history, baseline=baseline,
                       journal_label=journal_label, generated=generated, warnings=warnings)


def pack(read: Read, result: VerifyResult, journal_bytes: bytes, **kwargs: Any
         ) -> tuple[dict[str, bytes], Facts]:
    plan = kwargs.get("plan")
    facts = facts_of(read, result, **kwargs)
    redact = plan.redact if plan is not None else (lambda s: s)
    files = {
        "index.html": redact(html.render(facts)).encode("utf-8"),
        "evidence.md": redact(markdown.render(facts)).encode("utf-8"),
        "evidence.json": redact(jsonout.render(facts)).encode("utf-8"),
        JOURNAL: journal_bytes,
        VERIFICATION: (json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n").encode("utf-8"),
    }
    return files, facts


def write(folder: Path, files: dict[str, bytes]) -> None:
    packfile.write(folder, files)
