"""Command-line verbs. Each verb parses its flags here and hands off to ``cockpit.commands``.

Exit codes are part of the contract: 0 success, 1 "the answer is no" (a gate not GO, a
difference found, a journal that does not verify), 2 the input was wrong. No traceback ever
reaches the user; an unexpected error is one line on stderr and exit 2... except that a bug
is still a bug, so ``COCKPIT_DEBUG=1`` shows the traceback for developers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

VERBS = {
    "demo": "the cockpit on a built-in rehearsal, no services needed",
    "run": "open the cockpit on a cutover plan",
    "check": "validate a plan; exit 0, or 2 with every error as file:line:col",
    "gates": "poll once (or keep polling) and print every gate; exit 0 only if all GO",
    "status": "runbook progress replayed from the plan's journal",
    "reconcile": "compare source and target databases; exit 0 clean, 1 differences found",
    "journal": "verify, show or initialise the audit journal",
    "report": "write the evidence pack for compliance",
    "rehearse": "run a rehearsal scenario with an accelerated clock",
    "lab": "local game-day environment on real PostgreSQL",
    "notify": "send a test message to each comms target",
}

NOT_BUILT = {
    "report": "the evidence pack",
    "rehearse": "rehearsal scenarios",
    "lab": "the lab environment",
    "notify": "notifications",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as the contract says
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cockpit",
        description="cutover cockpit: gates, reconciliation, runbook and audit journal for an EHR cutover.",
        epilog="Exit codes: 0 ok, 1 not GO / differences / journal not intact, 2 bad input.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    p = sub.add_parser("demo", help=VERBS["demo"], description=VERBS["demo"])
    p.add_argument("--journal", metavar="PATH", help="journal file (default: a new file in a temporary folder)")
    p.add_argument("--layout", metavar="NAME", help="layout name (default: chosen by terminal size)")
    p.add_argument("--operator", metavar="NAME", help="operator name (default: demo.lead)")

    p = sub.add_parser("run", help=VERBS["run"], description=VERBS["run"])
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--operator", metavar="NAME", help="operator name from the plan (default: $COCKPIT_OPERATOR or $USER)")
    p.add_argument("--layout", metavar="NAME", help="layout name (default: chosen by terminal size)")
    p.add_argument("--readonly", action="store_true", help="watch only: open the journal read-only")

    p = sub.add_parser("check", help=VERBS["check"], description=VERBS["check"])
    p.add_argument("config", metavar="CONFIG")

    p = sub.add_parser("gates", help=VERBS["gates"], description=VERBS["gates"])
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--json", action="store_true", help="one JSON object per gate")
    p.add_argument("--watch", action="store_true", help="keep polling and print each change with its time")
    p.add_argument("--no-journal", action="store_true", help="do not record gate changes in the journal")

    p = sub.add_parser("status", help=VERBS["status"], description=VERBS["status"])
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reconcile", help=VERBS["reconcile"], description=VERBS["reconcile"])
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--table", metavar="T", action="append", help="only this table (repeatable)")
    p.add_argument("--layer", metavar="L", action="append",
                   help="only this layer: storage, schema, counts, content, domain (repeatable)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-journal", action="store_true", help="do not record findings in the journal")

    p = sub.add_parser("journal", help=VERBS["journal"], description=VERBS["journal"])
    jsub = p.add_subparsers(dest="journal_verb", metavar="ACTION", parser_class=_Parser)
    q = jsub.add_parser("verify", help="exit 0 intact (prints the head), 1 with the first bad entry")
    q.add_argument("journal", metavar="JOURNAL")
    q.add_argument("--expect-head", metavar="HASH", help="the head recorded elsewhere: HASH, SEQ:HASH or '#SEQ HASH', at least 16 hex digits")
    q.add_argument("--json", action="store_true")
    q = jsub.add_parser("show", help="the timeline, one line per entry")
    q.add_argument("journal", metavar="JOURNAL")
    q.add_argument("--json", action="store_true")
    q = jsub.add_parser("init", help="create the shared journal table in PostgreSQL")
    q.add_argument("config", metavar="CONFIG")

    p = sub.add_parser("report", help=VERBS["report"], description=VERBS["report"])
    p.add_argument("source", metavar="JOURNAL|CONFIG")
    p.add_argument("--out", metavar="DIR", required=True)

    p = sub.add_parser("rehearse", help=VERBS["rehearse"], description=VERBS["rehearse"])
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("--scenario", metavar="FILE", required=True)
    p.add_argument("--speed", metavar="N", type=float, default=1.0)

    p = sub.add_parser("lab", help=VERBS["lab"], description=VERBS["lab"])
    p.add_argument("action", choices=["up", "down", "status", "fault"])
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--dir", metavar="DIR")

    p = sub.add_parser("notify", help=VERBS["notify"], description=VERBS["notify"])
    nsub = p.add_subparsers(dest="notify_verb", metavar="ACTION", parser_class=_Parser)
    q = nsub.add_parser("test", help="send a test message to each comms target")
    q.add_argument("config", metavar="CONFIG")
    q.add_argument("--target", metavar="NAME")
    return parser


def _internal_error(verb: str, exc: BaseException) -> str:
    """One cleaned line. The message may quote a source's or a file's text, or a value from
    the environment (a DSN, a token): every environment value is redacted from it, which is
    more than a plan's own redactor would take out, and the right side to err on here."""
    from cockpit.redact import Redactor
    from cockpit.text import clean

    redact = Redactor(v for v in os.environ.values() if len(v) >= 8)
    return clean(redact(f"cockpit {verb}: internal error: {type(exc).__name__}: {exc}"), 500,
                 single_line=True)


def _python_handles_sigint() -> None:
    """From here on a Ctrl-C is a ``KeyboardInterrupt`` the verb may handle (see
    ``cockpit.entry``, which ends the process at once while it is still starting)."""
    import signal

    entry = sys.modules.get("cockpit.entry")  # never imported here: that would install it
    if entry is not None and signal.getsignal(signal.SIGINT) is entry._interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    if args.verb in NOT_BUILT:
        print(f"cockpit {args.verb}: not built yet ({NOT_BUILT[args.verb]} arrives in a later release)", file=sys.stderr)
        return 2
    if args.verb == "journal" and not args.journal_verb:
        print("cockpit journal: say verify, show or init (see cockpit journal --help)", file=sys.stderr)
        return 2
    module_name = args.verb if args.verb != "journal" else f"journal_{args.journal_verb}"
    try:
        _python_handles_sigint()
        # Inside the try: a Ctrl-C during the (slow) imports is an interrupt, not a traceback.
        from cockpit.commands import common

        common.prepare_streams()
        try:
            module = importlib.import_module(f"cockpit.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cockpit.commands.{module_name}":
                raise
            print(f"cockpit {args.verb}: not built yet", file=sys.stderr)
            return 2
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print(f"cockpit {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # never 0: a cut-off "gates | head" must not read as all GO
        return common.broken_pipe()
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("COCKPIT_DEBUG"):
            raise
        print(_internal_error(args.verb, exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
