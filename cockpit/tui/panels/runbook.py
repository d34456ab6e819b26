"""Runbook panel: the steps of the selected step's phase, with status, owner, who/when, timing.

The app owns the selection (a step id); this widget only draws the rows around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from cockpit.durations import format_duration
from cockpit.tui.panels.gates import short_word
from cockpit.tui.panels.style import STEP_STYLE, STEP_SYMBOL, status_value
from cockpit.tui.panels.verdict import blocked_steps
from cockpit.tui.safe import safe

if TYPE_CHECKING:
    from cockpit.config.plan import Plan
    from cockpit.config.runbook import Step
    from cockpit.runbook.forecast import Forecast
    from cockpit.runbook.state import RunbookState


def hhmm(wall: float | None) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).strftime("%H:%M") if wall else "--:--"


def timing(view: RunbookView, step: Step) -> tuple[str, str]:
    """'4m/10m' or '12m/10m OVER' (elapsed/planned) for a workable step, timed from when it
    became workable (the forecast's spans); '—/10m' while nothing says it started."""
    t = view.forecast.active.get(step.id) if view.forecast is not None else None
    if t is None:
        return f"—/{format_duration(step.planned)}", "dim"
    elapsed = float(int(t.elapsed_s))
    if elapsed > step.planned:
        return f"{format_duration(elapsed)}/{format_duration(step.planned)} OVER", "bold red reverse"
    return f"{format_duration(elapsed)}/{format_duration(step.planned)}", ""


def active_words(view: RunbookView, step: Step) -> Text | None:
    """The selected step being worked, against its rehearsal and its plan, in words:
    "B03 running 12m of ~9m rehearsed, 10m planned: +3m over". The overrun is against what the
    forecast expects (the rehearsal when there is one, else the plan) and is said in words."""
    t = view.forecast.active.get(step.id) if view.forecast is not None else None
    if t is None:
        return None
    text = Text(f"{step.id} running {format_duration(float(int(t.elapsed_s)))} of ", end="")
    if t.rehearsed_s is not None:
        text.append(f"~{format_duration(t.rehearsed_s)} rehearsed, ")
    text.append(f"{format_duration(t.planned_s)} planned")
    if t.over_s >= 1:
        text.append(": ")
        text.append(f"+{format_duration(float(int(t.over_s)))} over", style="bold reverse")
    return text


@dataclass
class RunbookView:
    plan: Plan
    state: RunbookState
    gates: dict
    now: float
    selected: str | None
    # The core's rule for which gates block a step (``Operations.blocking_gates``); with it,
    # the rows under the steps list the gates that hold steps up.
    blocking: Callable | None = None
    # The finish forecast (``cockpit.runbook.forecast.Forecast``): its per-step timings time
    # the workable steps; None: nothing has started.
    forecast: Forecast | None = None


def step_row(view: RunbookView, step: Step, width: int) -> Text:
    st = view.state.steps.get(step.id)
    status = status_value(st.status if st else "pending")
    selected = step.id == view.selected
    row = Text(no_wrap=True, overflow="ellipsis", end="")
    row.append("›" if selected else " ", style="bold")
    row.append(STEP_SYMBOL.get(status, "?"), style=STEP_STYLE.get(status, ""))
    row.append(f" {step.id:<4}")
    row.append("!" if step.critical else " ", style="bold red")
    row.append("◆" if step.kind == "decision" else " ")
    if st is not None and status in ("done", "skipped", "failed"):  # no state: "pending"
        who = safe(st.actor or "?", 16)
        info = Text(end="")
        word = {"done": "", "skipped": "skipped ", "failed": "FAILED "}[status]
        if st.decision:
            word = f"{st.decision} "
        info.append(word, style=STEP_STYLE[status])
        info.append_text(who)
        info.append(f" {hhmm(st.at)}")
    elif status == "active" and (req := view.state.request_for(step.id)) is not None \
            and not req.expired(view.now):
        info = Text("awaiting approval", style="bold", end="")
    elif status == "active":
        words, style = timing(view, step)
        info = Text(words, style=style, end="")
    else:
        info = Text(format_duration(step.planned), style="dim", end="")
    owner = safe(step.owner, 10)
    title_w = max(8, width - 9 - 11 - max(info.cell_len, 6) - 2)
    title = safe(step.title, 200)
    title.truncate(title_w, overflow="ellipsis", pad=True)
    row.append(" ")
    row.append_text(title)
    row.append(" ")
    owner.truncate(10, pad=True)
    row.append_text(owner)
    row.append(" ")
    row.append_text(info)
    if selected:
        row.stylize("reverse")
    return row


def selected_detail(view: RunbookView) -> Text:
    step = view.plan.runbook.step(view.selected) if view.selected else None
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if step is None:
        text.append("nothing selected", style="dim")
        return text
    text.append(f"{step.id} needs: ", style="bold")
    if not step.requires:
        text.append("no gates", style="dim")
    for i, gid in enumerate(step.requires):
        status = view.gates.get(gid)
        word, style = short_word(status)
        if i:
            text.append("  ")
        text.append(word, style=style)
        text.append(f" {gid}")
        if status is not None and status.state.value == "HOLD":
            left = max(0.0, status.hold_for_s - status.held_s)
            text.append(f" (GO in {format_duration(left)} if it holds)")
    flags = []
    if step.critical:
        flags.append("critical: type the id")
    if step.two_person:
        req = view.state.request_for(step.id)
        if req is not None and not req.expired(view.now):
            flags.append(f"awaiting a second person's approval (asked by "
                         f"{safe(req.requester.operator, 24).plain}, a: approvals)")
        else:
            flags.append("two-person: a second person approves")
    if step.run:
        flags.append("r: run command")
    if flags:
        text.append("\n" + " · ".join(flags), style="dim")
    running = active_words(view, step)
    if running is not None:
        text.append("\n")
        text.append_text(running)
    return text


LEGEND = "▶ workable · ✔ done · ↷ skipped · ! critical · ◆ decision"


def left_undone_lines(view: RunbookView, width: int) -> list[Text]:
    """In a rollback: the main runbook's steps skipped, failed or never finished before it
    (a skipped "stop the feed" may mean the feed still runs)."""
    state = view.state
    if not state.rollback_active:
        return []
    groups: dict[str, list[str]] = {"skipped": [], "failed": [], "not done": []}
    for step in view.plan.runbook.all_steps():
        st = state.steps.get(step.id)
        status = status_value(st.status if st else "pending")
        key = {"skipped": "skipped", "failed": "failed", "done": None}.get(status, "not done")
        if key:
            groups[key].append(step.id)
    lines = [Text("before the rollback:", style="bold", end="")]
    for word, ids in groups.items():
        if ids:
            line = Text(f"  {word}: ", style="bold" if word != "not done" else "", end="")
            line.append(" ".join(ids))
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
    return lines if len(lines) > 1 else []


def held_up_lines(view: RunbookView, rows: int, width: int) -> list[Text]:
    """At most ``rows`` lines: each gate that is not GO with the steps it holds up."""
    if view.blocking is None or rows < 2:
        return []
    held = blocked_steps(view.plan, view.state, view.gates, view.blocking)
    if not held:
        return []
    lines = [Text("not GO, holding up:", style="bold", end="")]
    room = rows - 1
    for n, (gid, steps) in enumerate(held):
        if n == room - 1 and len(held) > room:
            lines.append(Text(f"  +{len(held) - n} more gates (g: details)", style="dim", end=""))
            break
        word, style = short_word(view.gates.get(gid))
        line = Text("  ", end="")
        line.append(word, style=style)
        line.append(" ")
        line.append_text(safe(gid, 60))
        line.append(" → ")
        line.append(" ".join(steps))
        line.truncate(width, overflow="ellipsis")
        lines.append(line)
    return lines


class RunbookPanel(Widget):
    """Draws the phase of the selected step; scrolls so the selection stays visible."""

    DEFAULT_CSS = "RunbookPanel { height: 1fr; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.view: RunbookView | None = None

    def show(self, view: RunbookView) -> None:
        self.view = view
        plan, state = view.plan, view.state
        phases = plan.runbook.rollback.phases if state.rollback_active else plan.runbook.phases
        phase = next((p for p in phases if any(s.id == view.selected for s in p.steps)), None)
        phase = phase or next((p for p in phases if p.id == state.phase), phases[0])
        self._phase = phase
        where = "ROLLBACK · " if state.rollback_active else ""
        index = [p.id for p in phases].index(phase.id) + 1
        # Border titles given as a str are parsed as markup (an operator named
        # "[@click=app.quit]x" would become a clickable action): build plain Text only.
        title = Text(f"Runbook · {where}", end="")
        title.append_text(safe(phase.title, 60))
        title.append(f" · phase {index} of {len(phases)}")
        self.border_title = title
        # What the row symbols mean (the last action is in the header, where toasts never go).
        self.border_subtitle = LEGEND
        self.refresh()

    def render(self) -> Text:
        if self.view is None:
            return Text("loading…", style="dim")
        width = max(40, self.content_size.width or self.size.width)
        height = max(1, self.content_size.height or self.size.height)
        detail = selected_detail(self.view)
        detail_lines = detail.plain.count("\n") + 1
        steps = list(self._phase.steps)
        room = max(1, height - detail_lines - 1)
        sel = next((i for i, s in enumerate(steps) if s.id == self.view.selected), 0)
        top = 0 if len(steps) <= room else min(max(0, sel - room // 2), len(steps) - room)
        out = Text(end="")
        for i, step in enumerate(steps[top:top + room]):
            if i:
                out.append("\n")
            out.append_text(step_row(self.view, step, width))
        shown = min(room, len(steps) - top)
        free = height - shown - detail_lines  # rows between the steps and the detail
        # The extra lines go there below a blank row; the detail keeps the bottom rows, each
        # line of it on its own row.
        extra = left_undone_lines(self.view, width)
        extra = extra if len(extra) <= free - 1 else []
        extra += held_up_lines(self.view, free - 1 - len(extra), width)
        if extra:
            out.append("\n")
            for line in extra:
                out.append("\n")
                out.append_text(line)
            free -= len(extra) + 1
        out.append("\n" * max(1, free + 1))
        out.append_text(detail)
        return out
