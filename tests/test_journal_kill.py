"""Kill -9 a writer in a loop: every acknowledged append survives and the journal verifies.

Forked children (no interpreter start-up) append in a tight loop and print each acknowledged
seq and hash to a pipe; the parent SIGKILLs the child after a random number of acks, reopens
the journal as the next writer (quarantining a torn tail if the kill left one) and checks that
every ack it read is on disk, byte for byte.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time

from cockpit.journal import Actor, Journal, verify

CUT = "t-cut"
KILLS = 200


def _child(path: str, wfd: int, seed: int) -> None:
    try:
        rnd = random.Random(seed)
        j = Journal.open(path, cutover_id=CUT)
        actor = Actor.current("lead1")
        while True:
            # Sizes vary so some lines straddle page boundaries.
            e = j.append("note", actor=actor, note="x" * rnd.randint(1, 3000), data={"seed": seed})
            os.write(wfd, f"{e.seq} {e.hash}\n".encode())
    except BaseException:  # the child must never return into pytest
        os._exit(3)
    os._exit(0)


def _read_acks(rfd: int, want: int, deadline: float) -> bytes:
    buf = b""
    while buf.count(b"\n") < want:
        left = deadline - time.monotonic()
        assert left > 0, "child stopped acknowledging appends"
        ready, _, _ = select.select([rfd], [], [], left)
        if ready:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            buf += chunk
    return buf


def _drain(rfd: int) -> bytes:
    out = b""
    while chunk := os.read(rfd, 65536):
        out += chunk
    return out


def test_kill_minus_nine_loses_nothing_acknowledged(tmp_path):
    path = str(tmp_path / "j.jsonl")
    rnd = random.Random(20261128)
    acked: dict[int, str] = {}
    quarantines = 0
    started = time.monotonic()
    for i in range(KILLS):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _child(path, wfd, i)
        os.close(wfd)
        try:
            buf = _read_acks(rfd, rnd.randint(1, 6), time.monotonic() + 20)
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status), f"child {i} exited on its own: {status}"
            buf += _drain(rfd)  # acks written before the kill landed are acknowledged too
        finally:
            os.close(rfd)
        for line in buf.decode().splitlines():
            seq, h = line.split()
            acked[int(seq)] = h
        j = Journal.open(path, cutover_id=CUT)  # the next writer: quarantines a torn tail
        try:
            assert not j.readonly, j.readonly_reason
            quarantines += j.quarantined is not None
            assert j.head[0] >= max(acked)
            for seq, h in acked.items():
                assert j.entries[seq - 1].hash == h, f"acknowledged entry {seq} lost or changed"
        finally:
            j.close()
        result = verify(path)
        # Intact; a quarantined torn line keeps verify failing until acknowledged (elsewhere).
        assert result.intact and result.count == len(j.entries), result
    elapsed = time.monotonic() - started
    assert len(acked) >= KILLS
    print(f"{KILLS} kills, {len(acked)} acknowledged appends, {quarantines} torn tails "
          f"quarantined, {elapsed:.1f}s")
