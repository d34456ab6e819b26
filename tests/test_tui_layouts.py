"""The layouts ship inside the package: found there by default, overridable from a folder,
chosen by terminal size, and present in the built wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from cockpit.tui import layout

ROOT = Path(__file__).resolve().parent.parent
NAMES = {"compact", "default", "wide"}


def test_layouts_live_in_the_package():
    here = layout.packaged_dir()
    assert here == ROOT / "cockpit" / "tui" / "layouts"
    assert set(layout.available(here)) == NAMES
    assert layout.css_files(here)[0].name == "base.tcss"
    assert not (ROOT / "layouts").exists(), "one home for the layouts: cockpit/tui/layouts"


def test_a_folder_named_by_the_environment_replaces_them(tmp_path, monkeypatch):
    (tmp_path / "base.tcss").write_text("#header { height: 2; }\n")
    (tmp_path / "compact.tcss").write_text(".layout-compact #gates { height: auto; }\n")
    monkeypatch.setenv(layout.ENV, str(tmp_path))
    assert layout.layouts_dir() == tmp_path
    assert set(layout.available()) == {"compact"}
    assert layout.css_files() == [tmp_path / "base.tcss", tmp_path / "compact.tcss"]
    monkeypatch.delenv(layout.ENV)
    assert layout.layouts_dir() == layout.packaged_dir()


def test_by_size():
    assert layout.by_size(80, 24) == "compact"
    assert layout.by_size(119, 50) == "compact"
    assert layout.by_size(120, 35) == "default"
    assert layout.by_size(160, 44) == "default"
    assert layout.by_size(160, 48) == "wide"


def test_the_built_wheel_contains_the_layouts(tmp_path):
    # A copy of the source, so the build leaves nothing in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "cockpit", src / "cockpit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "wheel"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = out.glob("cutover_cockpit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("base", *sorted(NAMES)):
        assert f"cockpit/tui/layouts/{name}.tcss" in names, sorted(n for n in names if "tui" in n)
