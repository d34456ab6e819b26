"""The secret that hashes identifying keys (an MRN) in findings, the journal and reports.

Keys are shown as ``h:`` + the first 16 hex digits of HMAC-SHA256(secret, key text). A plain
salted hash would not do: the salt would have to be in the journal (the cutover id is in every
line), and an MRN space of 10^7 is searched in seconds. With a keyed hash, a reader of the
journal, the evidence pack or the screen learns nothing about the key without the secret.

Where the secret comes from, first match wins:

1. ``COCKPIT_KEY_SECRET`` in the environment (at least 16 characters), for several hosts that
   must produce the same hashes (same finding ids) for one cutover;
2. the file ``<journal dir>/<cutover id>.keysecret``: 32 random bytes, created on first use
   (``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0600, fsynced, published by an atomic link so a second
   process never reads a half-written file) and reused for every later run, so finding and
   exception ids stay the same across runs of one cutover. It is refused, in one line, if it
   is not a regular file, is readable or writable by group or others, or is not 32 bytes.

Who can reverse a hashed key: whoever can read that file (or that environment variable), and
nobody else. With it, hashing every candidate MRN is again a matter of seconds, so keep the
file with the same care as the databases' credentials, and never ship it with an evidence pack.
Losing it changes every hashed key: open exceptions on identifying keys are then closed (no
longer reproduced under their old ids) and opened again under new ones.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

ENV = "COCKPIT_KEY_SECRET"
SUFFIX = ".keysecret"
SECRET_BYTES = 32
MIN_ENV_CHARS = 16


class KeySecretError(Exception):
    """The secret cannot be had safely; one line saying why (never the secret)."""


def secret_path(journal_path: Path, cutover_id: str) -> Path:
    return journal_path.parent / f"{cutover_id}{SUFFIX}"


def load_key_secret(journal_path: Path, cutover_id: str,
                    env: Mapping[str, str] | None = None) -> bytes:
    """The cutover's key secret (see the module docstring); raises ``KeySecretError``."""
    env = os.environ if env is None else env
    value = env.get(ENV)
    if value is not None:
        if len(value) < MIN_ENV_CHARS:
            raise KeySecretError(f"{ENV} is set but shorter than {MIN_ENV_CHARS} characters")
        return value.encode("utf-8")
    path = secret_path(journal_path, cutover_id)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    _create(path)
    try:
        return _read(path)
    except FileNotFoundError:
        raise KeySecretError(f"key secret {path} vanished right after it was created") from None


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeySecretError(f"key secret {path}: cannot open: {_why(exc)} "
                             "(it must be a regular file, not a link)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeySecretError(f"key secret {path} is not a regular file; refusing it")
        if st.st_mode & 0o077:
            raise KeySecretError(f"key secret {path} has mode {stat.S_IMODE(st.st_mode):04o}: "
                                 "readable or writable by others; chmod 600 it (and consider it "
                                 "exposed)")
        if st.st_uid != os.geteuid():
            raise KeySecretError(f"key secret {path} belongs to another user; refusing it")
        data = os.read(fd, SECRET_BYTES + 1)
    except OSError as exc:
        raise KeySecretError(f"key secret {path}: cannot read: {_why(exc)}") from None
    finally:
        os.close(fd)
    if len(data) != SECRET_BYTES:
        raise KeySecretError(f"key secret {path} is {len(data)} bytes, not {SECRET_BYTES}; "
                             "refusing it (restore it from backup, or remove it to start over)")
    return data


def _create(path: Path) -> None:
    """Write a new secret to a private temporary file, then link it into place: the name
    appears only complete, and ``link`` fails if another process published one first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeySecretError(f"key secret {path}: cannot create its folder: {_why(exc)}") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise KeySecretError(f"key secret {path}: cannot create: {_why(exc)}") from None
    try:
        try:
            os.fchmod(fd, 0o600)
            secret = os.urandom(SECRET_BYTES)
            if os.write(fd, secret) != SECRET_BYTES:
                raise OSError(0, "short write")
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another run won the race: use theirs
            os.link(tmp, path, follow_symlinks=False)
    except OSError as exc:
        raise KeySecretError(f"key secret {path}: cannot write: {_why(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    try:
        _fsync_dir(path.parent)
    except OSError as exc:
        raise KeySecretError(f"key secret {path}: cannot sync its folder: {_why(exc)}") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
