"""``lab up``, ``lab down``, ``lab status``: bring a lab folder up, take it down, say what runs.

Everything started is recorded in ``lab.json`` by pid before anything else is done with it, so
a ``lab up`` that fails halfway stops what it started, and ``lab down`` stops exactly those
processes (after checking each pid still is what was started there) and nothing else.
One lab operation at a time per folder (an flock on ``DIR/.lock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cockpit.journal.file import read_holder
from cockpit.lab import clusters, ehr, replication, service, state
from cockpit.lab import plan as lab_plan
from cockpit.lab.catalog import DEFAULT_PATIENTS
from cockpit.lab.state import LAB_FILE, Cluster, Lab, LabError

MAX_PATIENTS = 1_000_000
DEFAULT_SEED = 11
SERVICE_MARKER = "cockpit.lab.service"
SERVICE_TIMEOUT = 30.0
LOCK_FILE = ".lock"
_OURS = (LAB_FILE, state.SERVICE_FILE, state.PLAN_FILE, service.PORT_FILE, "legacy", "cloud",
         "exports", "service.log", LOCK_FILE, "journal")


class LabRunning(LabError):
    """``lab up`` on a lab that already runs: nothing was changed."""


@dataclass(frozen=True)
class Started:
    lab: Lab
    seconds: float
    restarted: bool


@contextlib.contextmanager
def locked(lab_dir: Path) -> Iterator[None]:
    fd = os.open(lab_dir / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LabError(f"another lab command is working on {lab_dir}; try again when it is done") from None
        yield
    finally:
        os.close(fd)


def require(lab_dir: Path) -> Lab:
    found = state.load(lab_dir) if lab_dir.is_dir() else None
    if found is None:
        raise LabError(f"no lab in {lab_dir} (start one: cockpit lab up --dir {lab_dir})")
    return found


def components(lab: Lab) -> dict[str, bool]:
    """What of the lab runs: legacy, cloud, service."""
    return {
        "legacy": clusters.is_postmaster_of(lab.legacy.pid, Path(lab.legacy.datadir)),
        "cloud": clusters.is_postmaster_of(lab.cloud.pid, Path(lab.cloud.datadir)),
        "service": _is_service(lab),
    }


def _is_service(lab: Lab) -> bool:
    pid = lab.service.pid
    return clusters.pid_alive(pid) and any(SERVICE_MARKER in a for a in clusters.cmdline(pid or 0)) \
        and str(lab.path) in clusters.cmdline(pid or 0)


# -- up -------------------------------------------------------------------------------------

def up(lab_dir: Path, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED) -> Started:
    if not 1 <= patients <= MAX_PATIENTS:
        raise LabError(f"--patients must be between 1 and {MAX_PATIENTS:,}, not {patients}")
    lab_dir = lab_dir.expanduser().absolute()
    if lab_dir.exists() and not lab_dir.is_dir():
        raise LabError(f"{lab_dir} is not a folder")
    existing = state.load(lab_dir) if lab_dir.is_dir() else None
    if existing is not None:
        running = components(existing)
        if any(running.values()):
            what = ", ".join(name for name, on in running.items() if on)
            raise LabRunning(f"the lab in {lab_dir} is already up ({what} running); nothing changed. "
                             f"Plan: {existing.plan_path}")
    elif lab_dir.is_dir() and any(p.name not in _OURS for p in lab_dir.iterdir()):
        raise LabError(f"{lab_dir} is not empty and holds no lab: choose another --dir")
    bindir = clusters.find_bindir()
    if bindir is None:
        raise LabError("PostgreSQL server binaries not found (initdb, postgres; "
                       f"${clusters.BINDIR_ENV} if set): install postgresql-15 "
                       "(Debian: apt-get install postgresql-15)")
    who = clusters.run_as()
    created = not lab_dir.exists()
    lab_dir.mkdir(parents=True, exist_ok=True)
    try:
        clusters.check_reachable(lab_dir, who)
        with locked(lab_dir):
            begun = time.monotonic()
            if existing is not None:
                _restart(existing, bindir, who)
                return Started(existing, time.monotonic() - begun, True)
            lab = _create(lab_dir, bindir, who, patients, seed)
            return Started(lab, time.monotonic() - begun, False)
    except BaseException:
        if created and existing is None:
            shutil.rmtree(lab_dir, ignore_errors=True)
        raise


def _create(lab_dir: Path, bindir: Path, who: clusters.RunAs, patients: int, seed: int) -> Lab:
    lab = Lab(dir=str(lab_dir), seed=seed, patients=patients, run_as=who.name,
              legacy=Cluster("legacy", 0, str(lab_dir / "legacy" / "data")),
              cloud=Cluster("cloud", 0, str(lab_dir / "cloud" / "data")))
    try:
        for c in lab.clusters():
            root = Path(c.datadir).parent
            root.mkdir(mode=0o700)
            who.chown(root)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda c: clusters.initdb(bindir, Path(c.datadir), who), lab.clusters()))
        for c in lab.clusters():
            _start_cluster(lab, c, bindir, who)
        now = datetime.now(UTC)
        _populate(lab, now)
        ehr.write_attachments(lab.path / "exports", seed, ehr.generate(seed, patients)["attachments"])
        service.initial_state(lab.path, now)
        _start_service(lab)
        (lab.path / "journal").mkdir(exist_ok=True)
        _write_plan(lab)
        return lab
    except BaseException:
        _stop_all(lab)
        for name in _OURS:
            p = lab.path / name
            if name == LOCK_FILE:
                continue
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        raise


def _restart(lab: Lab, bindir: Path, who: clusters.RunAs) -> None:
    try:
        for c in lab.clusters():
            pid = clusters.start(bindir, Path(c.datadir), c.port, who, c.name)
            if pid is None:
                raise LabError(f"port {c.port} of the {c.name} cluster is taken: "
                               f"free it, or run cockpit lab down --purge --dir {lab.dir}")
            c.pid = pid
            state.save(lab)
        _start_service(lab)
        _write_plan(lab)
    except BaseException:
        _stop_all(lab)
        raise


def _start_cluster(lab: Lab, c: Cluster, bindir: Path, who: clusters.RunAs) -> None:
    for _ in range(10):
        c.port = clusters.free_port()
        pid = clusters.start(bindir, Path(c.datadir), c.port, who, c.name)
        if pid is not None:
            c.pid = pid
            state.save(lab)  # recorded at once: a failure later still stops it
            return
    raise LabError(f"no free port found for the {c.name} cluster")


def _populate(lab: Lab, now: datetime) -> None:
    for c in lab.clusters():
        with replication.connect(c.port, "postgres") as conn:
            conn.execute("create database ehr")
    with replication.connect(lab.legacy.port) as legacy:
        ehr.create_schema(legacy, legacy=True)
        ehr.load(legacy, lab.seed, lab.patients, now)
        replication.publish(legacy)
    with replication.connect(lab.cloud.port) as cloud:
        ehr.create_schema(cloud, legacy=False)
        replication.subscribe(cloud, lab.legacy.port)
        replication.wait_synced(cloud)


def _start_service(lab: Lab) -> None:
    port_file = lab.path / service.PORT_FILE
    with contextlib.suppress(FileNotFoundError):
        port_file.unlink()
    with open(lab.path / "service.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", SERVICE_MARKER, str(lab.path)],
                                cwd=lab.path, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    lab.service.pid, lab.service.port = proc.pid, None
    state.save(lab)
    deadline = time.monotonic() + SERVICE_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"the lab service exited {proc.returncode} while starting "
                           f"(see {lab.path / 'service.log'})")
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            doc = state.read_json(port_file)
            if doc["pid"] == proc.pid and clusters.listening(int(doc["port"])):
                lab.service.port = int(doc["port"])
                state.save(lab)
                return
        time.sleep(0.02)
    raise LabError(f"the lab service did not listen within {SERVICE_TIMEOUT:.0f}s")


def _write_plan(lab: Lab) -> None:
    path = lab.plan_path
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(lab_plan.render(lab), encoding="utf-8")
    os.replace(tmp, path)


# -- down -----------------------------------------------------------------------------------

def _stop_all(lab: Lab) -> None:
    if _is_service(lab):
        clusters.stop_process(lab.service.pid, str(lab.path))
    # Subscriber first: its apply worker would otherwise retry against a stopped publisher.
    for c in (lab.cloud, lab.legacy):
        clusters.stop(c.pid, Path(c.datadir))


def down(lab_dir: Path, purge: bool = False) -> tuple[Lab, list[str]]:
    """Stop what the lab started; with ``purge`` remove the folder. Returns what was stopped."""
    lab_dir = lab_dir.expanduser().absolute()
    lab = require(lab_dir)
    with locked(lab_dir):
        if purge:
            _no_journal_in_use(lab_dir)  # before anything stops: a refusal changes nothing
        running = components(lab)
        _stop_all(lab)
        stopped = [name for name, on in running.items() if on]
        lab.legacy.pid = lab.cloud.pid = lab.service.pid = None
        lab.service.port = None
        state.save(lab)
    if purge:
        shutil.rmtree(lab_dir, ignore_errors=True)
    return lab, stopped


def _no_journal_in_use(lab_dir: Path) -> None:
    """``--purge`` must not pull a journal from under the cockpit writing it (a rehearsal
    keeps its journal in the lab folder, beside the lab plan's): each journal's write lock is
    tried, and a held one is a refusal naming who holds it."""
    for path in sorted((lab_dir / "journal").glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            continue  # not a regular file we can open: not a journal a cockpit holds
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = read_holder(path) or "who is not recorded"
            raise LabError(f"a cockpit is writing the journal {path} ({who}): quit it before "
                           "lab down --purge (lab down without --purge keeps the folder)") from None
        finally:
            os.close(fd)


# -- status ---------------------------------------------------------------------------------

def status(lab_dir: Path) -> tuple[list[str], bool]:
    """Lines describing the lab, and whether all of it runs."""
    lab_dir = lab_dir.expanduser().absolute()
    lab = require(lab_dir)
    running = components(lab)
    lines = [f"lab {lab.dir}: {lab.patients} patients (seed {lab.seed}), PostgreSQL as {lab.run_as}"]
    for c in lab.clusters():
        on = running[c.name]
        lines.append(f"  {c.name:<8} {'running' if on else 'stopped':<8} "
                     f"pid {c.pid if on else '-'}  port {c.port}  127.0.0.1")
    on = running["service"]
    lines.append(f"  {'service':<8} {'running' if on else 'stopped':<8} "
                 f"pid {lab.service.pid if on else '-'}  port {lab.service.port if on else '-'}  "
                 "help desk (jira), prometheus, clinical portal")
    if running["legacy"] and running["cloud"]:
        lines.append(f"  replication  {replication.describe(lab.legacy.port, lab.cloud.port)}")
    else:
        lines.append("  replication  not running")
    faults = ", ".join(sorted(lab.faults)) or "none"
    lines.append(f"  faults   {faults}")
    lines.append(f"  plan     {lab.plan_path}")
    return lines, all(running.values())


def running_lab(lab_dir: Path) -> Lab:
    """The lab in ``lab_dir``, which must be fully up (for faults)."""
    lab = require(lab_dir.expanduser().absolute())
    down_parts = [name for name, on in components(lab).items() if not on]
    if down_parts:
        raise LabError(f"the lab in {lab.dir} is not running ({', '.join(down_parts)} stopped): "
                       f"cockpit lab up --dir {lab.dir}")
    return lab

