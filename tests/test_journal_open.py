"""Opening the journal: only a regular file, never through a link; every new folder durable.

Whoever can write the journal's folder must not choose where the evidence goes (a symbolic
link, even a dangling one), hang the cockpit in open(2) (a FIFO) or have a reader read forever
(``/dev/zero``). Each case is refused at once in one line, by the writer, a read-only open,
``refresh``, ``verify`` and ``show`` alike.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import cockpit.journal.file as journal_file
from cockpit.cli import main as cockpit_main
from cockpit.journal import Actor, Journal, JournalError, JournalNotAFile, verify

CUT = "t-cut"
COCKPIT = [str(Path(sys.executable).parent / "cockpit")]


def _actor() -> Actor:
    return Actor(operator="ann", os_user="ann", host="jump1", ssh_client=None, pid=1, session="s1")


def _in_a_child(path) -> subprocess.CompletedProcess:
    """Writer open, read-only open, verify and show on ``path``, in a child process: a hang
    (the bug: open(2) of a FIFO waits for a peer forever) then fails at the cap instead of
    hanging the suite. Prints one line per attempt."""
    code = (
        "import sys\nfrom cockpit.journal import Journal, JournalError, verify\n"
        "p = sys.argv[1]\n"
        "for name, f in (('writer', lambda: Journal.open(p, cutover_id='t-cut')),\n"
        "                ('readonly', lambda: Journal.open(p, cutover_id='t-cut', readonly=True)),\n"
        "                ('verify', lambda: verify(p))):\n"
        "    try:\n        f(); print(name, 'OPENED')\n"
        "    except JournalError as e:\n        print(name, type(e).__name__, e)\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          timeout=120)


def _refused_everywhere(path, capsys=None) -> None:
    """Refused by every opener, in one line. In a child process when a regression would hang
    or read forever (a FIFO, a device); in this process otherwise (``capsys`` given)."""
    if capsys is None:
        run = _in_a_child(path)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
    else:
        lines = []
        for name, f in (("writer", lambda: Journal.open(path, cutover_id=CUT)),
                        ("readonly", lambda: Journal.open(path, cutover_id=CUT, readonly=True)),
                        ("verify", lambda: verify(path))):
            with pytest.raises(JournalNotAFile) as caught:
                f()
            lines.append(f"{name} JournalNotAFile {caught.value}")
    assert [x.split()[0] for x in lines] == ["writer", "readonly", "verify"], lines
    for line in lines:
        assert line.split()[1] == "JournalNotAFile", line
        assert "not a regular file: refused" in line or "is a directory" in line, line
    for verb in ("verify", "show"):
        if capsys is None:
            cli = subprocess.run([*COCKPIT, "journal", verb, str(path)], capture_output=True,
                                 text=True, timeout=120)
            code, out, err = cli.returncode, cli.stdout, cli.stderr
        else:
            code = cockpit_main(["journal", verb, str(path)])
            captured = capsys.readouterr()
            out, err = captured.out, captured.err
        assert code == 2 and out == "" and err.count("\n") == 1, (verb, out, err)
        assert "refused" in err or "directory" in err


def test_a_fifo_is_refused_at_once(tmp_path):
    path = tmp_path / "j.jsonl"
    os.mkfifo(path)
    _refused_everywhere(path)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_never_read(device):
    _refused_everywhere(device)


def test_a_socket_is_refused(tmp_path, capsys):
    path = tmp_path / "j.jsonl"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        _refused_everywhere(path, capsys)


def test_a_directory_is_refused(tmp_path, capsys):
    (tmp_path / "j.jsonl").mkdir()
    _refused_everywhere(tmp_path / "j.jsonl", capsys)


def test_a_symlink_to_a_journal_is_not_followed(tmp_path, capsys):
    real = tmp_path / "real.jsonl"
    with Journal.open(real, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="the real one")
    before = real.read_bytes()
    link = tmp_path / "j.jsonl"
    link.symlink_to(real)
    _refused_everywhere(link, capsys)
    assert real.read_bytes() == before


def test_a_dangling_symlink_does_not_choose_where_the_evidence_goes(tmp_path, capsys):
    elsewhere = tmp_path / "attacker" / "evidence.jsonl"
    elsewhere.parent.mkdir()
    link = tmp_path / "j.jsonl"
    link.symlink_to(elsewhere)
    with pytest.raises(JournalNotAFile, match="symbolic link, not a regular file: refused"):
        Journal.open(link, cutover_id=CUT)
    assert not elsewhere.exists()  # nothing was created through the link
    with pytest.raises(JournalNotAFile):
        Journal.open(link, cutover_id=CUT, readonly=True)  # not "no journal yet"
    _refused_everywhere(link, capsys)
    assert not elsewhere.exists()


def test_a_journal_swapped_for_a_link_under_a_watcher_is_loud(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="one")
    watcher = Journal.open(path, cutover_id=CUT, readonly=True)
    moved = tmp_path / "moved.jsonl"
    path.rename(moved)
    path.symlink_to(moved)
    assert watcher.refresh() == []
    assert watcher.damage is not None and "symbolic link" in watcher.damage.problem
    assert "damaged" in watcher.readonly_reason


def test_the_writer_locks_and_reads_the_very_file_it_opened(tmp_path):
    """The lock, the read and the appends go through one descriptor (no second open by name)."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="one")
        flags = os.get_blocking(j._fd), os.fstat(j._fd).st_ino == os.stat(path).st_ino
        assert flags == (True, True)  # O_NONBLOCK was cleared after the open


def test_a_failed_open_leaves_no_lock_behind(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="one")

    def exploding(*_a, **_k):
        raise MemoryError("injected")

    # Injected: an unexpected failure after the lock was taken (no real input makes one now).
    monkeypatch.setattr(journal_file.lines, "parse", exploding)
    with pytest.raises(MemoryError):
        Journal.open(path, cutover_id=CUT)
    monkeypatch.undo()
    with Journal.open(path, cutover_id=CUT) as j:  # not JournalLocked
        assert not j.readonly


def test_every_new_folder_is_made_durable(tmp_path, monkeypatch):
    """The kernel cannot be made to lose a folder here; what is checked is that each new level
    and the folder above it were fsynced, observed at the ``_fsync`` seam (real fsyncs)."""
    synced: list[str] = []

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        os.fsync(fd)

    monkeypatch.setattr(journal_file, "_fsync", recording)
    path = tmp_path / "a" / "b" / "c" / "j.jsonl"
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("note", actor=_actor(), note="one")
    for folder in (tmp_path, tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert str(folder) in synced, (folder, synced)
    assert str(path) in synced


def test_a_path_through_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError) as caught:
        Journal.open(tmp_path / "file" / "j.jsonl", cutover_id=CUT)
    assert "\n" not in str(caught.value) and "cannot open journal" in str(caught.value)
    with pytest.raises(JournalError) as caught:
        verify(tmp_path / "file" / "j.jsonl")
    assert "\n" not in str(caught.value) and "cannot read" in str(caught.value)
