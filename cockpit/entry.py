"""The console script's entry: the interrupt handling is in place before anything else runs.

A Ctrl-C while the interpreter is still importing (argparse, pydantic, the verb's module) must
be one line and exit 130, never a traceback out of whatever import it landed in. Nothing is
open yet at that point (no journal, no connection), so the startup handler may end the process
at once. ``cockpit.cli.main`` hands SIGINT back to Python's own handler just before it runs
the verb, whose ``KeyboardInterrupt`` handling (and the TUI's keys) then apply as usual.
"""

import os
import signal


def _interrupted_while_starting(signum, frame):  # noqa: ARG001 - the signal handler signature
    os.write(2, b"cockpit: interrupted\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_starting)
# A SIGINT sent before this point and held back by an inherited signal mask arrives now, here.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def main() -> int:
    from cockpit.cli import main as cli_main

    return cli_main()
