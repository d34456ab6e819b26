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
from typing import NoReturn

VERBS = {
    "demo": "the cockpit on a built-in rehearsal, no services needed",
    "run": "open the cockpit on a cutover plan",
    "check": "validate a plan; exit 0, or 2 with every error as file:line:col",
    "gates": "poll once (or keep polling) and print every gate; exit 0 only if all GO",
    "status": "runbook progress replayed from a plan's journal or a journal file",
    "reconcile": "compare source and target databases; exit 0 clean, 1 differences found",
    "journal": "verify, show or initialise the audit journal",
    "report": "write the evidence pack for compliance",
    "rehearse": "run a rehearsal scenario with an accelerated clock",
    "timings": "a journal's step timings: planned vs actual, critical path, time to detect",
    "lab": "local game-day environment on real PostgreSQL",
    "notify": "send a test message to each comms target",
}

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cockpit {version('cutover-cockpit')}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "cockpit (version unknown: the package is not installed)"


class _Version(argparse.Action):
    """``--version``, read from the package metadata only when asked (startup stays fast)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())  # on stdout, as --help is: `cockpit --version | cut -d' ' -f2`
        parser.exit(0)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as the contract says
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _help(verb: str) -> str:
    return VERBS[verb]


OPERATOR_HELP = ("the person of the plan to act as (default: $COCKPIT_OPERATOR, else the person "
                 "your login maps to in operators.people[].logins, else your login name)")
CONFIG_HELP = "the cutover plan (YAML)"
JSON_HELP = "print JSON instead of text"
JOURNAL_OR_PLAN_HELP = ("a journal file, or a plan (.yaml, .yml): its shared journal table "
                        "(cutover.shared_journal) or else its cutover.journal")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cockpit",
        description="cutover cockpit: gates, reconciliation, runbook and audit journal for an EHR cutover.",
        epilog="Exit codes: 0 ok, 1 not GO / differences / journal not intact, 2 bad input.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    verbs: dict[str, argparse.ArgumentParser] = {}  # for errors the top parser finds (below)
    parser.set_defaults(_verbs=verbs)

    def verb(name: str) -> argparse.ArgumentParser:
        verbs[name] = sub.add_parser(name, help=_help(name), description=_help(name))
        return verbs[name]

    p = verb("demo")
    p.add_argument("--journal", metavar="PATH",
                   help="journal file (default: the demo journal under $XDG_STATE_HOME, resumed if present)")
    p.add_argument("--new", action="store_true",
                   help="start a fresh demo journal (the previous one is kept, renamed)")
    p.add_argument("--layout", metavar="NAME", help="layout name (default: chosen by terminal size)")
    p.add_argument("--operator", metavar="NAME", help="operator name (default: demo.lead)")
    p.add_argument("--readonly", action="store_true", help="watch only: open the journal read-only")

    p = verb("run")
    p.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    p.add_argument("--operator", metavar="NAME", help=OPERATOR_HELP)
    p.add_argument("--layout", metavar="NAME", help="layout name (default: chosen by terminal size)")
    p.add_argument("--readonly", action="store_true", help="watch only: open the journal read-only")

    p = verb("check")
    p.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)

    p = verb("gates")
    p.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    p.add_argument("--json", action="store_true",
                   help="a JSON array of gates (with --watch: one JSON object per change)")
    p.add_argument("--watch", action="store_true", help="keep polling and print each change with its time")
    p.add_argument("--no-journal", action="store_true", help="do not record gate changes in the journal")

    p = verb("status")
    p.add_argument("source", metavar="CONFIG|JOURNAL",
                   help="a plan (its shared journal table, or else its cutover.journal, is read) "
                        "or a journal file (.jsonl) read directly")
    p.add_argument("--journal", metavar="PATH", help="with a plan: read this journal instead of the plan's")
    p.add_argument("--json", action="store_true", help="the progress as one JSON object")

    p = verb("reconcile")
    p.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    p.add_argument("--table", metavar="T", action="append", help="only this table (repeatable)")
    p.add_argument("--layer", metavar="L", action="append",
                   help="only this layer: storage, schema, counts, content, domain (repeatable)")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.add_argument("--no-journal", action="store_true", help="do not record findings in the journal")

    p = verb("journal")
    jsub = p.add_subparsers(dest="journal_verb", metavar="ACTION", parser_class=_Parser)
    q = verbs["journal verify"] = jsub.add_parser("verify", help="exit 0 intact (prints the head), 1 with the first bad entry",
                        description="exit 0 intact (prints the head), 1 with the first bad entry")
    q.add_argument("journal", metavar="JOURNAL|CONFIG", help=JOURNAL_OR_PLAN_HELP)
    q.add_argument("--expect-head", metavar="HASH", help="the head recorded elsewhere: HASH, SEQ:HASH or '#SEQ HASH', at least 16 hex digits")
    q.add_argument("--json", action="store_true", help="the result as one JSON object")
    q = verbs["journal show"] = jsub.add_parser("show", help="the timeline, one line per entry",
                        description="the timeline, one line per entry")
    q.add_argument("journal", metavar="JOURNAL|CONFIG", help=JOURNAL_OR_PLAN_HELP)
    q.add_argument("--json", action="store_true", help="one JSON object per entry")
    init_help = ("create the shared journal table in PostgreSQL (printing the SQL), or check the "
                 "one there and change nothing")
    q = verbs["journal init"] = jsub.add_parser("init", help=init_help, description=init_help)
    q.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)

    p = verb("report")
    p.add_argument("source", metavar="JOURNAL|CONFIG", help="a journal file or a plan")
    p.add_argument("--out", metavar="DIR", required=True,
                   help="folder to write the evidence pack into: new, empty, or a previous pack "
                        "(its MANIFEST.sha256 lists exactly its files), replaced whole")
    p.add_argument("--expect-head", metavar="HASH",
                   help="the head recorded elsewhere (as for cockpit journal verify)")
    p.epilog = ("Exit codes: 0 pack written, the journal verifies; 1 pack written, the journal "
                "does NOT verify (said at the top of every file); 2 bad input, nothing written.")

    p = verb("rehearse")
    p.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    p.add_argument("--scenario", metavar="FILE", required=True,
                   help="the scenario file: scripted signals and faults (sample_configs/scenarios/)")
    p.add_argument("--speed", metavar="N", type=float, default=1.0,
                   help="clock speed-up, 0.1 to 1000 (default: 1)")
    p.add_argument("--journal", metavar="PATH",
                   help="rehearsal journal (default: beside the plan's journal, named "
                        "<journal>.rehearsal-<scenario>.jsonl; resumed if present)")
    p.add_argument("--operator", metavar="NAME", help=OPERATOR_HELP)
    p.add_argument("--layout", metavar="NAME", help="layout name (default: chosen by terminal size)")

    p = verb("timings")
    p.add_argument("journal", metavar="JOURNAL", help="the (rehearsal) journal file")
    p.add_argument("--baseline", metavar="JOURNAL", help="compare each step with this rehearsal's journal")
    p.add_argument("--plan", metavar="CONFIG",
                   help="the plan the journal ran (default: the one its rehearsal.start names)")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")

    p = verb("lab")
    _lab_parsers(p, verbs)

    p = verb("notify")
    nsub = p.add_subparsers(dest="notify_verb", metavar="ACTION", parser_class=_Parser)
    q = verbs["notify test"] = nsub.add_parser("test", help="send a test message to each comms target",
                        description="send a test message to each comms target")
    q.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    q.add_argument("--target", metavar="NAME", help="only this comms target")
    return parser


def _lab_parsers(p: argparse.ArgumentParser, verbs: dict[str, argparse.ArgumentParser]) -> None:
    from cockpit.lab.catalog import DEFAULT_DIR, DEFAULT_PATIENTS, FAULTS

    lsub = p.add_subparsers(dest="lab_verb", metavar="ACTION", parser_class=_Parser)

    def action(name: str, text: str, **kwargs) -> argparse.ArgumentParser:
        q = verbs[f"lab {name}"] = lsub.add_parser(name, help=text, description=text, **kwargs)
        q.add_argument("--dir", metavar="DIR", default=DEFAULT_DIR,
                       help=f"folder of the lab (default: ./{DEFAULT_DIR})")
        return q

    q = action("up", "create and start the lab (or start a stopped one); prints its plan's path")
    q.add_argument("--patients", metavar="N", type=int, default=DEFAULT_PATIENTS,
                   help=f"synthetic patients to create (default: {DEFAULT_PATIENTS})")
    q.add_argument("--seed", metavar="N", type=int, default=11, help="data seed (default: 11)")
    q = action("down", "stop everything the lab started (by pid)")
    q.add_argument("--purge", action="store_true", help="also remove the lab folder")
    action("status", "what runs: pids, ports, replication; exit 0 running, 1 not")
    listing = "\n".join(f"  {name:<20}{text}" for name, text in FAULTS.items())
    q = action("fault", "inject a fault into a running lab", epilog="faults:\n" + listing,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("name", metavar="NAME", choices=list(FAULTS), help="the fault (listed below)")
    q.add_argument("--count", metavar="N", type=int,
                   help="how many rows or tickets (faults that take one; default per fault)")


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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the verb's own parser, so the line names the verb
        verbs = args._verbs
        name = " ".join(w for w in (args.verb, getattr(args, "journal_verb", None),
                                    getattr(args, "notify_verb", None),
                                    getattr(args, "lab_verb", None)) if w)
        (verbs.get(name) or verbs.get(args.verb) or parser).error(
            f"unrecognized arguments: {' '.join(extra)}")
    if not args.verb:
        parser.print_help()
        return 2
    if args.verb == "journal" and not args.journal_verb:
        print("cockpit journal: say verify, show or init (see cockpit journal --help)", file=sys.stderr)
        return 2
    if args.verb == "lab" and not args.lab_verb:
        print("cockpit lab: say up, down, status or fault (see cockpit lab --help)", file=sys.stderr)
        return 2
    module_name = args.verb if args.verb != "journal" else f"journal_{args.journal_verb}"
    try:
        _python_handles_sigint()
        # Inside the try: a Ctrl-C during the (slow) imports is an interrupt, not a traceback.
        from cockpit.commands import common

        common.prepare_streams(" ".join(w for w in (args.verb, getattr(args, "journal_verb", None)) if w))
        try:
            module = importlib.import_module(f"cockpit.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cockpit.commands.{module_name}":
                raise
            # A VERBS entry without its module: a packaging fault, said in one line.
            print(f"cockpit {args.verb}: this installation lacks {module_name}", file=sys.stderr)
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
