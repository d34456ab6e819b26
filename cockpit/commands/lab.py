"""``cockpit lab up|down|status|fault NAME [--dir DIR] [--patients N]``.

Exit codes: ``up`` 0 (the plan's path on stdout, last line), 2 when the lab already runs
(said in one line, nothing changed) or cannot be made; ``down`` 0; ``status`` 0 when all of
the lab runs, 1 when some or all of it is stopped; ``fault`` 0 once applied. Bad input (an
unknown fault, no lab in the folder, no PostgreSQL binaries): one line on stderr, exit 2.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.commands.common import emit, fail

VERB = "lab"


def main(args) -> int:
    from cockpit.lab.state import LabError

    lab_dir = Path(args.dir)
    try:
        return _ACTIONS[args.lab_verb](args, lab_dir)
    except LabError as exc:
        return fail(f"{VERB} {args.lab_verb}", str(exc))
    except OSError as exc:  # a folder we cannot write, a full disk
        return fail(f"{VERB} {args.lab_verb}", f"{type(exc).__name__}: {exc.strerror or exc}"
                    + (f": {exc.filename}" if exc.filename else ""))


def _up(args, lab_dir: Path) -> int:
    from cockpit.lab import control

    started = control.up(lab_dir, patients=args.patients, seed=args.seed)
    lab = started.lab
    how = "started again" if started.restarted else f"up with {lab.patients} patients"
    emit(f"lab {lab.dir}: {how} in {started.seconds:.1f}s "
         f"(legacy :{lab.legacy.port}, cloud :{lab.cloud.port}, service :{lab.service.port})",
         err=True)
    emit(str(lab.plan_path))
    return 0


def _down(args, lab_dir: Path) -> int:
    from cockpit.lab import control

    lab, stopped = control.down(lab_dir, purge=args.purge)
    what = ", ".join(stopped) if stopped else "nothing was running"
    emit(f"lab {lab.dir}: stopped {what}" + ("; folder removed" if args.purge else ""))
    return 0


def _status(args, lab_dir: Path) -> int:
    from cockpit.lab import control

    lines, running = control.status(lab_dir)
    emit(*lines)
    return 0 if running else 1


def _fault(args, lab_dir: Path) -> int:
    from cockpit.lab import control, faults

    lab = control.running_lab(lab_dir)
    with control.locked(lab.path):
        message = faults.inject(lab, args.name, args.count)
    emit(f"lab fault {args.name}: {message}")
    return 0


_ACTIONS = {"up": _up, "down": _down, "status": _status, "fault": _fault}
