"""The command palette (ctrl+p) lists every operator action, including the ones without a key;
the list is :func:`cockpit.tui.keymap.palette_rows` (only what is possible now is offered)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from cockpit.tui import keymap

if TYPE_CHECKING:  # app.py imports this module: the app's type is for the checker only
    from cockpit.tui.app import CockpitApp

# (title, help, action name): the same actions the keys run, so there is one path.
ACTIONS = keymap.palette_rows()


class CockpitCommands(Provider):
    def _enabled(self):
        main = cast("CockpitApp", self.app).main  # the actions are the main screen's
        for title, help_text, action in ACTIONS:
            if main.possible(action):
                yield title, help_text, partial(main.run_action, action)

    async def discover(self) -> Hits:
        for title, help_text, callback in self._enabled():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._enabled():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
