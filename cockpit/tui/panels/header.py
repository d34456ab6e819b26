"""Header, two lines, every figure labelled with what it counts toward:

     Before cutover  14:45Z  window opens in 14m (14:59Z), closes 20:59Z  (read-only)
    last: B03 confirmed by j.lindqvist 2m ago  journal: 10 entries, head e57333be  you: demo.lead

Line one: REHEARSAL (and its speed) in reverse video when this is a rehearsal, the phase
(ROLLBACK in reverse video), the time now (UTC), then the cutover clock: before the window
"window opens in …", once the cutover clock started (a ``starts_clock`` phase's first step)
"T+1h02m" since then, and always when the window closes. With a finish forecast
(``cockpit.runbook.forecast``) the window's part says it in words instead: "finish ~05:12Z,
48m before the window closes", or plainly "finish ~07:40Z, 1h40m AFTER the window closes"
(in reverse video); the T+ clock (before the window: when it opens), then the window's end
time follow when the line has room for them. Line two: the
last step action, who and how long ago, the journal's length and head (8 hash characters, to
read out on the bridge), who you are ("you: m.okafor (lead) · identities checked", as much
as fits; ``cockpit.identity``), and the journal file when the line has room for all of it (the audit panel's border always names it). "recording…" shows while an action waits on a slow journal (plain text, no
animation); set-aside journal lines come first, so nothing hides them. A session that may
not write (a login mapped to nobody) starts line two with why, in reverse video. Then the
two-person requests waiting for a second person ("⧗ 2 AWAITING APPROVAL (a)"), on every cockpit,
and the messages the command channel never received ("✉ 1 UNDELIVERED (m)").
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from cockpit.durations import format_duration
from cockpit.tui.safe import safe

DONE_WORDS = {"step.confirm": "confirmed", "step.skip": "skipped", "step.fail": "failed",
              "step.run": "ran its command", "decision.record": "decided"}


def utc(ts: float, now: float | None = None) -> str:
    """14:59Z, with the date when it is not within a day of ``now``."""
    when = datetime.fromtimestamp(ts, tz=UTC)
    if now is not None and abs(ts - now) >= 86400:
        return when.strftime("%Y-%m-%d %H:%MZ")
    return when.strftime("%H:%MZ")


def cutover_clock(state, plan, now: float) -> str:
    """What the clock counts toward, in words."""
    start = plan.cutover.window.start.timestamp()
    end = plan.cutover.window.end.timestamp()
    if state.clock_started_at is not None:
        started = f"T+{format_duration(now - state.clock_started_at)}"
        return f"{started} since {utc(state.clock_started_at, now)}, {window_left(plan, now)}"
    if now < start:
        return (f"window opens in {format_duration(start - now)} ({utc(start, now)}), "
                f"closes {utc(end, now)}")
    return f"window open, {window_left(plan, now)}"


def window_left(plan, now: float) -> str:
    end = plan.cutover.window.end.timestamp()
    if now >= end:
        return f"window closed {format_duration(now - end)} ago ({utc(end, now)})"
    left = end - now
    if left < 86400 * 2:
        return f"closes in {format_duration(left)} ({utc(end, now)})"
    return f"closes {plan.cutover.window.end:%Y-%m-%d}"


def phase_title(plan, state) -> str:
    phases = plan.runbook.rollback.phases if state.rollback_active else plan.runbook.phases
    phase = next((p for p in phases if p.id == state.phase), None)
    return (phase.title or phase.id) if phase is not None else (state.phase or "-")


def last_action(state, now: float) -> Text:
    last = state.last_step_entry
    text = Text("last: ", style="bold", end="")
    if last is None:
        text.append("no step recorded yet", style="")
        return text
    text.append_text(safe(last.subject or "?", 20))
    word = DONE_WORDS.get(last.action, last.action.split(".")[-1])
    data = last.data if isinstance(last.data, dict) else {}
    if last.action == "decision.record" and data.get("call"):
        word = f"decided {data['call']}"
    text.append(f" {word} by ")
    text.append_text(safe(last.actor.operator, 40))
    text.append(f" {format_duration(max(0.0, now - (last.wall or now)))} ago")
    return text


def _at(ts: float, now: float) -> str:
    try:
        return utc(ts, now)
    except (OverflowError, OSError, ValueError):  # a forecast beyond the calendar
        return "never"


def forecast_words(fc, now: float) -> str:
    """The forecast finish and its margin against the window's end, in words (a window that
    closes days after the finish, as the demo's, by its date)."""
    what = "rollback finish" if fc.rollback else "finish"
    margin = fc.margin_s
    if margin >= 2 * 86400:
        return f"{what} ~{_at(fc.finish, now)}, window closes {_at(fc.window_end, now)[:10]}"
    if margin <= -2 * 86400:
        return f"{what} ~{_at(fc.finish, now)}, {int(-margin // 86400)} days AFTER the window closes"
    minutes = format_duration(round(abs(margin) / 60) * 60)
    if margin >= 0:
        return f"{what} ~{_at(fc.finish, now)}, {minutes} before the window closes"
    return f"{what} ~{_at(fc.finish, now)}, {minutes} AFTER the window closes"


def _forecast_part(fc, state, plan, now: float, room: int) -> Text:
    """The forecast words always; then, each when it fits, first the cutover clock ("T+1h02m
    since 22:14Z", or just "T+1h02m"; before the window: when it opens), then the window's
    end time. Shown in reading order: words, end time, clock."""
    text = Text(forecast_words(fc, now), style="bold" if fc.margin_s >= 0 else "bold reverse",
                end="")
    start = plan.cutover.window.start.timestamp()
    clock: tuple[str, ...] = ()
    if state.clock_started_at is not None:
        since = f"  T+{format_duration(now - state.clock_started_at)}"
        clock = (f"{since} since {utc(state.clock_started_at, now)}", since)
    elif now < start:
        clock = (f"  opens in {format_duration(start - now)}",)
    # else the words name the window's end already (by its date)
    end = f" ({utc(plan.cutover.window.end.timestamp(), now)})" if fc.margin_s < 2 * 86400 else ""
    left = room - text.cell_len if room else 1 << 30
    shown_clock = next((c for c in clock if len(c) <= left), "")
    left -= len(shown_clock)
    if end and len(end) <= left:
        text.append(end, style="bold")
    if shown_clock:
        text.append(shown_clock, style="bold")
    return text


def journal_head(state) -> str:
    seq, digest = state.head
    return f"journal: {seq} entr{'y' if seq == 1 else 'ies'}, head {digest[:8]}"


def approvals_part(pending: int) -> Text:
    """The two-person requests waiting for a second person, in reverse video; none: empty."""
    if pending <= 0:
        return Text(end="")
    return Text(f" ⧗ {pending} AWAITING APPROVAL (a) ", style="bold reverse", end="")


def undelivered_part(count: int) -> Text:
    """Messages the command channel never received (notify dead letters), in reverse video:
    the people following the channel do not know what it failed to say."""
    if count <= 0:
        return Text(end="")
    return Text(f" ✉ {count} UNDELIVERED (m) ", style="bold reverse", end="")


def identity_part(identity, room: int | None = None) -> Text:
    """Who this cockpit acts as and which identity rule holds, the longest wording that fits
    ``room`` cells (None: the longest): "m.okafor (lead) · identities checked", "demo.lead ·
    anyone may act (no operators.people)"; a session that may not write says why instead
    ("read-only: login bob maps to nobody in operators.people (logins)")."""
    if not identity.may_write:
        return safe(identity.summary()[0], 120, style="bold reverse")
    options = identity.summary()
    parts = [safe(o, 120) for o in options]
    words = next((p for p in parts if room is None or len("you: ") + p.cell_len <= room),
                 parts[-1])
    return Text("you: ", end="") + words


# How long every cockpit's header tells of a local-mode journal merged into the shared one
# (it stays in the journal, ``cockpit journal show`` and the audit panel for good).
MERGE_NOTICE_S = 3600.0


def merge_notice(state, now: float) -> str | None:
    """The newest local-mode merge recorded in the last hour, in words ("merged 4 entries
    made in LOCAL MODE by j.doe 22:14-22:31Z: reason; 1 conflict"), or None."""
    merges = [m for m in state.local_merges if now - m.at < MERGE_NOTICE_S]
    if not merges:
        return None
    more = f" (+{len(merges) - 1} more)" if len(merges) > 1 else ""
    return merges[-1].words() + more


def header_text(plan, state, operator: str, now: float, readonly: bool = False,
                recording: bool = False, quarantined: int = 0, journal_path=None,
                width: int = 0, forecast=None, rehearsal: str | None = None,
                pending: int = 0, identity=None, link: str | None = None,
                undelivered: int = 0, notice: str | None = None) -> Text:
    """``forecast``: a ``cockpit.runbook.forecast.Forecast`` or None; ``rehearsal``: the
    words shown first in reverse video whenever given (e.g. "REHEARSAL 10x"); ``pending``:
    how many two-person requests wait for a second person (``RunbookState.pending(now)``);
    ``identity``: the session's ``cockpit.identity.Identity`` (None: just the operator's
    name). A session that may not write starts line two with why, so it is never cut off.
    ``link``: why the shared journal's database cannot be reached (``journal.link()``), first
    of all in reverse video: every action is refused until it is back (or, in local mode,
    that it journals locally). ``notice``: a local-mode merge to tell (``merge_notice``),
    right after, in bold: it was not seen live. ``undelivered``: the notify outbox's dead
    letters (``Notifier.dead_letters()``)."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if link:
        text.append_text(safe(f" {link} ", 200, style="bold reverse"))
        text.append(" ")
    if notice:
        text.append_text(safe(f"⚑ {notice}", 200, style="bold"))
        text.append(" ")
    if rehearsal:
        text.append(" ")
        text.append_text(safe(rehearsal, 40, style="bold reverse"))
        text.append(" ")
    if quarantined:
        # Journal lines set aside since the last acknowledgement: first, so nothing hides it.
        text.append(f" ⚠ {quarantined} SET-ASIDE LINE{'S' if quarantined > 1 else ''} "
                    "(ctrl+p: acknowledge) ", style="bold reverse")
    text.append_text(approvals_part(pending))
    text.append_text(undelivered_part(undelivered))
    if state.rollback_active:
        text.append(" ROLLBACK ", style="bold reverse")
    else:
        text.append(" ")
        text.append_text(safe(phase_title(plan, state), 40, style="bold"))
        text.append(" ")
    text.append(f" {utc(now)}  ")
    if forecast is not None:
        flags = len("  (read-only)") * readonly + len("  recording…") * recording
        room = max(1, width - text.cell_len - flags) if width else 0
        text.append_text(_forecast_part(forecast, state, plan, now, room))
    else:
        text.append(cutover_clock(state, plan, now), style="bold")
    if readonly:
        text.append("  (read-only)", style="bold")
    if recording:
        text.append("  recording…", style="bold")
    text.append("  ")
    text.append_text(safe(plan.cutover.name, 80, style="dim"))

    second = Text(no_wrap=True, overflow="ellipsis", end="")
    if identity is not None and not identity.may_write:
        second.append_text(identity_part(identity))
        second.append("  ")
    second.append_text(last_action(state, now))
    second.append("  ")
    second.append(journal_head(state), style="bold")
    if identity is None:
        second.append("  you: ")
        second.append_text(safe(operator, 24))
    elif identity.may_write:
        second.append("  ")
        second.append_text(identity_part(identity, max(0, width - second.cell_len) if width else None))
    if journal_path is not None:
        path = Text("  journal file ", end="") + safe(journal_path, 300)
        if width and second.cell_len + path.cell_len <= width:  # whole, or not at all
            second.append_text(path)
    text.append("\n")
    text.append_text(second)
    return text


class HeaderBar(Static):
    DEFAULT_CSS = "HeaderBar { height: 2; }"

    def show(self, plan, state, operator: str, now: float, readonly: bool = False,
             recording: bool = False, quarantined: int = 0, journal_path=None,
             forecast=None, rehearsal: str | None = None, pending: int = 0,
             identity=None, link: str | None = None, undelivered: int = 0,
             notice: str | None = None) -> None:
        width = self.content_size.width or self.size.width
        self.update(header_text(plan, state, operator, now, readonly, recording, quarantined,
                                journal_path, width, forecast, rehearsal, pending, identity,
                                link, undelivered, notice))
