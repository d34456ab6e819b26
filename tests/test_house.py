"""The layers of HOUSE.md hold: a plain ``pytest`` fails when one breaks, not only ``.ci/run``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _core() -> list[str]:
    """The core packages and modules, as the headless contract names them (one list)."""
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    (headless,) = [c for c in contracts if "textual" in c.get("forbidden_modules", ())]
    return headless["source_modules"]


def test_import_contracts_hold() -> None:
    # The console script beside this interpreter: the one the test extra installs.
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


# Imports every module of the core with textual and rich made unimportable: a core module that
# needs either, even through a third module or only lazily at import, fails here by name.
_HEADLESS = r"""
import importlib, importlib.abc, pkgutil, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("textual", "rich"):
            raise ImportError(f"{name} imported by the core")
        return None

sys.meta_path.insert(0, Blocked())
names = []
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    names.append(name)
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, name + "."):
            importlib.import_module(info.name)
            names.append(info.name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
assert not leaked, leaked
print(len(names))
"""


def test_core_imports_without_textual_or_rich() -> None:
    core = _core()
    done = subprocess.run([sys.executable, "-c", _HEADLESS, *core], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    # Every package's modules were walked, not just the package names.
    assert int(done.stdout) > len(core) + 40


def test_the_client_table_covers_every_source_type() -> None:
    from cockpit.config.sources import SOURCE_TYPES
    from cockpit.signals.loaders import CLIENTS

    assert set(CLIENTS) == set(SOURCE_TYPES)
