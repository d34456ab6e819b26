"""``cockpit report`` on a scripted night (tests/report_support.py: a real reconciliation on
PostgreSQL, then operators through ``Operations``): the three files agree with each other and
with the journal, the manifest verifies with ``sha256sum -c``, evidence.json follows the
published schema, no fake patient name, key secret, DSN, password or token is anywhere in the
pack, and hostile notes and titles are text."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from markdown_it import MarkdownIt

from cockpit.cli import main
from cockpit.recon.keysecret import secret_path
from cockpit.report import escape, schema
from tests.report_support import (
    HOSTILE,
    HOSTILE_TITLE,
    PACK_FILES,
    SECRET_PASSWORD,
    SECRET_TOKEN,
    markup,
    scripted_night,
)
from tests.test_recon_domain import FAKE_NAMES
from tests.test_recon_runner import dbs  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def night(dbs, tmp_path, monkeypatch):  # noqa: F811
    cl, (src, dst) = dbs
    plan = scripted_night(tmp_path, cl, src, dst, monkeypatch)
    out = tmp_path / "pack"
    assert main(["report", str(plan), "--out", str(out)]) == 0
    return plan, tmp_path / "journal.jsonl", out


def _journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_the_three_files_agree_with_each_other_and_with_the_journal(night):
    plan, journal_path, out = night
    assert {p.name for p in out.iterdir()} == PACK_FILES
    entries = _journal(journal_path)
    assert (out / "journal.jsonl").read_bytes() == journal_path.read_bytes()
    ev = json.loads((out / "evidence.json").read_text())
    page = (out / "index.html").read_text()
    md = (out / "evidence.md").read_text()
    s, v = ev["summary"], ev["summary"]["verification"]
    head = entries[-1]["hash"]
    assert v["ok"] and v["head_seq"] == len(entries) and v["head_hash"] == head
    assert head in page and head in md
    assert s["outcome"] == "rolled back" and "Rolled back" in page and "Rolled back" in md
    assert s["operators"] == sorted({e["actor"]["operator"] for e in entries} - {"system"})
    assert [t["seq"] for t in ev["timeline"]] == [e["seq"] for e in entries]
    assert f"{len(entries)} entries" in page and f"{len(entries)} entries" in md
    # Steps: the status each ends in is the journal's.
    steps = {st["id"]: st for st in ev["steps"]}
    assert steps["B1"]["status"] == "done" and steps["B1"]["by"] == "bob.obrien"
    assert steps["D1"]["status"] == "done" and steps["D1"]["critical"]
    assert steps["R1"]["status"] == "active"
    # Highlights: every override, approval, rollback in the journal, with who and reason.
    kinds = {e["seq"]: e["action"] for e in entries}
    hl = {x["seq"]: x for x in ev["highlights"]}
    wanted = [e["seq"] for e in entries if e["action"] in ("gate.override", "rollback.start",
                                                          "approval.request")
              or (e["action"] == "step.confirm" and "approval" in (e["data"] or {}))]
    assert sorted(hl) == wanted and len(wanted) == 4
    approval = next(x for x in hl.values() if x["kind"] == "two-person approval")
    assert approval["who"] == "bob.obrien" and approval["requested_by"] == "ann"
    override = next(x for x in hl.values() if x["kind"] == "override")
    assert override["reason_code"] == "KNOWN_ISSUE" and override["gates"][0]["state"] == "NO-GO"
    rollback = next(x for x in hl.values() if x["kind"] == "rollback")
    assert rollback["reason_code"] == "DATA_MISMATCH" and kinds[rollback["seq"]] == "rollback.start"
    for x in hl.values():
        assert f"| {x['seq']} |" in md and f"<td>{x['seq']}</td>" in page
    # Reconciliation: one row per unit of the recon.run entry, the exceptions, the triage.
    run = next(e for e in entries if e["action"] == "recon.run")
    assert {u["unit"] for u in ev["recon"]} == set(run["data"]["units"])
    opened = [e["subject"] for e in entries if e["action"] == "exception.open"]
    assert [x["id"] for x in ev["exceptions"]] == opened
    triaged = [x for x in ev["exceptions"] if x["triage"]]
    assert len(triaged) == 1 and triaged[0]["triage"][0]["who"] == "bob.obrien"
    assert triaged[0]["category"] == "defer"
    for x in ev["exceptions"]:  # (Markdown escapes every punctuation character: rx\-...)
        assert x["id"] in page and escape.md(x["id"]) in md
    # Gate bands from the journal's gate.change (no history beside this journal), said so.
    assert ev["charts"]["gate_source"] == "journal" and "gate.change entries" in page


def test_the_manifest_verifies_with_sha256sum(night):
    _, _, out = night
    proc = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = {line.split("  ", 1)[1] for line in (out / "MANIFEST.sha256").read_text().splitlines()}
    assert listed == PACK_FILES - {"MANIFEST.sha256"}
    (out / "evidence.md").write_text("# edited\n")
    proc = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "evidence.md: FAILED" in proc.stdout


def test_the_auditor_script_in_the_readme_verifies_the_copied_journal(night, tmp_path):
    _, journal_path, out = night
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(import hashlib, json, sys\n.*?)```", readme, re.S)
    assert block, "the README's auditor script"
    script = tmp_path / "audit.py"
    script.write_text(block.group(1))
    proc = subprocess.run(["python3", str(script), str(out / "journal.jsonl")],
                          capture_output=True, text=True, timeout=60)
    head = _journal(journal_path)[-1]["hash"]
    assert proc.returncode == 0 and head in proc.stdout, proc.stderr


def test_evidence_json_follows_the_published_schema(night):
    _, _, out = night
    published = json.loads((ROOT / "docs" / "evidence.schema.json").read_text())
    assert published == schema.json_schema(), "regenerate: python -m cockpit.report.schema"
    ev = json.loads((out / "evidence.json").read_text())
    assert ev["schema_version"] == 1
    jsonschema.validate(ev, published)
    ev["schema_version"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(ev, published)


def test_no_patient_name_key_secret_dsn_password_or_token_in_the_pack(night, tmp_path):
    plan, journal_path, out = night
    key = secret_path(journal_path, "mini-1").read_bytes()
    forbidden = [*FAKE_NAMES, SECRET_PASSWORD, SECRET_TOKEN, "password=", "dbname=", key.hex()]
    forbidden += [n.split()[0] for n in FAKE_NAMES] + [n.split()[-1] for n in FAKE_NAMES]
    for f in out.iterdir():
        data = f.read_bytes()
        assert key not in data, f.name
        text = data.decode("utf-8")
        for word in forbidden:
            assert word not in text, (f.name, word)


def test_hostile_notes_and_titles_are_text_in_html_and_markdown(night):
    _, _, out = night
    page = (out / "index.html").read_text()
    m = markup(page)
    assert "script" not in m.tags and "img" not in m.tags and "a" not in m.tags
    assert not [a for a in m.attrs if a.startswith("on") or a in ("src", "href")]
    assert set(m.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p",
                           "span", "section", "table", "thead", "tbody", "tr", "th", "td", "ul",
                           "li", "strong", "br", "details", "summary", "div", "svg", "rect",
                           "line", "text", "g", "path", "polyline", "polygon", "circle", "tspan", "desc", "defs", "pattern"}
    text = "".join(m.text)
    assert HOSTILE in text and "bob.obrien" in text
    md = (out / "evidence.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    flat = [t for tok in tokens for t in [tok, *(tok.children or [])]]
    assert not [t for t in flat if t.type in ("link_open", "image", "html_inline", "html_block",
                                             "code_inline", "em_open")]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert all(not h.startswith("not a heading") for h in headings)
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in rendered and "<img" not in rendered and "<b " not in rendered
    assert "&lt;script&gt;" in rendered
    assert HOSTILE_TITLE.split()[0] not in rendered  # the gate reason's tag arrived as text


def test_a_previous_pack_is_replaced_and_anything_else_refused(night, tmp_path, capsys):
    plan, _, out = night
    before = (out / "evidence.json").read_text()
    assert main(["report", str(plan), "--out", str(out)]) == 0  # a previous pack: replaced
    assert (out / "evidence.json").read_text() != before  # (a new "generated" time at least)
    capsys.readouterr()
    (out / "mine.txt").write_text("not the pack's")
    assert main(["report", str(plan), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a previous evidence pack" in err
    assert (out / "mine.txt").read_text() == "not the pack's"
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    assert main(["report", str(plan), "--out", str(other)]) == 2
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]
