"""What the screen shows when the cockpit itself fails: one line, never a traceback.

Textual's own handling of an error that stops an app prints a rich ``Traceback`` with
``show_locals=True``; the locals of the cockpit's frames hold the plan's commands, DSNs and
headers with their secrets substituted in, and command output that may hold patient data.
``CockpitApp._handle_exception`` hands Textual a :class:`OneLine` instead of the error: Textual
still ends the app its own way (return code 1, the error kept for ``run_test`` to raise, with
the original as its ``__cause__``) but renders only this line, cleaned and redacted.
"""

from __future__ import annotations

from rich.text import Text

from cockpit.tui.safe import shown


class OneLine(Exception):
    def __init__(self, error: BaseException):
        cause = getattr(error, "error", None) or error  # a WorkerFailed wraps the real error
        try:
            detail = f"{type(cause).__name__}: {cause}"
        except Exception:  # noqa: BLE001 - an error whose str() fails still gets its name out
            detail = type(cause).__name__
        super().__init__(shown(detail, 300))
        self.__cause__ = error

    def __rich__(self) -> Text:
        return Text(f"cockpit: internal error, the cockpit stopped: {self}", end="")


def one_line(error: Exception) -> Exception:
    """The error as Textual may render it: Textual's stylesheet diagnostics (their own
    ``__rich__``: the CSS that is wrong, no Python frames) pass; anything else becomes
    :class:`OneLine`."""
    if isinstance(error, OneLine):
        return error
    if hasattr(error, "__rich__") and type(error).__module__.startswith("textual.css"):
        return error
    return OneLine(error)
