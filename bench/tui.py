"""TUI benchmark: keypress-to-screen latency with 100 signals polling and one hung source,
and time from launch to the first complete screen. Prints measured figures.

  .venv/bin/python bench/tui.py [--presses N]

Latency: in a headless ``run_test`` (real clock, the engine polling 100 simulated signals every
second plus one that hangs), time from posting a key event to the app until the compositor
renders the runbook panel with the new selection (the panel's ``render`` is called during the
screen update). ``pilot.pause`` is not used for timing: it waits for the whole process to look
idle, which a cockpit polling 100 signals never does.
Launch: (a) in-process, App start to the first screen with gates and runbook drawn;
(b) wall time of ``cockpit demo`` in a tmux pane at 80x24 until the pane shows the next step.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402

from cockpit.commands.demo import DEMO_PLAN, seed  # noqa: E402
from cockpit.config import load_plan  # noqa: E402
from cockpit.session import open_cockpit  # noqa: E402
from cockpit.tui.app import CockpitApp  # noqa: E402
from cockpit.tui.panels.runbook import RunbookPanel  # noqa: E402


def busy_plan(tmp: Path, n: int = 100) -> Path:
    text = DEMO_PLAN.read_text()
    extra = "".join(
        f"  bench_{i:03d}:\n    source: sim\n    panel: other\n    every: 1s\n    timeout: 2s\n"
        f"    simulate: {{base: {i}, noise: 1}}\n" for i in range(n))
    text = text.replace("signals:\n", "signals:\n" + extra, 1)
    path = tmp / "bench-plan.yaml"
    path.write_text(text)
    return path


async def measure(presses: int) -> tuple[list[float], float]:
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
    plan, _ = load_plan(busy_plan(tmp))
    cockpit = open_cockpit(plan, tmp / "journal.jsonl", "demo.lead")
    seed(cockpit)
    cockpit.engine.sources["sim"].set_override("replication_lag_s", hang=True)
    app = CockpitApp.of(cockpit)
    started = time.perf_counter()
    latencies: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first_screen = time.perf_counter() - started
        panel = app.query_one(RunbookPanel)
        await asyncio.sleep(2.0)  # let every poll loop run and the hung read start
        rendered: dict = {}
        original = panel.render

        def spy():
            result = original()
            want = rendered.get("want")
            if want is not None and panel.view is not None and panel.view.selected == want:
                rendered["at"] = time.perf_counter()
                rendered["event"].set()
            return result

        panel.render = spy
        ids = [s.id for s in plan.runbook.all_steps()]
        for i in range(presses):
            key = "j" if (i // 3) % 2 == 0 else "k"
            current = ids.index(app.selected)
            want = ids[max(0, min(len(ids) - 1, current + (1 if key == "j" else -1)))]
            rendered.update(want=want, event=asyncio.Event(), at=None)
            t0 = time.perf_counter()
            app.post_message(events.Key(key, key))
            await asyncio.wait_for(rendered["event"].wait(), 5)
            latencies.append((rendered["at"] - t0) * 1000.0)
            await asyncio.sleep(0.05)
        polled = sum(1 for name in plan.signals if name in cockpit.engine.latest)
        hung = cockpit.engine.latest.get("replication_lag_s")
    cockpit.journal.close()
    print(f"signals polled: {polled}/{len(plan.signals)}; hung source reading: "
          f"{hung.error if hung else 'none yet'}")
    return latencies, first_screen


def tmux_launch() -> float | None:
    if shutil.which("tmux") is None:
        return None
    name = f"cockpit-bench-{uuid.uuid4().hex[:8]}"
    journal = Path(tempfile.mkdtemp(prefix="cockpit-bench-")) / "j.jsonl"
    cockpit = Path(sys.executable).parent / "cockpit"
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                    f"TERM=xterm-256color {cockpit} demo --journal {journal}"], check=True)
    try:
        deadline = t0 + 20
        while time.perf_counter() < deadline:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                  text=True).stdout
            if "▶ B01" in pane and "Gates" in pane:
                return time.perf_counter() - t0
            time.sleep(0.02)
        return None
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    latencies, first = asyncio.run(measure(args.presses))
    q = statistics.quantiles(latencies, n=100)
    print(f"keypress-to-screen latency over {len(latencies)} presses (100 signals polling, 1 hung): "
          f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, max {max(latencies):.1f} ms  (target p95 < 100 ms)")
    print(f"first screen, in-process (App start -> first complete screen): {first * 1000:.0f} ms")
    tm = tmux_launch()
    if tm is None:
        print("first screen, cockpit demo in tmux: not measured (no tmux or timed out)")
    else:
        print(f"first screen, `cockpit demo` in tmux 80x24 until the pane shows gates and ▶ B01: "
              f"{tm * 1000:.0f} ms  (target < 1500 ms)")


if __name__ == "__main__":
    main()
