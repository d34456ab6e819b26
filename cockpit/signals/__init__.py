"""Sources and the readings they produce. Nothing here knows about Textual."""

from cockpit.signals.reading import Reading

__all__ = ["Reading"]
