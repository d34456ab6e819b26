"""Notify benchmark: what the delivery thread costs beside a long journal, and how fast it
delivers to a loopback webhook.

    .venv/bin/python bench/notify.py [--entries 100000] [--messages 500]

Printed figures (measured, none assumed):

- the idle turn (nothing new in the journal, nothing due) on a journal of ``--entries``
  entries: median and max over 200 turns, and the CPU share of one core the thread's 20
  turns a second would cost;
- scanning ``--messages`` new entries that each make one message (one transaction);
- delivering them to a loopback HTTP server (in this process's threads): messages per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.clock import ManualClock  # noqa: E402
from cockpit.config.loader import load_plan  # noqa: E402
from cockpit.journal import Actor, Journal  # noqa: E402
from cockpit.notify import POLL_S, Notifier  # noqa: E402
from tests.test_runbook_rules import PLAN  # noqa: E402


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the base class's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=500)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_text(PLAN + "notify:\n  targets:\n    chat:\n      type: webhook\n"
                        "      url: \"${HOOK}\"\n      events: [step.fail]\n")
        plan, _ = load_plan(path, env={"HOOK": url})
        clock = ManualClock()
        journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, clock=clock)
        actor = Actor.current("dba1")
        batch = [{"action": "note", "note": "n"}] * 1000
        for _ in range(args.entries // 1000):
            journal.append_many(actor, batch)
        notifier = Notifier(plan, journal, clock)
        notifier.step()
        turns = []
        for _ in range(200):
            t0 = time.perf_counter()
            notifier.step()
            turns.append(time.perf_counter() - t0)
        med = statistics.median(turns)
        print(f"idle turn on {len(journal.entries):,} entries: median {med * 1e6:.0f} us, "
              f"max {max(turns) * 1e6:.0f} us; at one turn per {POLL_S * 1000:.0f} ms: "
              f"{med / POLL_S * 100:.2f}% of one core")
        journal.append_many(actor, [{"action": "step.fail", "subject": "S1", "note": f"x{i}"}
                                    for i in range(args.messages)])
        t0 = time.perf_counter()
        notifier._outbox.scan(notifier._new_entries()[0], clock.now())
        scan = time.perf_counter() - t0
        print(f"scan of {args.messages} entries into {args.messages} messages: {scan * 1000:.1f} ms")
        notifier._index = None
        t0 = time.perf_counter()
        while notifier.counts()["sent"] < args.messages:
            notifier.step()
        took = time.perf_counter() - t0
        print(f"delivered {args.messages} messages to a loopback webhook in {took:.2f} s: "
              f"{args.messages / took:.0f} messages/s (one client per target, each message committed to the outbox)")
        notifier.stop()
        journal.close()
    server.shutdown()


if __name__ == "__main__":
    main()
