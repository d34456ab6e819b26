"""The evidence pack's charts (cockpit/report/svg.py): well-formed SVG with a title, axes in
UTC and units, thresholds dashed and labelled, meaning carried by words and patterns as well as
colour, and a 24-hour series drawn with at most two points per pixel column."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from cockpit.report.svg import GanttRow, Series, Threshold, gantt, gate_bands, line_chart

NS = "{http://www.w3.org/2000/svg}"
T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg" and root.get("role") == "img"
    assert root[0].tag == NS + "title"
    return root


def _texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(NS + "text")]


def _path_points(d: str) -> int:
    return len(re.findall(r"[ML]", d))


def test_a_line_chart_has_title_time_axis_in_utc_value_axis_with_unit_and_thresholds():
    pts = [(T0 + i * 60, 10 + (i % 30)) for i in range(240)]
    root = _parse(line_chart([Series("lag", pts, [(t, v - 1, v + 2) for t, v in pts])],
                             t0=T0, t1=T0 + 4 * 3600, unit="s", title="Replication lag",
                             thresholds=[Threshold(35.0, "NO-GO above")]))
    assert root[0].text == "Replication lag"
    texts = _texts(root)
    assert {"08:00", "09:00", "10:00", "11:00", "12:00"} <= set(texts)
    assert "s" in texts  # the unit on the value axis
    assert any("time (UTC)" in t for t in texts)
    assert {"10", "20", "30"} <= set(texts)  # value ticks
    (th,) = [g for g in root.iter(NS + "g") if g.get("class") == "threshold"]
    assert th.find(NS + "line").get("stroke-dasharray")
    assert "".join(th.find(NS + "text").itertext()) == "NO-GO above 35"
    # The band is drawn lightly, behind the line.
    paths = list(root.iter(NS + "path"))
    classes = [p.get("class") for p in paths]
    assert classes.index("band") < classes.index("series")
    assert float(paths[classes.index("band")].get("fill-opacity")) <= 0.3


def test_a_24_hour_series_is_at_most_two_points_per_pixel_column_and_keeps_its_spikes():
    pts = [(T0 + i * 6, 5.0) for i in range(14_400)]  # a reading every 6 s for a day
    pts[7000] = (pts[7000][0], 500.0)  # one spike
    svg = line_chart([Series("p95", pts, [(T0 + m * 60, 4.0, 6.0) for m in range(1440)])],
                     t0=T0, t1=T0 + 86_400, unit="ms", title="p95", width=720)
    root = _parse(svg)
    plot_w = 720 - 64 - 24  # the plot between its value axis and the right margin
    (series,) = [p for p in root.iter(NS + "path") if p.get("class") == "series"]
    assert _path_points(series.get("d")) <= 2 * (plot_w + 1)
    (band,) = [p for p in root.iter(NS + "path") if p.get("class") == "band"]
    assert _path_points(band.get("d")) <= 2 * (plot_w + 1)
    ys = [float(y) for y in re.findall(r"[ML][-\d.]+ ([-\d.]+)", series.get("d"))]
    assert min(ys) == 24.0  # the spike reaches the top of the plot: not averaged away
    assert len(svg) < 60_000


def test_empty_single_point_same_t0_t1_and_bad_values_still_give_a_chart():
    cases = [
        ([], T0, T0 + 3600),
        ([Series("none", [])], T0, T0),
        ([Series("one", [(T0, 5.0)])], T0, T0),
        ([Series("bad", [(T0, math.nan), (T0 + 1, math.inf), (math.nan, 1.0), (T0 + 2, -math.inf)])],
         T0, T0 + 60),
        ([Series("huge", [(T0, 1.7e308), (T0 + 10, -1.7e308), (T0 + 20, 5e-324)])], T0, T0 + 60),
        ([Series("same", [(T0, 1e300), (T0 + 10, 1e300)])], math.nan, math.inf),
    ]
    for series, t0, t1 in cases:
        svg = line_chart(series, t0=t0, t1=t1, unit="ms", title="t")
        root = _parse(svg)
        assert not re.search(r"nan|inf", svg.split("<title>")[0] + "".join(
            f"{k}={v}" for e in root.iter() for k, v in e.attrib.items()), re.I)
        assert any(re.fullmatch(r"\d\d:\d\d(:\d\d)?", t) for t in _texts(root))
    root = _parse(line_chart([Series("bad", [(T0, math.nan)])], t0=T0, t1=T0 + 60, unit="ms",
                             title="t"))
    assert "no data in this window" in _texts(root)
    one = _parse(line_chart([Series("one", [(T0, 5.0)])], t0=T0, t1=T0, unit="ms", title="t"))
    assert one.find(f".//{NS}circle") is not None  # a single point is still visible


def test_a_hostile_label_is_text_never_markup():
    evil = '<script>alert(1)</script>" onload="x'
    svgs = [
        line_chart([Series(evil, [(T0, 1.0), (T0 + 60, 2.0)]), Series("b", [(T0, 3.0)])],
                   t0=T0, t1=T0 + 120, unit=evil, title=evil, thresholds=[Threshold(1.5, evil)]),
        gate_bands([(evil, [(T0, T0 + 60, evil)])], t0=T0, t1=T0 + 60, title=evil),
        gantt([GanttRow(evil, (T0, T0 + 60), (T0, T0 + 90), None, True, evil)], t0=T0,
              t1=T0 + 120, title=evil),
    ]
    for svg in svgs:
        root = _parse(svg)
        assert not [e for e in root.iter() if "script" in e.tag]
        assert not [v for e in root.iter() for v in e.attrib.values() if "alert" in v]
        assert any("<script>" in t for t in _texts(root) + [root[0].text or ""])
        assert "<script>" not in svg


def test_gate_bands_write_each_status_as_a_word_and_a_pattern_not_only_a_colour():
    rows = [("db-lag", [(T0, T0 + 3600, "GO"), (T0 + 3600, T0 + 7200, "NO-GO"),
                        (T0 + 7200, T0 + 7201, "HOLD")]),
            ("api", [(T0 - 500, T0 + 9000, "UNKNOWN")])]
    root = _parse(gate_bands(rows, t0=T0, t1=T0 + 7200, title="Gates over the night"))
    texts = _texts(root)
    assert {"db-lag", "api"} <= set(texts)
    legend = [g for g in root.iter(NS + "g") if g.get("class") == "legend"][0]
    assert {"GO", "NO-GO", "HOLD", "UNKNOWN"} <= set(_texts(legend))
    assert texts.count("NO-GO") >= 2  # in its segment and in the legend
    fills = [r.get("fill") for r in root.iter(NS + "rect")]
    patterns = {p.get("id") for p in root.iter(NS + "pattern")}
    assert len(patterns) == 3 and all(f"url(#{p})" in fills for p in patterns)
    # A one-second HOLD in a two-hour window is still drawn (at least a pixel wide).
    widths = [float(r.get("width")) for r in root.iter(NS + "rect")]
    assert min(widths) >= 1.0
    assert {"08:00", "09:00", "10:00"} <= set(texts)


def test_gantt_shows_planned_actual_baseline_and_marks_an_overrun_in_words():
    rows = [GanttRow("S1 freeze", (T0, T0 + 1800), (T0 + 60, T0 + 2400), (T0, T0 + 1500), True,
                     "done"),
            GanttRow("S2 copy", (T0 + 1800, T0 + 5400), (T0 + 2400, T0 + 5000), None, False, "done"),
            GanttRow("S3 check", (T0 + 5400, T0 + 6000), None, None, False, "pending")]
    root = _parse(gantt(rows, t0=T0, t1=T0 + 7200, title="Runbook: planned and actual"))
    rects = list(root.iter(NS + "rect"))
    assert len([r for r in rects if r.get("class") == "planned"]) == 3
    assert len([r for r in rects if r.get("class") == "actual"]) == 2
    assert len([r for r in rects if r.get("class") == "baseline"]) == 1
    texts = _texts(root)
    assert "done OVERRUN" in texts and "pending" in texts
    assert {"planned", "actual", "overrun", "rehearsal baseline"} <= set(texts)
    assert any((r.get("fill") or "").startswith("url(#") for r in rects)
    assert {"08:00", "09:00", "10:00"} <= set(texts)
    empty = _parse(gantt([], t0=T0, t1=T0, title="none"))
    assert "no steps" in _texts(empty)
