"""With a signal history beside the journal the pack charts it: gate bands from the history's
gate changes (not the journal's), a line chart per signal with its gate thresholds drawn from
the plan's expressions, and says which figures come from the history. A damaged history is one
warning and the pack is still written from the journal."""

from __future__ import annotations

import json

from cockpit.cli import main
from tests.report_support import write_history
from tests.timings_night import T0, rehearse, write_plan


def test_the_history_gives_the_charts_and_the_pack_says_so(tmp_path, capsys):
    plan_path = write_plan(tmp_path)
    journal = tmp_path / "night.jsonl"
    rehearse(plan_path, journal)
    write_history(journal, T0)
    out = tmp_path / "pack"
    assert main(["report", str(journal), "--out", str(out)]) == 0
    ev = json.loads((out / "evidence.json").read_text())
    c = ev["charts"]
    assert c["gate_source"] == "history" and c["signal_source"] == "history"
    assert [b["gate"] for b in c["gates"]] == ["g1"]
    assert [s[2] for s in c["gates"][0]["spans"]] == ["GO", "NO-GO", "HOLD", "GO"]
    sig = {s["signal"]: s for s in c["signals"]}
    assert list(sig) == ["replication.lag_s", "exceptions.open"]  # lag first
    assert sig["replication.lag_s"]["hi"] == 9.0 and sig["replication.lag_s"]["unit"] == "s"
    assert [t["value"] for t in sig["exceptions.open"]["thresholds"]] == [0.0]
    assert sig["exceptions.open"]["thresholds"][0]["label"] == "g1: exceptions.open == 0"
    assert sig["exceptions.open"]["errors"] == 1 and sig["exceptions.open"]["minutes"] == 75
    page = (out / "index.html").read_text()
    assert page.count("<svg") == 4  # steps, gate bands, two signals
    assert "g1: exceptions.open == 0" in page
    assert "the signal history" in ev["sources"]["signal charts"]
    md = (out / "evidence.md").read_text()
    assert "replication\\.lag\\_s" in md and "signal history" in md


def test_a_damaged_history_is_a_warning_and_the_pack_is_still_written(tmp_path, capsys):
    plan_path = write_plan(tmp_path)
    journal = tmp_path / "night.jsonl"
    rehearse(plan_path, journal)
    (tmp_path / "night.jsonl.history.sqlite").write_bytes(b"not a database at all" * 100)
    out = tmp_path / "pack"
    capsys.readouterr()
    assert main(["report", str(journal), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: signal history not used" in err and "Traceback" not in err
    ev = json.loads((out / "evidence.json").read_text())
    assert ev["charts"]["signal_source"] == "none" and ev["charts"]["gate_source"] == "journal"
    assert any("signal history not used" in w for w in ev["warnings"])
