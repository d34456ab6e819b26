"""Engine benchmark: 200 HTTP signals at 1 s against a loopback server, one of them hung.

    .venv/bin/python bench/engine.py [--signals 200] [--duration 60] [--no-hang] [--sources 1]

The server runs in a separate process (so its CPU is not counted) on 127.0.0.1 and answers
``GET /s/<n>`` with ``{"value": n}`` at once; ``GET /hang`` is read and never answered. The
engine runs here with the real clock. Printed figures (all measured, none assumed):

- CPU of this process during the run (user + system), as a share of one core.
- Scheduling delay: how late each poll started against its planned time (max over signals
  other than the hung one), from ``Engine.lateness``.
- Reading latency of the other signals (p50 / p99 / max), polls made versus planned, errors.
- RSS of this process after the first third and at the end of the run.

Run it once with and once with ``--no-hang`` to see what the hung source costs the others.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# -- the loopback server (child process) ------------------------------------------------------
async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode("ascii", "replace")
            if path == "/hang":
                await reader.read()  # until the client gives up and closes
                return
            body = json.dumps({"value": int(path.rsplit("/", 1)[-1] or 0)}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _serve(max_s: float) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        # Bounded: the server stops by itself even if the parent dies without killing it.
        await asyncio.sleep(max_s)


def start_server(max_s: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--duration", str(max_s)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


# -- the plan --------------------------------------------------------------------------------
def plan_yaml(port: int, n: int, n_sources: int, hang: bool, simulated: bool) -> str:
    lines = [
        "version: 1",
        "cutover: {id: bench, name: Engine bench, journal: journal.jsonl,",
        "          window: {start: 2026-11-28T22:00:00Z, end: 2026-11-29T06:00:00Z}}",
        "operators: {roles: {lead: {}}, people: [{name: b.lead, role: lead}]}",
        "sources:",
    ]
    for s in range(n_sources):
        if simulated:
            lines.append(f"  src{s}: {{type: simulated, seed: {s}}}")
        else:
            lines.append(f"  src{s}: {{type: http, url: 'http://127.0.0.1:{port}', timeout: 3s}}")
    lines.append("signals:")
    for i in range(n):
        src = f"src{i % n_sources}"
        path = "/hang" if (hang and i == 0) else f"/s/{i}"
        spec = f"simulate: {{base: {i}}}" if simulated else f"path: '{path}', json_path: '$.value'"
        lines.append(f"  s{i:03d}: {{source: {src}, every: 1s, timeout: 3s, history: 720, {spec}}}")
    lines.append("gates:")
    for g in range(0, n, 10):  # one gate per ten signals: evaluation is part of the cost
        expr = " and ".join(f"s{i:03d} < 100000" for i in range(g, min(n, g + 10)))
        lines.append(f"  g{g:03d}: {{expr: '{expr}', hold_for: 10s, max_staleness: 5s}}")
    lines += [
        "runbook:",
        "  phases: [{id: p, title: P, steps: [{id: S1, title: s, owner: lead, planned: 1m}]}]",
        "  rollback: {phases: [{id: r, title: R, steps: [{id: R1, title: r, owner: lead, planned: 1m}]}]}",
    ]
    return "\n".join(lines) + "\n"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(args) -> None:
    from cockpit.clock import RealClock
    from cockpit.config import load_plan
    from cockpit.engine import Engine

    simulated = args.simulated
    hang = not args.no_hang
    server, port = (None, 0) if simulated else start_server(args.duration + 60)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plan.yaml"
            path.write_text(plan_yaml(port, args.signals, args.sources, hang, simulated))
            plan, _ = load_plan(path, for_run=True)
            clock = RealClock()
            engine = Engine(plan, clock)
            if simulated and hang:
                engine.sources["src0"].set_override("s000", hang=True)
            cpu0, wall0 = time.process_time(), time.monotonic()
            await engine.start()
            await asyncio.sleep(args.duration / 3)
            rss_third = rss_mib()
            await asyncio.sleep(args.duration - args.duration / 3)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            rss_end = rss_mib()
            await engine.stop()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)

    others = [n for n in plan.signals if not (hang and n == "s000")]
    late = [engine.lateness.get(n, float("nan")) for n in others]
    latencies = [r.latency_ms for n in others for r in engine.history(n) if r.latency_ms is not None]
    errors = sum(1 for n in others for r in engine.history(n) if not r.ok)
    polls = [len(engine.history(n)) for n in others]
    planned = int(wall) + 1
    hung = engine.history("s000") if hang else ()
    ru = resource.getrusage(resource.RUSAGE_SELF)

    print(f"engine bench: {args.signals} signals on {args.sources} source(s), every 1s, "
          f"{wall:.1f}s, {'one hung (s000)' if hang else 'none hung'}")
    if simulated:
        why = "as asked" if args.simulated else "no 'http' source client installed"
        print(f"  NOTE: simulated source ({why}); the hang is an override that never answers")
    else:
        print(f"  loopback HTTP server on 127.0.0.1:{port} (separate process, CPU not counted)")
    print(f"  engine CPU            {cpu:.2f}s over {wall:.1f}s = {100 * cpu / wall:.1f}% of one core")
    print(f"  scheduling delay      max {1000 * max(late):.1f} ms, p99 {1000 * pct(late, 99):.1f} ms "
          f"(poll start vs planned, over the {len(others)} other signals)")
    print(f"  reading latency       p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms, "
          f"max {max(latencies):.1f} ms ({len(latencies)} readings)")
    print(f"  polls per signal      min {min(polls)}, max {max(polls)} (about {planned} planned); "
          f"errors {errors}")
    if hang:
        reasons = sorted({r.error for r in hung})
        print(f"  hung signal           {len(hung)} readings: {', '.join(map(str, reasons))}")
    states = {}
    for status in engine.gates.values():
        states[status.label()] = states.get(status.label(), 0) + 1
    print(f"  gates at the end      {states}")
    print(f"  RSS                   {rss_third:.1f} MiB after {args.duration / 3:.0f}s, "
          f"{rss_end:.1f} MiB at the end (max RSS {ru.ru_maxrss / 1024:.1f} MiB)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--signals", type=int, default=200)
    p.add_argument("--sources", type=int, default=1, help="HTTP sources the signals are spread over")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--no-hang", action="store_true", help="baseline: no hung signal")
    p.add_argument("--simulated", action="store_true",
                   help="simulated source instead of HTTP: the engine's own cost, without I/O")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        asyncio.run(_serve(args.duration))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
