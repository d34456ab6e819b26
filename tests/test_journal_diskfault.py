"""A write that cannot be made durable refuses the action and leaves the state unchanged.

Real faults first: a 64 KiB tmpfs filled up (ENOSPC), an immutable journal file
(``chattr +i``: EPERM on an already-open descriptor) and a read-only bind mount (EROFS). Each
is skipped, saying why, where the machine does not allow it. A failing ``fsync`` cannot be
produced by the kernel here (it needs a failing block device), so that one test injects the
OSError at the ``_fsync`` seam of ``cockpit.journal.file``.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest

import cockpit.journal.file as journal_file
from cockpit.journal import Journal, JournalWriteFailed, verify
from cockpit.runbook import Refused, replay
from tests.test_runbook_rules import PLAN, Cockpit, gates, make_plan


def _sh(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True)


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or _sh("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield mnt
    finally:
        _sh("umount", "-l", str(mnt))


def _plan_in(tmp_path, folder):
    text = PLAN.replace("journal: journal.jsonl", f"journal: {folder}/journal.jsonl")
    return make_plan(tmp_path, text)


def _fill(folder) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_disk_full_refuses_and_state_is_unchanged(tmp_path, tiny_fs):
    plan = _plan_in(tmp_path, tiny_fs)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    _fill(tiny_fs)
    # The journal's last page may still have room: append until the disk says no.
    for _ in range(20):
        before_state, before_head = ck().state, ck.journal.head
        try:
            ck("dba1").note("x" * 1500)
        except Refused as exc:
            refusal = exc
            break
    else:
        pytest.fail("the full disk never refused an append")
    assert isinstance(refusal.__cause__, JournalWriteFailed)
    assert "No space left on device" in str(refusal) or "cut short" in str(refusal)
    assert "NOT recorded" in str(refusal)
    assert ck().state == before_state and ck.journal.head == before_head
    assert len(ck.journal.entries) == before_head[0]
    ck.journal.close()
    (tiny_fs / "filler").unlink()
    # Whatever reached the disk, the next writer finds the acknowledged entries intact.
    with Journal.open(plan.journal_path, cutover_id=plan.cutover.id) as j:
        assert not j.readonly and j.head == before_head
        assert replay(plan, j.entries) == before_state
        set_aside = j.unacknowledged_quarantines()
    # A partial write the disk let through was set aside, loudly: verify fails until then.
    result = verify(plan.journal_path)
    assert result.intact and result.ok == (not set_aside)
    assert all(q.set_aside == () for q in set_aside)  # only bytes of the refused append


def test_disk_full_when_creating_the_journal(tmp_path, tiny_fs):
    _fill(tiny_fs)
    plan = _plan_in(tmp_path, tiny_fs)
    # tmpfs may still create the (empty) file; the first append then fails.
    try:
        ck = Cockpit(plan)
    except JournalWriteFailed as exc:
        assert "cannot open journal" in str(exc)
        return
    with pytest.raises(Refused, match="No space left on device|cut short"):
        ck("dba1").confirm("S1", gates())
    assert ck().state.steps["S1"].status.value == "active" and ck.journal.entries == []


def test_immutable_journal_file_refuses(tmp_path):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    before = ck().state
    if _sh("chattr", "+i", str(plan.journal_path)).returncode:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        with pytest.raises(Refused, match="Operation not permitted"):
            ck("dba1").confirm("S2", gates())
        assert ck().state == before
    finally:
        _sh("chattr", "-i", str(plan.journal_path))
    ck("dba1").confirm("S2", gates())  # nothing reached the disk: the journal goes on
    assert verify(plan.journal_path).count == 2


def test_read_only_mount_refuses_to_open_for_writing(tmp_path):
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    if os.geteuid() != 0 or _sh("mount", "--bind", str(src), str(ro)).returncode:
        pytest.skip("cannot bind-mount here (needs root and mount rights)")
    try:
        if _sh("mount", "-o", "remount,ro,bind", str(ro)).returncode:
            pytest.skip("cannot remount a bind mount read-only here")
        plan = _plan_in(tmp_path, ro)
        with pytest.raises(JournalWriteFailed, match="Read-only file system.*read-only to watch"):
            Cockpit(plan)
        watcher = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, readonly=True)
        assert watcher.entries == []
    finally:
        _sh("umount", "-l", str(ro))
    shutil.rmtree(src)


def test_failed_fsync_is_fatal_for_the_write_and_never_retried(tmp_path, monkeypatch):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    before = ck().state
    size = plan.journal_path.stat().st_size
    calls = []

    def failing_once(fd):
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        os.fsync(fd)

    # Injected: the kernel only fails fsync on a failing device, which tests cannot make here.
    monkeypatch.setattr(journal_file, "_fsync", failing_once)
    with pytest.raises(Refused, match="fsync failed: Input/output error.*NOT recorded.*read-only"):
        ck("dba1").confirm("S2", gates())
    # The write is not retried; the only other fsync makes the withdrawal of the line durable.
    assert len(calls) == 2
    assert ck().state == before and ck.journal.readonly
    monkeypatch.undo()
    with pytest.raises(Refused, match="read-only for this cockpit"):
        ck("dba1").confirm("S2", gates())  # even with a healthy disk: never pretend
    ck.journal.close()
    # What the operator was told was not recorded is not in the file: a restart agrees.
    assert plan.journal_path.stat().st_size == size
    with Journal.open(plan.journal_path, cutover_id=plan.cutover.id) as j:
        assert j.head[0] == 1 and verify(plan.journal_path).ok


def test_fsync_failing_for_good_says_the_action_may_be_on_disk(tmp_path, monkeypatch):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    # Injected, as above. When not even the withdrawal can be made durable, the operator is
    # told the truth: the journal, not the screen, will say what happened.
    monkeypatch.setattr(journal_file, "_fsync", failing_fsync)
    with pytest.raises(Refused, match="may or may not be on disk"):
        ck("dba1").confirm("S2", gates())
    assert ck.journal.readonly
    ck.journal.close()


def test_failed_write_with_nothing_written_keeps_the_journal_writable(tmp_path, monkeypatch):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    before = ck().state

    def failing_write(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    # Injected as well: the real ENOSPC is exercised on tmpfs above when mounting is allowed.
    monkeypatch.setattr(journal_file, "_write", failing_write)
    with pytest.raises(Refused, match="No space left on device"):
        ck("dba1").confirm("S1", gates())
    assert ck().state == before and not ck.journal.readonly
    monkeypatch.undo()
    ck("dba1").confirm("S1", gates())  # space freed: the operator simply tries again
    assert verify(plan.journal_path).count == 1
