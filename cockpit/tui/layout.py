"""Where the layouts live and which one fits the terminal.

A layout is ``layouts/NAME.tcss`` whose rules are scoped by the class ``layout-NAME`` on the
main screen; ``base.tcss`` holds what every layout shares. All files are loaded at start, so
switching layout on resize is a class change, not a stylesheet reload.
"""

from __future__ import annotations

from pathlib import Path

import cockpit

MIN_SIZE = (80, 24)
DEFAULT_SIZE = (120, 35)

# Used only when the layouts/ folder is missing (an install without it): plain but whole.
FALLBACK_CSS = """
#top { height: 1fr; }
#gates { height: auto; max-height: 10; border: round $panel; }
#runbook { height: 1fr; border: round $panel; }
#evidence { height: auto; max-height: 10; }
#header { height: 1; }
"""


def layouts_dir() -> Path:
    return Path(cockpit.__file__).resolve().parent.parent / "layouts"


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
    return "default" if width >= DEFAULT_SIZE[0] and height >= DEFAULT_SIZE[1] else "compact"
