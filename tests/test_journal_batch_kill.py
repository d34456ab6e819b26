"""Kill -9 a writer in the middle of a batch: the next open keeps only whole batches.

Linux stops a page-cache write at a (large) page boundary when a fatal signal is pending, so a
batch of entries written with one ``write(2)`` can land as a prefix: whole lines that chain,
then a cut one. Forked children append batches of a few megabytes (each entry's ``data`` names
its batch and its place in it). The copy lasts a millisecond or two, so the kill is aimed: just
before a randomly chosen write (the real write follows) a thread of the child is released; it
watches the file grow and, as soon as the first part of the batch has landed, sends SIGKILL to
its own process: a real kill -9, landing inside the write most of the time, even under load.
After every kill: every acknowledged batch is there byte for byte, no batch is there in part
(read-only open, writer open and verify agree), and the writer's open moved exactly the
unacknowledged bytes aside.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path

import cockpit.journal.file as journal_file
from cockpit.journal import Actor, Journal, verify

CUT = "t-cut"
ENOUGH = 4  # kills that cut a batch after whole lines of it, the case under test
MAX_KILLS = 60  # most kills land inside the write of a large batch, even on a loaded machine
PER_FILE = 2  # kills per journal file, so files stay small and each open stays quick


def _child(path: str, wfd: int, seed: int) -> None:
    try:
        rnd = random.Random(seed)
        j = Journal.open(path, cutover_id=CUT)
        real_write = journal_file._write
        go = threading.Event()
        countdown = [rnd.randint(1, 2)]
        base = [0]

        def killer():
            go.wait()
            while os.fstat(j._fd).st_size == base[0]:  # until the batch starts to land
                pass
            os.kill(os.getpid(), signal.SIGKILL)

        def released(fd, data):
            countdown[0] -= 1
            if countdown[0] == 0:
                base[0] = os.fstat(fd).st_size
                go.set()
            return real_write(fd, data)

        threading.Thread(target=killer, daemon=True).start()
        journal_file._write = released  # in this forked child only; the real write still runs
        k = 0
        while True:
            k += 1
            n = rnd.randint(4, 32)  # 0.5 to 10 MB: the larger, the likelier a kill lands inside
            run = f"{seed}-{k}"
            # The bulk of each line is the actor's host (repeated on every entry of the batch):
            # the secret guard does not scan it, so a 4 MB batch is built in milliseconds.
            actor = Actor("lead1", "lead1", "h" * rnd.randint(120_000, 300_000), None, os.getpid(), run)
            items = [{"action": "exception.open", "subject": f"X{run}-{i}",
                      "data": {"run": run, "i": i, "n": n}} for i in range(1, n + 1)]
            written = j.append_many(actor, items)
            os.write(wfd, f"A {written[0].seq} {written[-1].seq} {written[-1].hash}\n".encode())
    except BaseException:  # the child must never return into pytest
        os._exit(3)


def _runs_are_whole(entries) -> None:
    runs = defaultdict(list)
    for e in entries:
        runs[e.data["run"]].append(e.data["i"])
    for run, got in runs.items():
        n = next(e.data["n"] for e in entries if e.data["run"] == run)
        assert got == list(range(1, n + 1)), f"batch {run} kept in part: {len(got)} of {n} entries"


def _until_killed(pid: int, rfd: int) -> bytes:
    buf = bytearray()
    while chunk := os.read(rfd, 65536):  # EOF once the child is gone (it always kills itself)
        buf.extend(chunk)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    return bytes(buf)


def test_kill_minus_nine_mid_batch_keeps_only_whole_batches(tmp_path):
    acked: dict[Path, dict[int, str]] = defaultdict(dict)
    cut_batches = 0  # kills that left whole lines of a batch cut short: the case under test
    torn = 0
    started = time.monotonic()
    kills = 0
    while cut_batches < ENOUGH and kills < MAX_KILLS:
        i = kills
        kills += 1
        path = tmp_path / f"j{i // PER_FILE}.jsonl"
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _child(str(path), wfd, i)
        os.close(wfd)
        try:
            out = _until_killed(pid, rfd)
        finally:
            os.close(rfd)
        for line in out.decode().splitlines():
            if line.startswith("A "):
                _, _, last, h = line.split()
                acked[path][int(last)] = h
        raw = path.read_bytes()

        watcher = Journal.open(path, cutover_id=CUT, readonly=True)
        _runs_are_whole(watcher.entries)
        for seq, h in acked[path].items():
            assert watcher.entries[seq - 1].hash == h, f"acknowledged batch ending at {seq} lost"
        kept = sum(len(e.line()) for e in watcher.entries)
        assert raw[:kept] == b"".join(e.line() for e in watcher.entries)  # byte for byte
        tail = raw[kept:]

        result = verify(path)
        assert result.count == len(watcher.entries) and result.head_hash == (
            watcher.entries[-1].hash if watcher.entries else None)
        if tail:
            assert not result.ok and result.bad_seq == len(watcher.entries) + 1
            assert "never acknowledged" in result.problem
        else:
            assert result.intact

        with Journal.open(path, cutover_id=CUT) as writer:  # the next writer
            assert not writer.readonly, writer.readonly_reason
            assert [e.hash for e in writer.entries] == [e.hash for e in watcher.entries]
            if tail:
                assert writer.quarantined is not None and writer.quarantined.read_bytes() == tail
                cut_batches += b"\n" in tail
                torn += 1
            else:
                assert writer.quarantined is None
        assert path.read_bytes() == raw[:kept]
    elapsed = time.monotonic() - started
    assert sum(len(a) for a in acked.values()) >= 1
    assert cut_batches >= 1, f"no kill out of {kills} landed inside a batch write"
    print(f"{kills} kills around batch writes, {torn} left a tail, {cut_batches} of them whole "
          f"lines of a batch cut short, {sum(len(a) for a in acked.values())} batches acknowledged, {elapsed:.1f}s")
