"""Chart text is untrusted (gate names, step titles, statuses, signal labels from the plan and
the journal): for arbitrary labels and values every chart parses as XML, a label only ever
becomes element text (never a tag or an attribute), and a line never has more than two points
per pixel column."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.report.svg import GanttRow, Series, Threshold, gantt, gate_bands, line_chart
from cockpit.text import clean

NS = "{http://www.w3.org/2000/svg}"
T0 = 1_800_000_000.0
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TAGS = {NS + t for t in ("svg", "title", "desc", "rect", "g", "text", "line", "path", "circle",
                         "defs", "pattern")}
labels = st.one_of(st.text(max_size=80), st.just("<script>alert(1)</script>"),
                   st.just("\ud800\x00\x1b[31m]]>&amp;"), st.just('" onload="alert(1)'))
numbers = st.one_of(st.floats(), st.integers(-(10**20), 10**20), st.just(1.7e308))
times = st.one_of(st.floats(T0 - 1e6, T0 + 1e6), st.floats())


def _check(svg: str, strings: list[str]) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg" and root.get("role") == "img" and root[0].tag == NS + "title"
    for e in root.iter():
        assert e.tag in TAGS
        for k, v in e.attrib.items():
            assert "{" not in k or k.startswith(NS)
            assert not re.search(r"nan|inf", v, re.I) or k == "font-family", (k, v)
    texts = "".join("".join(e.itertext()) for e in root.iter() if e.tag != NS + "svg")
    for s in strings:
        c = clean(str(s), 400, single_line=True)
        if len(c) >= 6 and not c.isspace():
            assert not [v for e in root.iter() for v in e.attrib.values() if c in v]
            assert c[:5] in texts  # it is there, as text
    return root


@SETTINGS
@given(st.lists(st.tuples(labels, st.lists(st.tuples(times, numbers), max_size=60)),
                max_size=4),
       st.lists(st.tuples(numbers, labels), max_size=3), labels, labels, times, times)
def test_line_chart_of_arbitrary_labels_and_values(series, thresholds, unit, title, t0, t1):
    s = [Series(label, points, [(t, v, v) for t, v in points if isinstance(v, float)])
         for label, points in series]
    th = [Threshold(v, label) for v, label in thresholds]
    svg = line_chart(s, t0=t0, t1=t1, unit=unit, title=title, thresholds=th)
    _check(svg, [title])


@SETTINGS
@given(st.lists(st.tuples(labels, st.lists(st.tuples(times, times, labels), max_size=8)),
                max_size=5), labels, times, times)
def test_gate_bands_of_arbitrary_gates_and_statuses(rows, title, t0, t1):
    _check(gate_bands(rows, t0=t0, t1=t1, title=title), [title])


intervals = st.one_of(st.none(), st.tuples(times, times))


@SETTINGS
@given(st.lists(st.builds(GanttRow, labels, intervals, intervals, intervals, st.booleans(),
                          labels), max_size=6), labels, times, times)
def test_gantt_of_arbitrary_rows(rows, title, t0, t1):
    _check(gantt(rows, t0=t0, t1=t1, title=title), [title])


@SETTINGS
@given(st.lists(st.tuples(st.floats(0, 86_400), st.floats(-1e6, 1e6)), min_size=1,
                max_size=3000), st.integers(200, 1200))
def test_a_line_never_has_more_than_two_points_per_pixel_column(points, width):
    pts = [(T0 + t, v) for t, v in points]
    root = ET.fromstring(line_chart([Series("s", pts)], t0=T0, t1=T0 + 86_400, unit="u",
                                    title="t", width=width))
    (path,) = [p for p in root.iter(NS + "path") if p.get("class") == "series"]
    plot_w = width - 64 - 24
    n = len(re.findall(r"[ML]", path.get("d")))
    assert n <= 2 * (plot_w + 1)
    # Every pixel column that had a point is drawn.
    cols = {int(t / 86_400 * plot_w) for t, v in points if math.isfinite(v)}
    assert n >= len(cols)
