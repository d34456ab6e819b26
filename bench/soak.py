"""Soak: the real ``cockpit demo`` in a tmux pane for a configurable time; prints its resident
memory and CPU over time, then how long ``q`` takes to give the prompt back.

  .venv/bin/python bench/soak.py [--minutes 60] [--every 60] [--size 80x24] [--keys]
                                 [--run PLAN [--operator NAME]]

Every ``--every`` seconds it samples the cockpit process's VmRSS (``/proc/PID/status``) and the
CPU it used since the previous sample (utime+stime from ``/proc/PID/stat``), as a share of one
core. With ``--keys`` it also moves the cursor and opens/closes help once per sample, so the
night is not only idle refreshes. ``--run PLAN`` soaks ``cockpit run PLAN`` instead of the demo
(a copy of the demo plan beside a long journal: the night's last hours, on a journal of
100,000 entries). A cutover night is 8 hours; run at least 60 minutes before
calling TUI work done. Figures are measured on a shared machine: read the median and the slope.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = ROOT / ".venv" / "bin" / "cockpit"
TICKS = os.sysconf("SC_CLK_TCK")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def cockpit_pid(pane_pid: int) -> int:
    """The cockpit's own process: the pane runs it through ``exec``, but a wrapper may sit in
    between, so take the newest descendant whose command line names ``cockpit``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if b"cockpit" in cmd and b"demo" in cmd and (ppid == pane_pid or int(entry.name) == pane_pid):
                found.append(int(entry.name))
        if found:
            return max(found)
        time.sleep(0.2)
    raise SystemExit("soak: the cockpit process did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("soak: no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--every", type=float, default=60, help="seconds between samples")
    ap.add_argument("--size", default="80x24")
    ap.add_argument("--keys", action="store_true", help="press keys between samples")
    ap.add_argument("--run", type=Path, metavar="PLAN", help="soak `cockpit run PLAN`, not the demo")
    ap.add_argument("--operator", default="demo.lead", help="with --run: who runs it")
    args = ap.parse_args()
    if shutil.which("tmux") is None or not COCKPIT.exists():
        raise SystemExit("soak: needs tmux and .venv/bin/cockpit")
    cols, rows = args.size.split("x")
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    session = f"soak-{uuid.uuid4().hex[:8]}"
    command = f"exec {COCKPIT} demo --journal {tmp / 'demo.journal'}"
    if args.run is not None:
        command = (f"cd {args.run.resolve().parent} && COCKPIT_OPERATOR={args.operator} "
                   f"exec {COCKPIT} run {args.run.name}")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", cols, "-y", rows, command)
    try:
        pane_pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        pid = cockpit_pid(pane_pid)
        time.sleep(5)  # let the first screen settle before the first sample
        start = time.monotonic()
        last_t, last_cpu = start, cpu_s(pid)
        samples: list[tuple[float, float, float]] = []
        print(f"soak: cockpit {'run ' + str(args.run) if args.run else 'demo'} pid {pid} in tmux {args.size}, {args.minutes:g} min, "
              f"sample every {args.every:g}s{' with keys' if args.keys else ''}")
        print(f"{'minute':>7} {'RSS MB':>8} {'CPU %core':>10}")
        print(f"{0:7.1f} {rss_mb(pid):8.1f} {'-':>10}", flush=True)
        while time.monotonic() - start < args.minutes * 60:
            if args.keys:
                for key in ("Down", "Down", "Up", "?"):
                    tmux("send-keys", "-t", session, key)
                time.sleep(1)
                tmux("send-keys", "-t", session, "Escape")
            time.sleep(max(0.0, args.every - (time.monotonic() - last_t)))
            now, used = time.monotonic(), cpu_s(pid)
            share = 100 * (used - last_cpu) / (now - last_t)
            samples.append(((now - start) / 60, rss_mb(pid), share))
            last_t, last_cpu = now, used
            print(f"{samples[-1][0]:7.1f} {samples[-1][1]:8.1f} {share:10.1f}", flush=True)
        quit_t = time.monotonic()
        tmux("send-keys", "-t", session, "q")
        while Path(f"/proc/{pid}").exists() and time.monotonic() - quit_t < 60:
            time.sleep(0.05)
        quit_s = time.monotonic() - quit_t
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if samples:
        first, last = samples[0], samples[-1]
        slope = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
        print(f"RSS first {first[1]:.1f} MB, last {last[1]:.1f} MB, slope {slope:+.2f} MB/min; "
              f"CPU median {statistics.median(s[2] for s in samples):.1f}% of a core; "
              f"quit returned in {quit_s:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
