"""Writing the pack into its folder: all or nothing.

Every file is written into a fresh sibling folder (``.<DIR>.partial-<pid>``), fsynced, and
``MANIFEST.sha256`` (``sha256sum`` format, over every other file) is written last; only then is
the folder renamed to ``DIR``. A full disk or a crash leaves at most that partial folder, never a
``DIR`` whose manifest claims a whole pack.

``DIR`` may not exist, may be empty, or may be a previous pack: a folder whose
``MANIFEST.sha256`` lists exactly the files in it (nothing added, no subfolder). Anything else
is refused (:class:`OutError`): the pack never overwrites or deletes files it did not write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

MANIFEST = "MANIFEST.sha256"


class OutError(Exception):
    """``--out`` cannot take the pack; one line."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def previous_pack(folder: Path) -> bool:
    """A folder the report wrote before: its manifest names exactly its files."""
    try:
        names = {p.name for p in folder.iterdir()}
        text = (folder / MANIFEST).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    listed = set()
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            return False
        listed.add(name)
    return names == listed | {MANIFEST} and all((folder / n).is_file()
                                                 and not (folder / n).is_symlink() for n in names)


def check_out(folder: Path) -> None:
    """Refuse, before anything is read or written, a ``--out`` the pack may not take."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OutError(f"--out {folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not previous_pack(folder):
        raise OutError(f"--out {folder} is not empty and is not a previous evidence pack "
                       f"(no {MANIFEST} listing exactly its files): give a new or empty folder")
    if not folder.parent.is_dir():
        raise OutError(f"--out {folder}: the folder {folder.parent} does not exist")


def manifest(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in sorted(files.items())).encode("ascii")


def write(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) and their manifest into ``folder``, atomically."""
    check_out(folder)
    folder = folder.absolute()
    partial = folder.parent / f".{folder.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(mode=0o700)
    try:
        for name, data in [*files.items(), (MANIFEST, manifest(files))]:
            fd = os.open(partial / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(partial)
        old = None
        if folder.exists():
            old = folder.parent / f".{folder.name}.old-{os.getpid()}"
            os.rename(folder, old)
        os.rename(partial, folder)
        _fsync_dir(folder.parent)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
