"""Charts for the evidence pack as inline SVG: a line chart, gate bands and a Gantt chart.

Pure functions with no dependency: each returns one ``<svg>`` element (``role="img"``, a
``<title>``, axes with UTC tick labels and units) for a self-contained page without scripts.
Every text that comes from outside (labels, units, statuses, titles) is cleaned
(``cockpit.text.clean``: no control characters, which XML cannot hold either) and
``html.escape``d, and only ever written as element text: never as an attribute, an id or a
tag. Colour never carries meaning alone: statuses are written as words in the bands and the
legend, overruns are hatched and labelled, series differ in dash pattern, so a grey print
reads the same.

Robust on what a history can hand over: an empty series, a single point, ``t0 == t1``, NaN or
infinite values (skipped), values near the float limits, and thousands of points: each line
is reduced to at most two points per pixel column (the lowest and highest in that column, in
time order), so a 24-hour series is at most ``2 * width`` path points, not 1440 per signal.
"""

from __future__ import annotations

import hashlib
import html
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cockpit.text import clean

FONT = 'font-family="sans-serif" font-size="11"'
MAX_FLOAT = sys.float_info.max
# datetime's range, so a tick label can always be written.
MIN_T, MAX_T = 0.0, 253_402_300_799.0
LABEL_W = 190  # the label column of gate bands and the Gantt chart
PALETTE = ("#1f5fa8", "#b3541e", "#2e7d32", "#6a3d9a", "#8c6d1f", "#00838f")
DASHES = ("", "6 3", "2 2", "8 3 2 3", "1 3", "10 4")
STATUS_FILL = {"GO": "#7cc47f", "NO-GO": "#e06666", "HOLD": "#f2c14e", "UNKNOWN": "#b0b0b0"}
# The pattern each status is drawn with, so it reads without colour.
STATUS_PATTERN = {"GO": None, "NO-GO": "hatch", "HOLD": "dots", "UNKNOWN": "cross"}


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]
    band: list[tuple[float, float, float]] | None = None  # (wall, lo, hi) per minute


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True)
class GanttRow:
    label: str
    planned: tuple[float, float] | None
    actual: tuple[float, float] | None
    baseline: tuple[float, float] | None = None
    overrun: bool = False
    status: str = ""


# -- text and numbers ----------------------------------------------------------------------
def _text(value: object, limit: int = 120) -> str:
    """Untrusted text as SVG element content: cleaned, one line, escaped."""
    return html.escape(clean(str(value), limit, single_line=True), quote=True)


def _finite(*values: object) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in values)


def _num(v: float) -> str:
    """A coordinate: one decimal, never NaN or infinite (clamped to the page)."""
    if not math.isfinite(v):
        v = 0.0
    text = f"{min(max(v, -1e6), 1e6):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.3g}"
    return f"{v:.6g}"


def _window(t0: object, t1: object) -> tuple[float, float]:
    a = float(t0) if _finite(t0) else MIN_T  # type: ignore[arg-type]
    b = float(t1) if _finite(t1) else a + 60.0  # type: ignore[arg-type]
    a = min(max(a, MIN_T), MAX_T - 60.0)
    b = min(max(b, MIN_T), MAX_T)
    if b <= a:
        b = a + 60.0
    return a, b


def _clock(t: float, seconds: bool = False) -> str:
    t = min(max(t, MIN_T), MAX_T)
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S" if seconds else "%H:%M")


def _day(t: float) -> str:
    return datetime.fromtimestamp(min(max(t, MIN_T), MAX_T), UTC).strftime("%Y-%m-%d")


TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 172800, 604800, 2592000, 31536000)


def _time_ticks(t0: float, t1: float, pixels: float) -> tuple[list[float], bool]:
    """Tick times on round UTC seconds/minutes/hours, at most one per 70 pixels."""
    most = max(2, int(pixels // 70))
    step = next((s for s in TIME_STEPS if (t1 - t0) / s <= most), TIME_STEPS[-1])
    while (t1 - t0) / step > most:  # beyond a year per tick: widen until it fits
        step *= 10
    first = math.ceil(t0 / step) * step
    ticks: list[float] = []
    t = float(first)
    while t <= t1 and len(ticks) <= most:
        ticks.append(t)
        t += step
    return ticks, step < 60


def _value_range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if not hi / 2 - lo / 2 > 0:  # halves: the span of values near the float limits
        pad = max(abs(lo) * 0.05, 1.0)
        lo, hi = max(lo - pad, -MAX_FLOAT), min(hi + pad, MAX_FLOAT)
    return lo, hi


def _value_ticks(lo: float, hi: float) -> list[float]:
    raw = (hi / 2 - lo / 2) / 2.5  # a fifth of the span, without overflowing near the limits
    if not (raw > 0 and math.isfinite(raw)):
        return [lo, hi]
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if not math.isfinite(step) or step <= 0:
        return [lo, hi]
    k = math.ceil(lo / step)
    ticks: list[float] = []
    while len(ticks) < 12:
        v = k * step
        if not math.isfinite(v) or v > hi:
            break
        ticks.append(v)
        k += 1
    return ticks or [lo, hi]


def _ids(*parts: object) -> str:
    """A prefix for this chart's pattern ids: the same chart twice in a page is the same
    drawing, and two different charts do not share ids."""
    digest = hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return "c" + digest[:10]


def _open(width: float, height: float, title: str, desc: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_num(width)}" '
            f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" {FONT}>',
            f"<title>{_text(title, 200)}</title>", f"<desc>{_text(desc, 400)}</desc>",
            f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>']


def _time_axis(t0: float, t1: float, x0: float, x1: float, y: float, top: float) -> list[str]:
    out = [f'<g class="time-axis"><line x1="{_num(x0)}" y1="{_num(y)}" x2="{_num(x1)}" '
           f'y2="{_num(y)}" stroke="#333333"/>']
    ticks, seconds = _time_ticks(t0, t1, x1 - x0)
    for t in ticks:
        x = x0 + (t - t0) / (t1 - t0) * (x1 - x0)
        out.append(f'<line x1="{_num(x)}" y1="{_num(top)}" x2="{_num(x)}" y2="{_num(y)}" '
                   f'stroke="#e4e4e4"/>')
        out.append(f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x)}" y2="{_num(y + 4)}" '
                   f'stroke="#333333"/>')
        out.append(f'<text x="{_num(x)}" y="{_num(y + 15)}" text-anchor="middle">'
                   f"{_clock(t, seconds)}</text>")
    out.append(f'<text x="{_num(x1)}" y="{_num(y + 28)}" text-anchor="end">time (UTC), '
               f"{_day(t0)} {_clock(t0)} to {_day(t1)} {_clock(t1)}</text></g>")
    return out


def _patterns(prefix: str) -> str:
    return (f'<defs><pattern id="{prefix}-hatch" width="6" height="6" '
            f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="#000000" stroke-width="1.5" '
            f'stroke-opacity="0.45"/></pattern>'
            f'<pattern id="{prefix}-dots" width="5" height="5" patternUnits="userSpaceOnUse">'
            f'<circle cx="2.5" cy="2.5" r="1" fill="#000000" fill-opacity="0.45"/></pattern>'
            f'<pattern id="{prefix}-cross" width="6" height="6" patternUnits="userSpaceOnUse">'
            f'<path d="M0 0L6 6M6 0L0 6" stroke="#000000" stroke-width="0.8" '
            f'stroke-opacity="0.4"/></pattern></defs>')


# -- down-sampling -------------------------------------------------------------------------
def _columns(points: Sequence[tuple[float, float]], t0: float, t1: float, x0: float,
             x1: float) -> list[tuple[float, float]]:
    """(x pixel, value): per pixel column the lowest and the highest value, in time order."""
    cols: dict[int, list[tuple[float, float, float]]] = {}
    span = t1 - t0
    for t, v in points:
        if not (_finite(t, v) and t0 <= t <= t1):
            continue
        col = int((t - t0) / span * (x1 - x0))
        c = cols.get(col)
        if c is None:
            cols[col] = [(t, v, 0), (t, v, 1)]
        else:
            if v < c[0][1]:
                c[0] = (t, v, 0)
            if v > c[1][1]:
                c[1] = (t, v, 1)
    out = []
    for col in sorted(cols):
        lo, hi = cols[col]
        pair = [lo] if lo[:2] == hi[:2] else sorted((lo, hi))
        out += [(x0 + col + 0.5, p[1]) for p in pair]
    return out


def _band_columns(band: Sequence[tuple[float, float, float]], t0: float, t1: float, x0: float,
                  x1: float) -> list[tuple[float, float, float]]:
    cols: dict[int, list[float]] = {}
    for row in band:
        if len(row) != 3 or not _finite(*row) or not t0 <= row[0] <= t1:
            continue
        t, lo, hi = row
        lo, hi = min(lo, hi), max(lo, hi)
        col = int((t - t0) / (t1 - t0) * (x1 - x0))
        c = cols.get(col)
        cols[col] = [lo, hi] if c is None else [min(c[0], lo), max(c[1], hi)]
    return [(x0 + col + 0.5, c[0], c[1]) for col, c in sorted(cols.items())]


# -- the charts ----------------------------------------------------------------------------
def line_chart(series: list[Series], *, t0: float, t1: float, unit: str, title: str,
               thresholds: Sequence[Threshold] = (), width: int = 720, height: int = 200) -> str:
    """Each series' last values as a line, its per-minute low..high band drawn lightly behind,
    each threshold a dashed labelled line; a time axis in UTC and a value axis in ``unit``."""
    t0, t1 = _window(t0, t1)
    width = int(min(max(_int(width, 720), 200), 4000))
    height = int(min(max(_int(height, 200), 120), 2000))
    legend_h = 16 * ((len(series) + 2) // 3) if len(series) > 1 else 0
    left, right, top, bottom = 64.0, width - 24.0, 24.0, height - 40.0 - legend_h
    if bottom - top < 40:
        bottom = top + 40
        height = int(bottom + 40 + legend_h)
    ths = [th for th in thresholds if isinstance(th, Threshold) and _finite(th.value)]
    cols = [_columns(s.points, t0, t1, left, right) for s in series]
    bands = [_band_columns(s.band or [], t0, t1, left, right) for s in series]
    values = [v for c in cols for _, v in c] + [v for b in bands for _, lo, hi in b
                                                for v in (lo, hi)] + [th.value for th in ths]
    out = _open(width, height, title, f"{clean(str(title), 200, single_line=True)}: "
                f"values in {clean(str(unit), 40, single_line=True)} over time (UTC)")
    out += _time_axis(t0, t1, left, right, bottom, top)
    if not values:
        out.append(f'<line x1="{_num(left)}" y1="{_num(top)}" x2="{_num(left)}" '
                   f'y2="{_num(bottom)}" stroke="#333333"/>')
        out.append(f'<text x="{_num(left - 6)}" y="{_num(top - 8)}" text-anchor="start">'
                   f"{_text(unit, 40)}</text>")
        out.append(f'<text x="{_num((left + right) / 2)}" y="{_num((top + bottom) / 2)}" '
                   f'text-anchor="middle" fill="#555555">no data in this window</text>')
        out.append("</svg>")
        return "\n".join(out)
    lo, hi = _value_range(values)

    def y(v: float) -> float:
        return bottom - (v / 2 - lo / 2) / (hi / 2 - lo / 2) * (bottom - top)

    out.append(f'<g class="value-axis"><line x1="{_num(left)}" y1="{_num(top)}" '
               f'x2="{_num(left)}" y2="{_num(bottom)}" stroke="#333333"/>')
    for v in _value_ticks(lo, hi):
        out.append(f'<line x1="{_num(left - 4)}" y1="{_num(y(v))}" x2="{_num(right)}" '
                   f'y2="{_num(y(v))}" stroke="#eeeeee"/>')
        out.append(f'<text x="{_num(left - 6)}" y="{_num(y(v) + 4)}" text-anchor="end">'
                   f"{_fmt(v)}</text>")
    out.append(f'<text x="{_num(left - 6)}" y="{_num(top - 8)}" text-anchor="start">'
               f"{_text(unit, 40)}</text></g>")
    for i, band in enumerate(bands):
        if not band:
            continue
        edge = [(x, y(h)) for x, _, h in band] + [(x, y(lo_)) for x, lo_, _ in reversed(band)]
        d = "M" + "L".join(f"{_num(x)} {_num(yy)}" for x, yy in edge) + "Z"
        out.append(f'<path class="band" d="{d}" fill="{PALETTE[i % len(PALETTE)]}" '
                   f'fill-opacity="0.15" stroke="none"/>')
    for i, col in enumerate(cols):
        if not col:
            continue
        colour, dash = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]
        d = _line_path(col, y)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<path class="series" d="{d}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5"{dash_attr}/>')
        if len(col) == 1:
            x, v = col[0]
            out.append(f'<circle cx="{_num(x)}" cy="{_num(y(v))}" r="2.5" fill="{colour}"/>')
    for th in ths:
        yy = y(th.value)
        out.append(f'<g class="threshold"><line x1="{_num(left)}" y1="{_num(yy)}" '
                   f'x2="{_num(right)}" y2="{_num(yy)}" stroke="#a00000" stroke-width="1" '
                   f'stroke-dasharray="5 4"/><text x="{_num(right - 4)}" y="{_num(yy - 4)}" '
                   f'text-anchor="end" fill="#a00000">{_text(th.label, 40)} {_fmt(th.value)}'
                   '</text></g>')  # inside the plot, above its line: never cut at the edge
    if len(series) > 1:
        out += _series_legend(series, left, bottom + 40, right - left)
    elif series:
        out.append(f'<text x="{_num(right)}" y="{_num(top - 8)}" text-anchor="end">'
                   f"{_text(series[0].label, 60)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def _int(v: object, default: int) -> int:
    return int(v) if _finite(v) else default  # type: ignore[call-overload]


def _line_path(col: list[tuple[float, float]], y) -> str:
    """One path: a gap of more than three times the usual spacing (missing minutes) is left
    open rather than drawn as a straight line across."""
    steps = sorted(b[0] - a[0] for a, b in zip(col, col[1:], strict=False) if b[0] > a[0])
    usual = steps[len(steps) // 2] if steps else 1.0
    parts = []
    prev = None
    for x, v in col:
        cmd = "M" if prev is None or x - prev > max(3 * usual, 3.0) else "L"
        parts.append(f"{cmd}{_num(x)} {_num(y(v))}")
        prev = x
    return "".join(parts)


def _series_legend(series: list[Series], x0: float, y0: float, width: float) -> list[str]:
    out = ['<g class="legend">']
    per_row = 3
    limit = max(8, int((width / per_row - 36) / 6.5))  # each label within its third
    for i, s in enumerate(series):
        x = x0 + (i % per_row) * (width / per_row)
        yy = y0 + (i // per_row) * 16
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{_num(x)}" y1="{_num(yy - 4)}" x2="{_num(x + 24)}" '
                   f'y2="{_num(yy - 4)}" stroke="{PALETTE[i % len(PALETTE)]}" '
                   f'stroke-width="2"{dash_attr}/>')
        out.append(f'<text x="{_num(x + 30)}" y="{_num(yy)}">{_text(s.label, limit)}</text>')
    out.append("</g>")
    return out


def _status_key(status: object) -> str:
    word = clean(str(status), 40, single_line=True).upper().replace("_", "-").replace(" ", "-")
    return "NO-GO" if word in ("NOGO", "NO-GO") else word


def gate_bands(rows: list[tuple[str, list[tuple[float, float, str]]]], *, t0: float, t1: float,
               title: str, width: int = 720) -> str:
    """One band per gate over the window; each segment filled by its status's colour AND
    pattern, its status word written in it where it fits, and a legend of the words."""
    t0, t1 = _window(t0, t1)
    width = int(min(max(_int(width, 720), 300), 4000))
    row_h, top = 24.0, 10.0
    left, right = float(LABEL_W), width - 16.0
    bottom = top + max(1, len(rows)) * row_h
    height = bottom + 64.0
    prefix = _ids("bands", title, t0, t1, len(rows))
    out = _open(width, height, title, f"{clean(str(title), 200, single_line=True)}: the state of "
                f"each gate over time (UTC)")
    out.append(_patterns(prefix))
    seen: dict[str, str] = {}
    span = t1 - t0
    for r, row in enumerate(rows):
        gate, segments = (row[0], row[1]) if isinstance(row, tuple | list) and len(row) == 2 \
            else ("?", [])
        yy = top + r * row_h
        out.append(f'<g class="gate"><text x="{_num(left - 8)}" y="{_num(yy + 16)}" '
                   f'text-anchor="end">{_text(gate, 24)}</text>')
        out.append(f'<rect x="{_num(left)}" y="{_num(yy + 3)}" width="{_num(right - left)}" '
                   f'height="{_num(row_h - 6)}" fill="#f6f6f6" stroke="#cccccc"/>')
        for seg in segments if isinstance(segments, list | tuple) else []:
            if not (isinstance(seg, tuple | list) and len(seg) == 3 and _finite(seg[0], seg[1])):
                continue
            a, b = max(seg[0], t0), min(seg[1], t1)
            if b < a or seg[1] <= seg[0]:
                continue
            key = _status_key(seg[2])
            word = clean(str(seg[2]), 20, single_line=True) or "?"
            seen.setdefault(key, word)
            x = left + (a - t0) / span * (right - left)
            w = max((b - a) / span * (right - left), 1.0)
            fill = STATUS_FILL.get(key, "#d9d2e9")
            pattern = STATUS_PATTERN.get(key, "cross")
            out.append(f'<rect x="{_num(x)}" y="{_num(yy + 3)}" width="{_num(w)}" '
                       f'height="{_num(row_h - 6)}" fill="{fill}"/>')
            if pattern:
                out.append(f'<rect x="{_num(x)}" y="{_num(yy + 3)}" width="{_num(w)}" '
                           f'height="{_num(row_h - 6)}" fill="url(#{prefix}-{pattern})"/>')
            if w >= 7 * len(word) + 6:
                out.append(f'<text x="{_num(x + 3)}" y="{_num(yy + 16)}">{_text(word, 20)}'
                           f"</text>")
        out.append("</g>")
    if not rows:
        out.append(f'<text x="{_num((left + right) / 2)}" y="{_num(top + 16)}" '
                   f'text-anchor="middle" fill="#555555">no gate changes recorded</text>')
    out += _time_axis(t0, t1, left, right, bottom, top)
    out.append('<g class="legend">')
    x = left
    for key, word in (seen or {"UNKNOWN": "no data"}).items():
        fill, pattern = STATUS_FILL.get(key, "#d9d2e9"), STATUS_PATTERN.get(key, "cross")
        out.append(f'<rect x="{_num(x)}" y="{_num(bottom + 38)}" width="14" height="10" '
                   f'fill="{fill}" stroke="#666666"/>')
        if pattern:
            out.append(f'<rect x="{_num(x)}" y="{_num(bottom + 38)}" width="14" height="10" '
                       f'fill="url(#{prefix}-{pattern})"/>')
        out.append(f'<text x="{_num(x + 18)}" y="{_num(bottom + 47)}">{_text(word, 20)}</text>')
        x += 30 + 7 * len(word)
        if x > right - 60:
            break
    out.append("</g></svg>")
    return "\n".join(out)


def gantt(rows: list[GanttRow], *, t0: float, t1: float, title: str, width: int = 720) -> str:
    """Per step its planned bar (outlined) and actual bar (filled) on one time axis, the
    rehearsal baseline as a thin dotted bar where given, an overrun hatched and labelled."""
    t0, t1 = _window(t0, t1)
    width = int(min(max(_int(width, 720), 300), 4000))
    row_h, top = 30.0, 10.0
    left, right = float(LABEL_W), width - 100.0  # room for "done OVERRUN" after a last bar
    bottom = top + max(1, len(rows)) * row_h
    height = bottom + 64.0
    prefix = _ids("gantt", title, t0, t1, len(rows))
    out = _open(width, height, title, f"{clean(str(title), 200, single_line=True)}: planned "
                f"and actual duration of each step over time (UTC)")
    out.append(_patterns(prefix))
    span = t1 - t0

    def bar(interval, y0: float, h: float) -> tuple[float, float] | None:
        if not (isinstance(interval, tuple | list) and len(interval) == 2
                and _finite(*interval)) or interval[1] < interval[0]:
            return None
        a, b = max(interval[0], t0), min(interval[1], t1)
        if b < a:
            return None
        return left + (a - t0) / span * (right - left), max((b - a) / span * (right - left), 1.5)

    for r, row in enumerate(rows):
        if not isinstance(row, GanttRow):
            continue
        yy = top + r * row_h
        status = clean(str(row.status), 16, single_line=True)
        out.append(f'<g class="step"><text x="{_num(left - 8)}" y="{_num(yy + 17)}" '
                   f'text-anchor="end">{_text(row.label, 24)}</text>')
        planned = bar(row.planned, yy + 4, 8)
        if planned:
            out.append(f'<rect class="planned" x="{_num(planned[0])}" y="{_num(yy + 4)}" '
                       f'width="{_num(planned[1])}" height="8" fill="#ffffff" stroke="#555555" '
                       f'stroke-dasharray="3 2"/>')
        actual = bar(row.actual, yy + 13, 10)
        if actual:
            fill = "#c0504d" if row.overrun else "#4f81bd"
            out.append(f'<rect class="actual" x="{_num(actual[0])}" y="{_num(yy + 13)}" '
                       f'width="{_num(actual[1])}" height="10" fill="{fill}"/>')
            if row.overrun:
                out.append(f'<rect x="{_num(actual[0])}" y="{_num(yy + 13)}" '
                           f'width="{_num(actual[1])}" height="10" fill="url(#{prefix}-hatch)"/>')
        baseline = bar(row.baseline, yy + 24, 3)
        if baseline:
            out.append(f'<rect class="baseline" x="{_num(baseline[0])}" y="{_num(yy + 24)}" '
                       f'width="{_num(baseline[1])}" height="3" fill="#777777"/>')
        words = " ".join(w for w in (status, "OVERRUN" if row.overrun else "") if w)
        if words:
            ends = [b[0] + b[1] for b in (planned, actual, baseline) if b]
            x = min(max(ends, default=left) + 4, width - 96.0)
            out.append(f'<text x="{_num(x)}" y="{_num(yy + 22)}" font-weight="'
                       f'{"bold" if row.overrun else "normal"}">{_text(words, 24)}</text>')
        out.append("</g>")
    if not rows:
        out.append(f'<text x="{_num((left + right) / 2)}" y="{_num(top + 18)}" '
                   f'text-anchor="middle" fill="#555555">no steps</text>')
    out += _time_axis(t0, t1, left, right, bottom, top)
    ly = bottom + 38
    out.append(f'<g class="legend"><rect x="{_num(left)}" y="{_num(ly)}" width="16" height="8" '
               f'fill="#ffffff" stroke="#555555" stroke-dasharray="3 2"/>'
               f'<text x="{_num(left + 20)}" y="{_num(ly + 8)}">planned</text>'
               f'<rect x="{_num(left + 80)}" y="{_num(ly)}" width="16" height="8" '
               f'fill="#4f81bd"/><text x="{_num(left + 100)}" y="{_num(ly + 8)}">actual</text>'
               f'<rect x="{_num(left + 150)}" y="{_num(ly)}" width="16" height="8" '
               f'fill="#c0504d"/><rect x="{_num(left + 150)}" y="{_num(ly)}" width="16" '
               f'height="8" fill="url(#{prefix}-hatch)"/>'
               f'<text x="{_num(left + 170)}" y="{_num(ly + 8)}">overrun</text>'
               f'<rect x="{_num(left + 230)}" y="{_num(ly + 3)}" width="16" height="3" '
               f'fill="#777777"/><text x="{_num(left + 250)}" y="{_num(ly + 8)}">'
               f"rehearsal baseline</text></g>")
    out.append("</svg>")
    return "\n".join(out)
