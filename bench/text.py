"""Cleaning and redaction benchmark: the two functions every external string goes through.

    .venv/bin/python bench/text.py [--rounds 7]

Prints the median time per call (microseconds) over ``--rounds`` rounds for typical inputs:
an ASCII database error (the common case on the poll path), a non-Latin ticket title, a
hostile string full of escapes and invisible characters, and a 4 KB command output block;
then ``Plan.redact`` on the same error with the sample plan's five secrets set, and
``load_plan`` of the sample plan.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.text import clean  # noqa: E402

ERROR = ("connection to server at \"ehr-legacy-db.stbrigid.internal\" (10.20.30.40), port 5432 "
         "failed: FATAL:  password authentication failed for user \"cockpit_ro\"")
TITLE = "Не открывается карта пациента — 患者カルテが開かない — لا يمكن فتح الملف 😀"
HOSTILE = "\x1b[31mINC\u200b-1\u202e\x9b2J\x1b]0;x\x07\U000e0041 ok\ud800" * 4
OUTPUT = ("line of command output with some numbers 12345 and words\n" * 70)[:4096]


def _median_us(fn, arg, n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            fn(arg)
        times.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cases = [("ascii error, single line", lambda s: clean(s, 300, single_line=True), ERROR, 20000),
             ("non-Latin title", lambda s: clean(s, 120, single_line=True), TITLE, 20000),
             ("hostile text", lambda s: clean(s, 500), HOSTILE, 5000),
             ("4 KB output", lambda s: clean(s, 10000), OUTPUT, 2000)]
    for label, fn, arg, n in cases:
        print(f"clean  {label:<26} {_median_us(fn, arg, n, args.rounds):8.2f} us")
    try:
        from cockpit.config import load_plan
    except ImportError:
        return
    env = {"LEGACY_DB_PASSWORD": "correct horse battery staple", "CLOUD_DB_PASSWORD": "p@ss:w0rd/42",
           "PROM_TOKEN": "tok-prom-1234567890", "JIRA_BASIC_AUTH": "amlyYTp4eHh4eA==",
           "SYNTHETIC_USER_KEY": "k-99999999"}
    sample = Path(__file__).resolve().parent.parent / "sample_configs" / "ehr-cutover.yaml"
    plan, _ = load_plan(sample, env=env)
    plan.redact(ERROR)  # built once, then reused
    hit = ERROR + ' missing "=" after "battery"'
    old = sorted((s for s in env.values() if len(s) >= 4), key=len, reverse=True)

    def whole_values_only(text: str) -> str:  # the rule before cockpit.redact, for reference
        for secret in old:
            text = text.replace(secret, "***")
        return text

    for label, fn in (("redact", plan.redact), ("whole-value replace (old rule)", whole_values_only)):
        print(f"{label}")
        print(f"  ascii error, no secret            {_median_us(fn, ERROR, 20000, args.rounds):8.2f} us")
        print(f"  ascii error with a fragment       {_median_us(fn, hit, 20000, args.rounds):8.2f} us")
        print(f"  4 KB output, no secret            {_median_us(fn, OUTPUT, 2000, args.rounds):8.2f} us")
    load = _median_us(lambda p: load_plan(p, env=env), sample, 5, args.rounds) / 1000
    print(f"load_plan sample plan               {load:8.2f} ms")


if __name__ == "__main__":
    main()
