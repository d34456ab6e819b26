"""Starting and cancelling a reconciliation run: say what will be compared, then ``y``.
Escape (or the Cancel button) answers no and writes nothing."""

from __future__ import annotations

from rich.text import Text

from cockpit.durations import format_duration
from cockpit.rehearsal.scenario import recon_tables
from cockpit.tui.safe import safe
from cockpit.tui.screens.base import AskScreen


def start_text(recon) -> Text:
    text = Text(end="")
    text.append("Compare ")
    text.append_text(safe(recon.source, 60, style="bold"))
    text.append(" with ")
    text.append_text(safe(recon.target, 60, style="bold"))
    text.append(f": {len(recon.tables)} table(s), {len(recon.domain)} domain check(s)")
    if recon.storage is not None:
        text.append(", the storage manifest")
    text.append(f".\nRead-only sessions, at most {recon.max_concurrent} per database, "
                f"statement timeout {format_duration(recon.statement_timeout)}.")
    text.append("\nThe result is journalled (exceptions opened and closed, then recon.run) "
                "when the run ends.", style="dim")
    return text


CANCEL_TEXT = ("Cancel the reconciliation run?\nChecks already running finish; nothing new "
               "starts. What was found is journalled, and a cancelled run never counts as clean.")


def start_screen(recon) -> AskScreen:
    return AskScreen("Run reconciliation", start_text(recon), "Start (y)")


def simulated_text(rehearsal, plan) -> Text:
    tables = recon_tables(rehearsal.scenario, plan)
    text = Text(end="")
    text.append("SIMULATED", style="bold reverse")
    text.append(" reconciliation of scenario ")
    text.append_text(safe(rehearsal.name, 60, style="bold"))
    text.append(f": the scripted results for {len(tables)} table(s) at scenario time "
                f"T+{format_duration(rehearsal.scenario_time())}.")
    text.append("\nNo database is read. Progress, findings and the exception queue work as on "
                "a real run.")
    text.append("\nThe result is journalled as a simulated run (exceptions opened and closed, "
                "then recon.run) when it ends.", style="dim")
    return text


def simulated_start_screen(rehearsal, plan) -> AskScreen:
    return AskScreen("Run simulated reconciliation", simulated_text(rehearsal, plan), "Start (y)")


def cancel_screen() -> AskScreen:
    return AskScreen("Cancel the run?", CANCEL_TEXT, "Cancel the run (y)", "Keep running (esc)")


__all__ = ["CANCEL_TEXT", "AskScreen", "cancel_screen", "simulated_start_screen", "simulated_text",
           "start_screen", "start_text"]
