"""Where the layouts live and which one fits the terminal.

A layout is ``NAME.tcss`` whose rules are scoped by the class ``layout-NAME`` on the main
screen; ``base.tcss`` holds what every layout shares. All files are loaded at start, so
switching layout on resize is a class change, not a stylesheet reload.

The layouts ship inside the package (``cockpit/tui/layouts/``, package data). To edit them
without touching the install, copy that folder, change it, and point the cockpit at it with
``COCKPIT_LAYOUTS=/path/to/folder`` (or ``CockpitApp(layouts_dir=...)``): that folder is used
instead of the packaged one, whole.

Which layout fits (:func:`by_size`), the smallest first:

    compact   80x24 and up: gates, verdict and runbook; the evidence one key away (1-4)
    default   120x35 and up: gates full width (every reason whole), runbook, evidence row
    wide      160x45 and up: gates beside the runbook, evidence and audit below
"""

from __future__ import annotations

import os
from pathlib import Path

MIN_SIZE = (80, 24)
DEFAULT_SIZE = (120, 35)
WIDE_SIZE = (160, 45)
ENV = "COCKPIT_LAYOUTS"

# Used only when the layouts folder is missing (an install without it): plain but whole.
FALLBACK_CSS = """
#top { height: 1fr; }
#gates { height: auto; max-height: 10; border: round $panel; }
#runbook { height: 1fr; border: round $panel; }
#evidence { height: auto; max-height: 10; }
#header { height: 2; }
#verdict { height: 1; }
"""


def packaged_dir() -> Path:
    return Path(__file__).resolve().parent / "layouts"


def layouts_dir() -> Path:
    """The folder in use: ``$COCKPIT_LAYOUTS`` when set, else the packaged layouts."""
    override = os.environ.get(ENV, "").strip()
    return Path(override).expanduser() if override else packaged_dir()


def available(directory: Path | None = None) -> dict[str, Path]:
    directory = directory or layouts_dir()
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.tcss")) if p.stem != "base"}


def css_files(directory: Path | None = None) -> list[Path]:
    directory = directory or layouts_dir()
    base = directory / "base.tcss"
    return ([base] if base.is_file() else []) + list(available(directory).values())


def by_size(width: int, height: int) -> str:
    if width >= WIDE_SIZE[0] and height >= WIDE_SIZE[1]:
        return "wide"
    if width >= DEFAULT_SIZE[0] and height >= DEFAULT_SIZE[1]:
        return "default"
    return "compact"
