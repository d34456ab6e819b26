"""The key line at the bottom: one widget that draws the screen's keys as text.

Not Textual's ``Footer``: that one rebuilds a widget per key on every bindings change and binds
each to itself with ``data_bind``; the bindings of removed keys are only dropped when the
footer's ``compact`` reactive changes, which never happens, so every rebuild kept the old keys
alive (about 0.3 MB each: opening and closing a modal twice a minute grows the cockpit by tens
of MB over a night). Drawing text keeps nothing between redraws.

Help, quit and gates come first, then the palette, so they show at 80 columns whatever else
fits; a key that cannot act now is drawn in parentheses and dim, which reads without colour.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

FIRST = ("help", "quit", "gates")


class KeyFooter(Static):
    DEFAULT_CSS = """
    KeyFooter { dock: bottom; height: 1; width: 100%; background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def keys(self) -> list[tuple[str, str, bool]]:
        """(key as shown, label, can act now) for each shown action, help/quit/gates first."""
        seen: dict[str, tuple[str, str, bool]] = {}
        palette = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action == "command_palette":
                palette = (self.app.get_key_display(binding), "All keys", bool(enabled))
                continue
            if not binding.show or binding.action in seen:
                continue
            seen[binding.action] = (self.app.get_key_display(binding), binding.description,
                                    bool(enabled))
        first = [seen.pop(a) for a in FIRST if a in seen]
        return first + ([palette] if palette else []) + list(seen.values())

    def render(self) -> Text:
        width = self.size.width or 80
        line = Text(no_wrap=True, overflow="crop", end="")
        for key, label, enabled in self.keys():
            if enabled:
                parts = [(f" {key} ", "bold reverse"), (f" {label} ", "")]
            else:
                parts = [(f" ({key} {label}) ", "dim")]
            if line.cell_len + sum(len(t) for t, _ in parts) > width:
                break
            for text, style in parts:
                line.append(text, style=style)
        return line
