"""Storage layer on real files: every difference kind seeded and found exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cockpit.config.recon import Storage
from cockpit.recon import storage as st
from cockpit.recon.storage import StorageCancelled, check_storage, parse_manifest


def _sum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kinds(result) -> set[tuple[str, tuple[str, ...]]]:
    return {(f.kind, f.keys) for f in result.findings}


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    (d / "sub").mkdir(parents=True)
    files = {"a.csv": b"alpha\n", "sub/b.csv": b"beta\n" * 1000, "c.bin": bytes(range(256)) * 10}
    for name, data in files.items():
        (d / name).write_bytes(data)
    lines = [f"{_sum(data)}  {name}" for name, data in files.items()]
    (d / "manifest.sha256").write_text("\n".join(lines) + "\n")
    return d


def test_clean_folder_matches_its_manifest(exports: Path) -> None:
    res = check_storage(Storage(manifest="manifest.sha256", dir="."), lambda p: exports / p)
    assert res.findings == []
    assert res.files == 3
    assert res.error is None


def test_missing_modified_and_extra_found_exactly(exports: Path, monkeypatch) -> None:
    monkeypatch.setattr(st, "CHUNK", 7)  # several chunks per file: streaming path exercised
    (exports / "a.csv").unlink()
    (exports / "sub" / "b.csv").write_bytes(b"beta\n" * 999 + b"BETA\n")
    (exports / "sub" / "new.txt").write_bytes(b"x")
    res = check_storage(Storage(manifest="exports/manifest.sha256", dir="exports", severity="major"),
                        lambda p: exports.parent / p)
    assert _kinds(res) == {("file_missing", ("a.csv",)), ("file_modified", ("sub/b.csv",)),
                           ("file_extra", ("sub/new.txt",))}
    assert {f.severity for f in res.findings} == {"major"}
    assert all(f.layer == "storage" and f.table == "exports/manifest.sha256" for f in res.findings)
    assert len({f.id for f in res.findings}) == 3


def test_binary_mode_and_escaped_names_accepted(tmp_path: Path) -> None:
    (tmp_path / "x y.dat").write_bytes(b"1")
    (tmp_path / "back\\slash").write_bytes(b"2")
    manifest = f"{_sum(b'1').upper()} *x y.dat\n\\{_sum(b'2')}  back\\\\slash\n"
    (tmp_path / "m.sha256").write_text(manifest)
    res = check_storage(Storage(manifest="m.sha256", dir="."), lambda p: tmp_path / p)
    assert res.findings == []


def test_malformed_lines_reported_with_their_number(exports: Path) -> None:
    text = (exports / "manifest.sha256").read_text()
    text += "not a sum  file\n" + f"{_sum(b'')}  ../etc/passwd\n" + text.splitlines()[0] + "\n"
    (exports / "manifest.sha256").write_text(text)
    res = check_storage(Storage(manifest="manifest.sha256", dir="."), lambda p: exports / p)
    assert _kinds(res) == {("manifest_malformed", ("line 4",)), ("manifest_malformed", ("line 5",)),
                           ("manifest_malformed", ("line 6",))}
    assert "line 6" in next(f.detail for f in res.findings if f.keys == ("line 6",))


def test_unreadable_manifest_is_an_error_not_clean(tmp_path: Path) -> None:
    res = check_storage(Storage(manifest="nope.sha256", dir="."), lambda p: tmp_path / p)
    assert res.error and "manifest unreadable" in res.error
    assert [f.kind for f in res.findings] == ["error"]
    (tmp_path / "m").write_bytes(b"\xff\xfe")
    res = check_storage(Storage(manifest="m", dir="."), lambda p: tmp_path / p)
    assert [f.kind for f in res.findings] == ["error"]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m").write_text("")
    res = check_storage(Storage(manifest="m", dir="gone"), lambda p: tmp_path / p)
    assert res.error and "folder" in res.error


def test_cancel_stops_between_chunks(exports: Path, monkeypatch) -> None:
    monkeypatch.setattr(st, "CHUNK", 16)
    seen = []
    with pytest.raises(StorageCancelled):
        check_storage(Storage(manifest="manifest.sha256", dir="."), lambda p: exports / p,
                      progress=lambda done, total: seen.append((done, total)),
                      cancelled=lambda: len(seen) >= 3)
    assert len(seen) == 3 and seen[-1][1] > seen[-1][0]


def test_parse_manifest_skips_blank_lines_and_crlf() -> None:
    entries, problems = parse_manifest(f"\r\n{'a' * 64}  ./d/x\r\n\n")
    assert entries == {"d/x": ("a" * 64, 2)} and problems == []
