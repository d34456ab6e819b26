"""A tampered, cut or torn journal still gives a pack: the failure first, in plain words, and
every figure after the damage marked unverified; the exit code says it (1). Bad input is one
line and exit 2 with nothing written. The rehearsal pack carries the timing report."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cockpit.cli import main
from tests.report_support import PACK_FILES
from tests.timings_night import rehearse, write_plan


@pytest.fixture
def night(tmp_path):
    plan_path = write_plan(tmp_path)
    journal = tmp_path / "night.jsonl"
    rehearse(plan_path, journal)
    return plan_path, journal


def _report(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _pack(out: Path) -> tuple[dict, str, str]:
    return (json.loads((out / "evidence.json").read_text()), (out / "index.html").read_text(),
            (out / "evidence.md").read_text())


def _manifest_ok(out: Path) -> bool:
    return subprocess.run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], cwd=out,
                          capture_output=True, timeout=60).returncode == 0


def test_a_rehearsal_pack_has_the_timing_report(night, tmp_path, capsys):
    _, journal = night
    code, out, err = _report(capsys, str(journal), "--out", str(tmp_path / "pack"))
    assert code == 0, err
    assert out.startswith("wrote 6 files to ") and "journal verifies, 16 entries" in out
    ev, page, md = _pack(tmp_path / "pack")
    r = ev["rehearsal"]
    assert r["scenario"] == "lag-crisis" and r["speed"] == 10.0
    assert [f["id"] for f in r["faults"]] == ["lag-spike", "surge", "hang"]
    assert r["faults"][0]["detect_s"] == 30.0 and r["faults"][0]["detected_by"] == "lead1"
    assert r["drill_planned_s"] == 2100.0 and r["drill_finished"]
    assert "Rehearsal timing report" in page and "Rehearsal timing report" in md
    steps = {s["id"]: s for s in ev["steps"]}
    assert steps["P2"]["actual_s"] == 1500.0 and steps["P2"]["overrun_s"] == 300.0
    assert "OVERRUN 5m" in page and "OVERRUN 5m" in md
    assert ev["summary"]["outcome"] == "rolled back" and ev["summary"]["rehearsal"]


def test_a_tampered_journal_gives_a_pack_with_the_failure_first_and_later_figures_unverified(
        night, tmp_path, capsys):
    _, journal = night
    lines = journal.read_bytes().splitlines(keepends=True)
    assert b'"lag is climbing"' in lines[4]
    lines[4] = lines[4].replace(b'"lag is climbing"', b'"all quiet"')  # seq 5, hash not redone
    journal.write_bytes(b"".join(lines))
    out = tmp_path / "pack"
    code, stdout, err = _report(capsys, str(journal), "--out", str(out))
    assert code == 1 and "JOURNAL DOES NOT VERIFY" in stdout
    assert err.count("\n") == 1 and "DOES NOT VERIFY at entry #5" in err
    assert _manifest_ok(out) and {p.name for p in out.iterdir()} == PACK_FILES
    ev, page, md = _pack(out)
    v = ev["summary"]["verification"]
    assert not v["ok"] and v["bad_seq"] == 5 and v["verified_through_seq"] == 4
    assert v["entries"] == 16 and v["verified_entries"] == 4
    assert [t["verified"] for t in ev["timeline"]] == [True] * 4 + [False] * 12
    assert "all quiet" in [t["note"] for t in ev["timeline"]]  # shown, as unverified
    steps = {s["id"]: s for s in ev["steps"]}
    assert steps["P1"]["verified"] and not steps["P2"]["verified"]  # P2 was done at seq 8
    assert all(not h["verified"] for h in ev["highlights"])
    # First thing after the title, in plain words, in both documents.
    body = page.split("<body>", 1)[1]
    first = re.search(r"<p class=\"verdict bad\">(.*?)</p>", body).group(1)
    assert body.index("verdict bad") < body.index("<section")
    assert first.startswith("THE JOURNAL DOES NOT VERIFY at entry #5") and "UNVERIFIED" in first
    md_lines = md.splitlines()
    assert md_lines[2].startswith("**Verification:** THE JOURNAL DOES NOT VERIFY at entry \\#5")
    assert md.count("**UNVERIFIED**") >= 12 and page.count("UNVERIFIED") >= 12


def test_a_cut_journal_fails_against_the_recorded_head(night, tmp_path, capsys):
    _, journal = night
    lines = journal.read_bytes().splitlines(keepends=True)
    head = json.loads(lines[-1])["hash"]
    journal.write_bytes(b"".join(lines[:-3]))
    out = tmp_path / "pack"
    code, _, err = _report(capsys, str(journal), "--out", str(out), "--expect-head", f"#16 {head}")
    assert code == 1 and "cut" in err
    ev, page, _ = _pack(out)
    v = ev["summary"]["verification"]
    assert not v["ok"] and v["bad_seq"] == 14 and v["expect_head"] == f"#16 {head}"
    assert "entries were cut from the end" in v["words"] and "verdict bad" in page
    # Without the recorded head the cut cannot be seen: the pack says to compare the head.
    code, _, _ = _report(capsys, str(journal), "--out", str(tmp_path / "p2"))
    assert code == 0
    assert "Compare this head with the one recorded elsewhere" in _pack(tmp_path / "p2")[0][
        "summary"]["verification"]["words"]


def test_a_torn_tail_is_reported_not_hidden(night, tmp_path, capsys):
    _, journal = night
    with open(journal, "ab") as f:
        f.write(b'{"seq":17,"ts":"2027-')
    code, _, err = _report(capsys, str(journal), "--out", str(tmp_path / "pack"))
    assert code == 1 and "incomplete last line" in err
    ev = _pack(tmp_path / "pack")[0]
    assert ev["summary"]["verification"]["unreadable_lines"] == 1
    assert all(t["verified"] for t in ev["timeline"])  # the 16 whole entries are intact


@pytest.mark.parametrize("case", ["missing", "bad-head", "out-is-file", "no-parent", "bad-plan"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(night, tmp_path, capsys, case):
    _, journal = night
    out = tmp_path / "pack"
    argv = [str(journal), "--out", str(out)]
    if case == "missing":
        argv[0] = str(tmp_path / "nope.jsonl")
    elif case == "bad-head":
        argv += ["--expect-head", "abc"]
    elif case == "out-is-file":
        out.write_text("x")
    elif case == "no-parent":
        argv[2] = str(tmp_path / "a" / "b")
    elif case == "bad-plan":
        bad = tmp_path / "bad.yaml"
        bad.write_text("cutover: [\n")
        argv[0] = str(bad)
    code, stdout, err = _report(capsys, *argv)
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("cockpit report: ") and "Traceback" not in err
    assert not out.is_dir() and not (tmp_path / "a").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_help_says_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0 pack written, the journal verifies; 1 pack written, the journal does NOT verify" in text
    assert "not built yet" not in text
