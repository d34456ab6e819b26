"""Storage layer: the export files against their SHA-256 manifest.

The manifest is what ``sha256sum`` prints (``<64 hex>  <path>``, or ``<64 hex> *<path>`` for
binary mode, with sha256sum's backslash escaping for names holding a newline or a backslash).
Every listed file must exist with that sum, and the export folder must hold nothing else.
Files can be gigabytes, so they are hashed in chunks and a cancel is honoured between chunks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cockpit.config.recon import Storage
from cockpit.recon.findings import Finding
from cockpit.text import clean

CHUNK = 1 << 20
_LINE = re.compile(r"^(\\?)([0-9A-Fa-f]{64}) ([ *])(.+)$")

# progress(bytes_done, bytes_total); cancel() -> True to stop
ByteProgress = Callable[[int, int], None]


class StorageCancelled(Exception):
    """The run was cancelled while files were being hashed."""


@dataclass
class StorageResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    bytes_hashed: int = 0
    error: str | None = None  # the check could not be made (manifest or folder unreadable)


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch == "\\" and i + 1 < len(name):
            nxt = name[i + 1]
            out.append({"n": "\n", "\\": "\\", "r": "\r"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _normal_path(name: str) -> str | None:
    """The manifest path as a clean relative POSIX path, or None if it leaves the folder."""
    p = PurePosixPath(name)
    if p.is_absolute():
        return None
    parts = [x for x in p.parts if x not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def parse_manifest(text: str) -> tuple[dict[str, tuple[str, int]], list[tuple[int, str]]]:
    """``({path: (sha256, line_no)}, [(line_no, problem)])``."""
    entries: dict[str, tuple[str, int]] = {}
    problems: list[tuple[int, str]] = []
    for no, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            problems.append((no, "not '<sha256>  <path>'"))
            continue
        escaped, digest, _mode, name = m.groups()
        if escaped:
            name = _unescape(name)
        rel = _normal_path(name)
        if rel is None:
            problems.append((no, "path is absolute or leaves the export folder"))
            continue
        if rel in entries:
            problems.append((no, f"file listed twice (first on line {entries[rel][1]})"))
            continue
        entries[rel] = (digest.lower(), no)
    return entries, problems


def _walk(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        dirnames.sort()
        for name in sorted(filenames):
            found.append(Path(dirpath, name).relative_to(root).as_posix())
    return found


def _raise(exc: OSError) -> None:
    raise exc


def sha256_file(path: Path, *, on_chunk: Callable[[int], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            if cancelled is not None and cancelled():
                raise StorageCancelled()
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return h.hexdigest()


def check_storage(storage: Storage, resolve: Callable[[str], Path], *,
                  progress: ByteProgress | None = None,
                  cancelled: Callable[[], bool] | None = None) -> StorageResult:
    """Compare the export folder with its manifest. Blocking: run it in a thread."""
    result = StorageResult()
    manifest_name = clean(storage.manifest, 200, single_line=True)
    sev = storage.severity

    def finding(kind: str, keys: tuple[str, ...], detail: str, category: str = "manual_review") -> Finding:
        return Finding(layer="storage", table=manifest_name, kind=kind, keys=keys,
                       severity=sev, category=category, detail=detail)

    manifest_path = resolve(storage.manifest)
    root = resolve(storage.dir)
    try:
        text = manifest_path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        result.error = f"manifest unreadable: {reason}"
        result.findings.append(finding("error", (), result.error))
        return result
    entries, problems = parse_manifest(text)
    for no, problem in problems:
        result.findings.append(finding("manifest_malformed", (f"line {no}",), f"manifest line {no}: {problem}"))
    try:
        if not root.is_dir():
            raise NotADirectoryError(2, "no such folder")
        present = _walk(root)
    except OSError as exc:
        result.error = f"export folder unreadable: {exc.strerror or type(exc).__name__}"
        result.findings.append(finding("error", (), result.error))
        return result

    try:
        manifest_rel = manifest_path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        manifest_rel = None
    present_set = set(present) - {manifest_rel}

    total = 0
    sizes: dict[str, int] = {}
    for rel in entries:
        if rel in present_set:
            try:
                sizes[rel] = (root / rel).stat().st_size
                total += sizes[rel]
            except OSError:
                pass
    done = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    for rel, (digest, no) in sorted(entries.items()):
        shown = clean(rel, 300, single_line=True)
        if rel not in present_set:
            result.findings.append(finding("file_missing", (shown,), f"listed on manifest line {no}, not in the folder"))
            continue
        try:
            actual = sha256_file(root / rel, on_chunk=on_chunk, cancelled=cancelled)
        except OSError as exc:
            result.findings.append(finding("file_unreadable", (shown,), f"cannot read: {exc.strerror or type(exc).__name__}"))
            continue
        result.files += 1
        if actual != digest:
            result.findings.append(finding(
                "file_modified", (shown,),
                f"sha256 {actual[:12]}… differs from manifest line {no} ({digest[:12]}…)"))
    result.bytes_hashed = done
    for rel in sorted(present_set - set(entries)):
        result.findings.append(finding("file_extra", (clean(rel, 300, single_line=True),),
                                       "in the folder, not on the manifest"))
    return result
