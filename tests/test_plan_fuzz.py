"""Whatever the bytes of a plan file, ``load_plan`` returns a Plan or raises ``PlanError``
whose every line is ``FILE:LINE:COL: ...``: never a traceback, a RecursionError or another
exception, and never a multi-line message.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config import Plan, PlanError, load_plan

SAMPLE = (Path(__file__).resolve().parent.parent / "sample_configs" / "ehr-cutover.yaml").read_text()
SAMPLE_LINES = SAMPLE.split("\n")
_DIR = tempfile.TemporaryDirectory(prefix="cockpit-fuzz-")
PATH = Path(_DIR.name) / "plan.yaml"
LINE = re.compile(rf"{re.escape(str(PATH))}:\d+:\d+: [^\n]*")


def _load(raw: bytes) -> None:
    PATH.write_bytes(raw)
    try:
        plan, warnings = load_plan(PATH, for_run=False, env={})
    except PlanError as exc:
        assert exc.lines, "a refusal says why"
        for line in exc.lines + exc.warnings:
            assert LINE.fullmatch(line), line
        return
    assert isinstance(plan, Plan)
    for line in warnings:
        assert LINE.fullmatch(line), line


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(raw):
    _load(raw)


@SETTINGS
@given(st.text(st.characters(codec="utf-8"), max_size=2000))
def test_arbitrary_text(text):
    _load(text.encode("utf-8"))


SCALARS = st.one_of(
    st.sampled_from(["", "~", "null", "0s", "-1s", "1" + "0" * 400 + "s", "1e999", "-.inf", ".nan",
                     "0x1F", "0o17", "2026-13-45", "2026-11-28", "yes", "on", "[]", "{}", "[a, {b: c}]",
                     "&x [*x]", "*undefined", "!!binary AAAA", "!!python/object:os.system x", "!foo bar",
                     '"\\e[31m\\x9b2J\\u202e"', "'a\nb'", "${NOPE}", "${HOME}", "|\n  text", "<<: 5",
                     "[" * 80 + "]" * 80, "{a: " * 70 + "1" + "}" * 70, "1" * 5000, "recon.x < 1e16",
                     "B1\n", '"B1\\n"', "exceptions.open_critical", "\t", "- - - -"]),
    st.text(max_size=30).map(lambda s: s.replace("\x00", "")),
)


@st.composite
def mutated_sample(draw) -> str:
    lines = list(SAMPLE_LINES)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "insert", "value", "indent", "nest"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.one_of(st.sampled_from(SAMPLE_LINES), SCALARS)))
        elif op == "value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(SCALARS)}"
        elif op == "indent":
            lines[i] = " " * draw(st.integers(0, 9)) + lines[i].lstrip()
        elif op == "nest":
            depth = draw(st.integers(1, 200))
            lines.insert(i, "  deep: " + "[" * depth + "]" * depth)
        if not lines:
            lines = [""]
    return "\n".join(lines)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sample())
def test_mutated_sample_plan(text):
    _load(text.encode("utf-8", "replace"))


def test_the_sample_itself_loads():
    _load(SAMPLE.encode())
    plan, _ = load_plan(PATH, for_run=False, env={})
    assert plan.cutover.id == "ehr-core-2026-11"


def test_recursive_merge_and_alias_loops_are_refused_at_a_place():
    for text in ("a: &a {<<: *a}\n", "a: &a [*a]\n", "a: &a\n  b: *a\n",
                 "x: &x {k: 1}\ny: &y {<<: [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x]}\n"
                 "z: &z {<<: [*y, *y, *y, *y, *y, *y, *y, *y, *y, *y]}\n"):
        _load(text.encode())


def test_a_source_type_that_is_not_text_is_refused_at_a_place():
    # A list as a source's type once reached a dict lookup in the cross-checks (TypeError).
    text = SAMPLE.replace("    type: postgres", "    type: [postgres]", 1)
    assert text != SAMPLE
    _load(text.encode())
