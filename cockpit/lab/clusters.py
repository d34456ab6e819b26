"""PostgreSQL clusters of a lab: initdb, start and stop from the installed server binaries.

The servers are detached from the command that started them (their own session, no parent
death signal): ``lab up`` returns and they keep running until ``lab down`` stops them by the
pid recorded in ``lab.json``, after checking that the pid still is that cluster's postmaster.
PostgreSQL refuses to run as root, so under root they run as ``postgres`` (or ``nobody``).

Only TCP on 127.0.0.1 with trust authentication: a lab is a local, throwaway thing, and no
password then needs handing around. No Unix socket (its path length limit would make the lab
folder's depth matter).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.lab.state import LabError

HOST = "127.0.0.1"
SUPERUSER = "postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
_TOOLS = ("initdb", "postgres")

# Durability is pointless for synthetic data; logical replication needs wal_level=logical. The
# short intervals let lag and catch-up show within a second or two instead of tens of seconds.
SETTINGS: dict[str, str] = {
    "listen_addresses": f"'{HOST}'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "logical",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "max_logical_replication_workers": "6",
    "max_sync_workers_per_subscription": "4",
    "shared_buffers": "32MB",
    "huge_pages": "off",
    "dynamic_shared_memory_type": "mmap",
    "max_connections": "60",
    "wal_retrieve_retry_interval": "200ms",
    "wal_receiver_status_interval": "1s",
    "wal_sender_timeout": "10s",
    "wal_writer_delay": "10ms",
    "logging_collector": "off",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}

HBA = f"""\
# Written by cockpit lab: trust, loopback TCP only.
host    all             all             {HOST}/32            trust
host    replication     all             {HOST}/32            trust
"""


BINDIR_ENV = "COCKPIT_LAB_PG_BINDIR"


def find_bindir() -> Path | None:
    """The PostgreSQL server binaries: ``$COCKPIT_LAB_PG_BINDIR`` when set (and then only
    there: it picks a version), else PATH, ``pg_config --bindir``, the newest
    ``/usr/lib/postgresql/*/bin``; None when there are none."""
    def usable(d: Path) -> bool:
        return all(os.access(d / t, os.X_OK) for t in _TOOLS)

    chosen = os.environ.get(BINDIR_ENV)
    if chosen:
        return Path(chosen) if usable(Path(chosen)) else None

    postgres = shutil.which("postgres")
    if postgres and shutil.which("initdb"):
        bindir = Path(os.path.realpath(postgres)).parent
        if usable(bindir):
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            if out and usable(Path(out)):
                return Path(out)

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        if usable(candidate):
            return candidate
    return None


@dataclass(frozen=True)
class RunAs:
    """Who the servers run as."""

    uid: int
    gid: int
    name: str
    home: str

    @property
    def switch(self) -> bool:
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.switch else {}

    def chown(self, path: Path) -> None:
        if self.switch:
            os.chown(path, self.uid, self.gid)

    def env(self) -> dict[str, str]:
        # PG* from the shell (PGDATA, PGPORT...) would redirect the tools; C messages keep the
        # log readable whatever the locale.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=self.home or "/", USER=self.name, LOGNAME=self.name)
        return env


def run_as() -> RunAs:
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return RunAs(pw.pw_uid, pw.pw_gid, pw.pw_name, pw.pw_dir)
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(pw.pw_uid, pw.pw_gid, pw.pw_name, pw.pw_dir)
    raise LabError("running as root and no 'postgres' or 'nobody' user exists to run PostgreSQL as "
                   "(create one: useradd --system postgres)")


def check_reachable(path: Path, who: RunAs) -> None:
    """PostgreSQL runs as ``who``: it must be able to enter every folder above its data."""
    if not who.switch:
        return
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid == who.uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == who.gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            raise LabError(f"user {who.name!r} (PostgreSQL does not run as root) cannot enter {p}: "
                           "choose a --dir below folders others may enter")


def initdb(bindir: Path, datadir: Path, who: RunAs) -> None:
    datadir.mkdir(mode=0o700)
    who.chown(datadir)
    cmd = [str(bindir / "initdb"), f"--pgdata={datadir}", f"--username={SUPERUSER}",
           "--auth=trust", "--locale=C", "--encoding=UTF8", "--no-sync", "--no-instructions"]
    done = subprocess.run(cmd, cwd=datadir.parent, env=who.env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, check=False, **who.popen_kwargs())
    if done.returncode != 0:
        tail = " ".join(done.stdout.split())[-200:]
        raise LabError(f"initdb failed for {datadir} (exit {done.returncode}): {tail}")
    with open(datadir / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write("\n# cockpit lab\n" + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items()))
    (datadir / "pg_hba.conf").write_text(HBA, encoding="utf-8")


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect((HOST, port))
        except OSError:
            return False
        return True


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` runs (a zombie is dead: it may never be reaped in a container)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text("ascii", "replace").rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry.name))
    return kids


def is_postmaster_of(pid: int | None, datadir: Path) -> bool:
    """``pid`` is alive and is the postmaster of ``datadir`` (not a reused pid)."""
    if not pid_alive(pid):
        return False
    assert pid is not None
    args = cmdline(pid)
    return bool(args) and Path(args[0]).name == "postgres" and str(datadir) in args


def _pidfile_state(datadir: Path, pid: int) -> str | None:
    # postmaster.pid: line 1 the pid, line 8 the state pg_ctl waits on ("ready").
    try:
        lines = (datadir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[0].strip() != str(pid):
        return None
    return lines[7].strip()


def start(bindir: Path, datadir: Path, port: int, who: RunAs, name: str) -> int | None:
    """Start a postmaster on ``port`` and wait until it accepts connections; its pid, or None
    when the port was taken (the caller picks another). Other failures raise LabError."""
    log_path = datadir.parent / "postgres.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    cmd = [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port),
           "-c", f"cluster_name=lab_{name}"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=datadir.parent, env=who.env(), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                **who.popen_kwargs())
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = _log_since(log_path, offset)
            if "could not bind" in text or "could not create any TCP/IP" in text:
                return None
            tail = " ".join(text.split())[-300:]
            raise LabError(f"{name} PostgreSQL exited {proc.returncode} while starting: {tail}")
        if _pidfile_state(datadir, proc.pid) == "ready":
            return proc.pid
        time.sleep(0.02)
    stop(proc.pid, datadir)
    raise LabError(f"{name} PostgreSQL not ready after {START_TIMEOUT:.0f}s (see {log_path})")


def _log_since(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")[-4000:]
    except OSError:
        return ""


def stop(pid: int | None, datadir: Path, timeout: float = STOP_TIMEOUT) -> None:
    """Fast shutdown of the postmaster ``pid`` of ``datadir`` (then immediate, then SIGKILL);
    returns once it and its children are gone. A pid that is no longer that postmaster is left
    alone: it is somebody else's process now."""
    if not is_postmaster_of(pid, datadir):
        return
    assert pid is not None
    kids = children_of(pid)
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone([pid], wait):
            break
    # Backends end with their postmaster; wait for them too, so the caller sees none left.
    _wait_gone(kids, 10.0)


def _wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop_process(pid: int | None, marker: str, timeout: float = 10.0) -> None:
    """SIGTERM (then SIGKILL) ``pid`` if its command line still contains ``marker``."""
    if not pid_alive(pid) or not any(marker in a for a in cmdline(pid or 0)):
        return
    assert pid is not None
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone([pid], wait):
            return
