"""The PostgreSQL fixture itself: real servers, real psycopg connections."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from tests.fixtures import pg as pgmod
from tests.fixtures.pg import (
    PG_MISSING_MESSAGE,
    PgCluster,
    PgDatabase,
    PgFactory,
    pid_alive,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def test_connect_and_query(pg_cluster: PgCluster) -> None:
    with psycopg.connect(pg_cluster.dsn()) as conn:
        user, version, db = conn.execute(
            "SELECT current_user, current_setting('server_version_num')::int, current_database()"
        ).fetchone()
    assert (user, db) == ("postgres", "postgres")
    assert version >= 150000
    assert pg_cluster.host == "127.0.0.1"
    assert f"port={pg_cluster.port}" in pg_cluster.dsn()
    assert pg_cluster.scalar("SHOW wal_level") == "logical"
    assert pg_cluster.scalar("SHOW fsync") == "off"
    assert pg_cluster.scalar("SHOW listen_addresses") == "127.0.0.1"
    assert pg_cluster.execute("SELECT 1 UNION ALL SELECT 2") == [(1,), (2,)]
    assert pg_cluster.execute("CREATE TABLE t (x int)") == []


def test_server_runs_unprivileged(pg_cluster: PgCluster) -> None:
    uid = _uid_of(pg_cluster.pid)
    assert uid != 0
    if os.geteuid() == 0:
        assert pwd.getpwuid(uid).pw_name in ("postgres", "nobody")
    assert pg_cluster.datadir.stat().st_uid == uid


def test_stop_start_and_processes_gone(pg_cluster: PgCluster) -> None:
    pg_cluster.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    port, postmaster = pg_cluster.port, pg_cluster.pid
    pids = pg_cluster.process_pids()
    assert len(pids) > 3, "expected background workers under the postmaster"

    pg_cluster.stop()

    assert pg_cluster.pid is None and not pg_cluster.running
    assert [p for p in pids if pid_alive(p)] == []
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_cluster.dsn(), connect_timeout=2)

    pg_cluster.start()
    assert pg_cluster.port == port
    assert pg_cluster.pid not in (None, postmaster)
    assert pg_cluster.scalar("SELECT x FROM kept") == 42


def test_restart_keeps_port_and_data(pg_cluster: PgCluster) -> None:
    pg_cluster.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
    port, old = pg_cluster.port, pg_cluster.pid
    pg_cluster.restart()
    assert not pid_alive(old)
    assert pg_cluster.port == port
    assert pg_cluster.scalar("SELECT x FROM kept") == 7


def test_port_collision_is_retried(pg_factory: PgFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = pgmod.free_port
        monkeypatch.setattr(pgmod, "free_port", lambda: next(ports, None) or real_free_port())
        cluster = pg_factory.create()
    assert cluster.port != taken
    assert cluster.scalar("SELECT 1") == 1


def test_factory_cleanup_stops_everything(pg_bindir: Path, pg_template: Path) -> None:
    factory = PgFactory(pg_bindir, template=pg_template)
    a, b = factory.create(), factory.create()
    pids = a.process_pids() + b.process_pids()
    base = factory.base
    factory.cleanup()
    assert [p for p in pids if pid_alive(p)] == []
    assert not base.exists()


def test_postmaster_dies_with_killed_test_process(
    pg_bindir: Path, pg_template: Path, pg_factory: PgFactory
) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tests.fixtures.pg import PgFactory
        f = PgFactory(Path({str(pg_bindir)!r}), template=Path({str(pg_template)!r}))
        c = f.create()
        print(c.pid, f.base, flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        pid_text, base_text = child.stdout.readline().split()
        postmaster, base = int(pid_text), Path(base_text)
        assert pid_alive(postmaster)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    wait_until(lambda: not pid_alive(postmaster), 10, "orphaned postmaster to die")
    # The next session sweeps directories whose owner died; live owners' directories stay.
    long_ago = time.time() - 3600
    for d in (base, pg_factory.base):
        os.utime(d, (long_ago, long_ago))
    pgmod._sweep_stale(base.parent)
    assert not base.exists()
    assert pg_factory.base.exists()


@pytest.mark.parametrize(
    ("insert_lsn", "record_end"),
    [
        ("0/3000028", "0/3000000"),  # segment start: long page header
        ("0/3002018", "0/3002000"),  # page start: short page header
        ("1/2002018", "1/2002000"),
        ("0/3002020", "0/3002020"),  # mid-page: unchanged
        ("0/3000018", "0/3000018"),  # inside a long header: not a short one
    ],
)
def test_insert_lsn_as_record_end(insert_lsn: str, record_end: str) -> None:
    assert pgmod.insert_lsn_as_record_end(insert_lsn) == record_end


def test_missing_binaries_fail_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgmod, "find_pg_bindir", lambda: None)
    with pytest.raises(pytest.fail.Exception) as info:
        pgmod.require_pg_bindir()
    assert info.value.msg == PG_MISSING_MESSAGE
    assert "\n" not in PG_MISSING_MESSAGE
    assert info.value.pytrace is False


def test_shared_cluster_databases_are_isolated(pg_db: PgDatabase, pg_shared: PgCluster) -> None:
    pg_db.execute("CREATE TABLE mine (x int)")
    other = pg_shared.create_database()
    try:
        assert pg_db.scalar("SELECT to_regclass('mine') IS NOT NULL") is True
        assert pg_shared.scalar("SELECT to_regclass('mine') IS NOT NULL", dbname=other) is False
        with psycopg.connect(pg_db.dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (pg_db.name,)
    finally:
        pg_shared.drop_database(other)


@pytest.fixture
def replicated(pg_factory: PgFactory) -> tuple[PgCluster, PgCluster]:
    return pg_factory.primary_with_standby()


def _visible(cluster: PgCluster, sql: str) -> bool:
    try:
        return bool(cluster.scalar(sql))
    except psycopg.errors.UndefinedTable:
        return False


def test_table_replicates_to_standby(replicated: tuple[PgCluster, PgCluster]) -> None:
    primary, standby = replicated
    assert standby.scalar("SELECT pg_is_in_recovery()") is True
    assert primary.scalar("SELECT count(*) FROM pg_stat_replication") == 1

    primary.execute("CREATE TABLE patients_map (id int primary key)")
    primary.execute("INSERT INTO patients_map SELECT generate_series(1, 100)")
    wait_until(
        lambda: _visible(standby, "SELECT count(*) = 100 FROM patients_map"),
        10,
        "rows on the standby",
    )
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        standby.execute("INSERT INTO patients_map VALUES (0)")


def test_replay_pause_falls_behind_and_resume_catches_up(
    replicated: tuple[PgCluster, PgCluster],
) -> None:
    primary, standby = replicated
    primary.execute("CREATE TABLE ticks (n int)")
    standby.wait_caught_up()

    standby.pause_replay()
    primary.execute("INSERT INTO ticks VALUES (1)")
    target = primary.current_lsn()
    # WAL keeps arriving while paused, so "received but not replayed" is a real lag state.
    wait_until(
        lambda: standby.scalar("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", (target,)),
        10,
        "standby to receive the insert",
    )
    wait_until(
        lambda: standby.scalar("SELECT pg_get_wal_replay_pause_state()") == "paused",
        10,
        "replay to pause",
    )
    assert standby.scalar("SELECT pg_last_wal_replay_lsn() < %s::pg_lsn", (target,)) is True
    assert standby.scalar("SELECT count(*) FROM ticks") == 0

    standby.resume_replay()
    standby.wait_replayed(target, timeout=10)
    assert standby.scalar("SELECT count(*) FROM ticks") == 1


def test_standby_stop_and_start_resumes_streaming(
    replicated: tuple[PgCluster, PgCluster],
) -> None:
    primary, standby = replicated
    pids = standby.process_pids()
    standby.stop()
    assert [p for p in pids if pid_alive(p)] == []
    wait_until(
        lambda: primary.scalar("SELECT count(*) FROM pg_stat_replication") == 0,
        10,
        "walsender to go",
    )

    primary.execute("CREATE TABLE while_down AS SELECT 1 AS x")
    standby.start()
    primary.wait_streaming(standby, timeout=10)
    standby.wait_caught_up(timeout=10)
    assert standby.scalar("SELECT x FROM while_down") == 1


def test_teardown_signal_escalation_reaps_a_stuck_postmaster(pg_cluster: PgCluster) -> None:
    pid = pg_cluster.pid
    # A SIGSTOPped postmaster ignores the fast-shutdown request; stop() must still get rid of it.
    os.kill(pid, signal.SIGSTOP)
    try:
        pg_cluster.stop(timeout=0.2)
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not pid_alive(pid)
