"""A damaged ``lab.json`` is one line and exit 2 for every lab verb, and signals no process."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.cli import main
from cockpit.lab import state
from cockpit.lab.state import LAB_FILE

GOOD = {"dir": "/nonexistent/lab", "seed": 11, "patients": 10, "run_as": "postgres",
        "legacy": {"name": "legacy", "port": 5433, "datadir": "/nonexistent/lab/legacy/data", "pid": None},
        "cloud": {"name": "cloud", "port": 5434, "datadir": "/nonexistent/lab/cloud/data", "pid": None},
        "service": {"port": None, "pid": None}, "faults": {}, "format": 1}

JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=12),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                       max_leaves=8)


def _mutations():
    keys = st.sampled_from(["dir", "seed", "patients", "run_as", "legacy", "cloud", "service", "faults"])
    sub = st.sampled_from(["name", "port", "datadir", "pid"])
    return st.one_of(
        st.builds(lambda k, v: ("top", k, None, v), keys, JSONISH),
        st.builds(lambda c, k, v: ("sub", c, k, v), st.sampled_from(["legacy", "cloud", "service"]), sub, JSONISH),
        st.builds(lambda b: ("raw", None, None, b), st.binary(max_size=64)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_mutations(), verb=st.sampled_from(["status", "down", "fault"]))
def test_a_damaged_lab_json_is_one_line(tmp_path_factory, capsys, mutation, verb):
    folder: Path = tmp_path_factory.mktemp("lab")
    kind, where, key, value = mutation
    if kind == "raw":
        (folder / LAB_FILE).write_bytes(value)
    else:
        doc = json.loads(json.dumps(GOOD))
        doc["dir"] = str(folder)
        if kind == "top":
            doc[where] = value
        elif isinstance(doc[where], dict):
            doc[where][key] = value
        (folder / LAB_FILE).write_text(json.dumps(doc))
    before = (folder / LAB_FILE).read_bytes()
    argv = ["lab", verb, *(["clear"] if verb == "fault" else []), "--dir", str(folder)]
    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    if code == 2:
        assert out.err.count("\n") == 1
        assert (folder / LAB_FILE).read_bytes() == before  # refused: nothing changed
    else:
        # A readable description whose processes are not running: status says stopped (1);
        # down stops nothing; a fault is refused (2, above).
        assert (verb, code) in (("status", 1), ("down", 0)), (verb, code, out)


def test_a_good_lab_json_round_trips(tmp_path):
    doc = dict(GOOD, dir=str(tmp_path))
    (tmp_path / LAB_FILE).write_text(json.dumps(doc))
    lab = state.load(tmp_path)
    assert lab is not None and lab.to_json() == doc
