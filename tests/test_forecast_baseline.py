"""``cutover.baseline``: rehearsal journals read and verified with the plan; the median of each
step's actual duration over them; a bad baseline refuses the plan in one line, exit 2."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.cli import main
from cockpit.commands.common import load_or_report
from cockpit.runbook import baseline
from tests.test_forecast import PLAN, Night, make_plan

M = 60.0


def baseline_plan(tmp_path: Path, names: list[str], cutover: str = "fc-cut") -> Path:
    text = (PLAN % {"gates": "  {}"}).replace("id: fc-cut", f"id: {cutover}")
    listed = "".join(f"\n    - {n}" for n in names)
    text = text.replace("  journal: journal.jsonl\n", f"  journal: journal.jsonl\n  baseline:{listed}\n")
    path = tmp_path / f"plan-{cutover}.yaml"
    path.write_text(text)
    return path


def rehearse(tmp_path: Path, name: str, p1_min: float, d1_min: float | None,
             cutover_dir: Path | None = None) -> Path:
    """A rehearsal journal: P1 takes ``p1_min``; D1 ``d1_min`` (None: never finished)."""
    folder = cutover_dir or tmp_path
    plan = make_plan(folder, name=f"{name}.plan.yaml")
    n = Night(plan, folder / name)
    n.confirm("P1", p1_min)
    n.confirm("P2", p1_min + 1)
    n.confirm("P3", p1_min + 5)
    if d1_min is not None:
        n.confirm("D1", p1_min + 5 + d1_min)
    n.journal.close()
    return folder / name


def test_rehearsed_durations_are_the_median_over_the_baselines(tmp_path, capsys):
    rehearse(tmp_path, "r1.jsonl", 12, 40)
    rehearse(tmp_path, "r2.jsonl", 15, 50)
    rehearse(tmp_path, "r3.jsonl", 30, None)  # D1 never finished: counts for P1 only
    path = baseline_plan(tmp_path, ["r1.jsonl", "r2.jsonl", "r3.jsonl"])
    assert main(["check", str(path)]) == 0
    plan = load_or_report(str(path), verb=None)
    assert plan is not None
    assert plan.rehearsed["P1"] == 15 * M  # median of 12, 15, 30
    assert plan.rehearsed["D1"] == 45 * M  # median of 40 and 50
    assert plan.rehearsed["P3"] == 5 * M
    assert "A1" not in plan.rehearsed  # no baseline finished it: the forecast uses planned
    read = baseline.read(plan)
    assert read.runs["P1"] == 3 and read.runs["D1"] == 2


def _refused(capsys, path: Path, index: int, *words: str) -> str:
    capsys.readouterr()
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}:"), lines[0]
    assert f": cutover.baseline[{index}]: " in lines[0], lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in err
    return lines[0]


def test_a_missing_baseline_refuses_the_plan_in_one_line(tmp_path, capsys):
    rehearse(tmp_path, "r1.jsonl", 12, 40)
    line = _refused(capsys, baseline_plan(tmp_path, ["r1.jsonl", "gone.jsonl"]), 1,
                    "gone.jsonl", "No such file")
    # the place is the list entry's own line in the plan
    path_line = int(line.split(":")[1])
    text = baseline_plan(tmp_path, ["r1.jsonl", "gone.jsonl"]).read_text().splitlines()
    assert "gone.jsonl" in text[path_line - 1]


def test_a_tampered_baseline_does_not_verify(tmp_path, capsys):
    path = rehearse(tmp_path, "r1.jsonl", 12, 40)
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"P1"', b'"P3"', 1))
    _refused(capsys, baseline_plan(tmp_path, ["r1.jsonl"]), 0, "does not verify",
             "not evidence")


def test_a_baseline_of_another_cutover_is_refused(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.yaml").write_text((PLAN % {"gates": "  {}"}).replace("id: fc-cut", "id: other-cut"))
    from cockpit.config import load_plan
    plan = load_plan(other / "x.yaml", for_run=False)[0]
    n = Night(plan, tmp_path / "theirs.jsonl")
    n.confirm("P1", 10)
    n.journal.close()
    _refused(capsys, baseline_plan(tmp_path, ["theirs.jsonl"]), 0, "'other-cut'", "not 'fc-cut'")


def test_a_symlink_or_a_folder_is_no_baseline(tmp_path, capsys):
    real = rehearse(tmp_path, "r1.jsonl", 12, 40)
    os.symlink(real, tmp_path / "link.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    _refused(capsys, baseline_plan(tmp_path, ["link.jsonl"]), 0, "symbolic link")
    _refused(capsys, baseline_plan(tmp_path, ["dir.jsonl"]), 0, "directory")


def test_a_baseline_with_a_torn_tail_does_not_verify(tmp_path, capsys):
    path = rehearse(tmp_path, "r1.jsonl", 12, 40)
    with open(path, "ab") as f:
        f.write(b'{"seq": 99')
    _refused(capsys, baseline_plan(tmp_path, ["r1.jsonl"]), 0, "does not verify")


_GOOD: dict[str, bytes] = {}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=8)), max_size=3),
       drop=st.integers(0, 10_000))
def test_any_bytes_in_a_baseline_give_durations_or_one_line(tmp_path, capsys, cuts, drop):
    """The baseline is data from outside: whatever its bytes, the plan loads with durations
    of at least 0 or is refused in one line, and the file is not changed by being read."""
    if "good" not in _GOOD:
        _GOOD["good"] = rehearse(tmp_path, "seed.jsonl", 12, 40).read_bytes()
    data = bytearray(_GOOD["good"])
    for at, junk in cuts:
        at %= len(data) + 1
        data[at:at + len(junk)] = junk
    if drop % 3 == 0:
        del data[drop % (len(data) + 1):]
    target = tmp_path / "fuzz.jsonl"
    target.write_bytes(bytes(data))
    path = baseline_plan(tmp_path, ["fuzz.jsonl"])
    capsys.readouterr()
    plan = load_or_report(str(path), verb="run")
    err = capsys.readouterr().err
    assert target.read_bytes() == bytes(data)
    if plan is None:
        assert len(err.splitlines()) == 1 and "cutover.baseline[0]" in err, err
    else:
        assert err == ""
        assert all(v >= 0 for v in plan.rehearsed.values())
