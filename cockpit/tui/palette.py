"""The command palette (ctrl+p) lists every operator action, including the ones without a key."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action name): the same actions the keys run, so there is one path.
ACTIONS = [
    ("Confirm step", "confirm the selected step (enter / c)", "confirm"),
    ("Record decision", "GO / NO-GO on the selected decision step (enter / c)", "confirm"),
    ("Skip step", "skip the selected step with a reason code (s)", "skip"),
    ("Fail step", "mark the selected step failed, with a note", "fail"),
    ("Override gate", "override a gate blocking the selected step (o)", "override"),
    ("Run command", "run the selected step's commands (r)", "run"),
    ("Start rollback", "reason code, then type ROLLBACK (b)", "rollback"),
    ("Exception triage", "open exceptions with filters (x)", "triage"),
    ("Add note", "a note in the audit journal (n)", "note"),
    ("Acknowledge set-aside journal lines", "lines a crash left incomplete, moved aside: "
     "say you saw them", "ack_quarantine"),
    ("Run reconciliation", "compare source and target now, with progress (R)", "reconcile"),
    ("Cancel reconciliation", "stop the running reconciliation (R / escape)", "cancel_recon"),
    ("Gate details", "expression, readings with age, window (g)", "gates"),
    ("Select next step", "move the selection to the next step to do", "select_next"),
    ("Help", "keys and symbols (?)", "help"),
    ("Quit", "leave the cockpit (q)", "quit"),
]


class CockpitCommands(Provider):
    def _enabled(self):
        app = self.app
        for title, help_text, action in ACTIONS:
            if app.possible(action):
                yield title, help_text, partial(app.run_action, action)

    async def discover(self) -> Hits:
        for title, help_text, callback in self._enabled():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._enabled():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
