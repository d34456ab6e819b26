"""Step-command output benchmark: peak RSS growth and wall time of a step command with a lot of
output, through the runner alone and through the cockpit (the `r` key, Pilot, headless).

  .venv/bin/python bench/step_output.py [--repeat N] [SCENARIO ...]

Each measurement runs in a fresh interpreter. Peak RSS growth: the process's peak resident set
is reset (``/proc/self/clear_refs``) just before the command starts and read (``VmHWM``) after
the run ended and was journalled; the figure is that peak minus the resident set at the start.
Scenarios (``app-*`` ones also run against an older checkout, e.g. with PYTHONPATH=/old/tree,
since they only press keys):
  runner-seq200k   StepRun on `seq 200000` (1.3 MB, 200k lines)
  runner-100mb     StepRun on 100 MB in 1,000,000 lines of 100 bytes
  runner-1line     StepRun on 100 MB in one line (no newline until the end)
  app-seq50k       the cockpit running `seq 50000` in the demo plan's B02
  app-seq200k      the cockpit running `seq 200000`
  app-100mb        the cockpit running the 100 MB / 1,000,000-line command
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH: an older tree given there wins

LINES_100MB = "yes " + "x" * 99 + " | head -c 100000000"
ONE_LINE_100MB = "head -c 100000000 /dev/zero | tr -c x x; echo"
COMMANDS = {
    "runner-seq200k": "seq 200000", "runner-100mb": LINES_100MB, "runner-1line": ONE_LINE_100MB,
    "app-seq50k": "seq 50000", "app-seq200k": "seq 200000", "app-100mb": LINES_100MB,
}


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


async def run_runner(command: str, tmp: Path) -> dict:
    from cockpit.runbook.commands import StepRun

    run = StepRun([command], cwd=tmp, redact=lambda t: t.replace("never-printed", "***"),
                  runs_dir=tmp / "runs", name="bench.log", timeout_s=3600)
    start = rss_kib()
    reset_peak()
    t0 = time.perf_counter()
    result = await run.run()
    elapsed = time.perf_counter() - t0
    assert result.ok, result.problem
    return {"seconds": elapsed, "peak_growth_mib": (rss_kib("VmHWM") - start) / 1024,
            "saved_mb": result.size / 1e6, "lines_held": run.held()[0]}


async def run_app(command: str, tmp: Path) -> dict:
    from textual.widgets import Log

    from cockpit.commands.demo import DEMO_PLAN, seed
    from cockpit.config import load_plan
    from cockpit.session import open_cockpit
    from cockpit.tui.app import CockpitApp

    text = DEMO_PLAN.read_text().replace('"echo checking snapshot catalogue"', f"'{command}'")
    text = text.replace("run_timeout: 30s", "run_timeout: 1h")
    (tmp / "plan.yaml").write_text(text)
    plan, _ = load_plan(tmp / "plan.yaml")
    cockpit = open_cockpit(plan, tmp / "journal.jsonl", "demo.lead")
    seed(cockpit)
    cockpit.ops.confirm("B01", {})
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.selected = "B02"
        start = rss_kib()
        reset_peak()
        t0 = time.perf_counter()
        await pilot.press("r")
        while not any(e.action == "step.run" for e in cockpit.journal.entries[-3:]):
            await asyncio.sleep(0.05)
        await app.writes_settled()
        await pilot.pause()
        elapsed = time.perf_counter() - t0
        peak = rss_kib("VmHWM")
        shown = len(app.screen.query_one(Log).lines)
    cockpit.journal.close()
    return {"seconds": elapsed, "peak_growth_mib": (peak - start) / 1024, "log_lines": shown}


def one(scenario: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        runner = run_runner if scenario.startswith("runner") else run_app
        return asyncio.run(runner(COMMANDS[scenario], Path(tmp)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenarios", nargs="*", default=list(COMMANDS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    for scenario in args.scenarios:
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--one", scenario],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{scenario}: failed: {out.stderr.strip().splitlines()[-1:]}")
                break
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if not runs:
            continue
        extra = {k: v for k, v in runs[-1].items() if k not in ("seconds", "peak_growth_mib")}
        print(f"{scenario:15s} median of {len(runs)}: "
              f"{statistics.median(r['seconds'] for r in runs):7.2f} s, peak RSS growth "
              f"{statistics.median(r['peak_growth_mib'] for r in runs):7.1f} MiB  {extra}")


if __name__ == "__main__":
    main()
