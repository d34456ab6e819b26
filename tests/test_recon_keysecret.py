"""Identifying keys are a keyed hash under a secret that is in no journal line and no report.

The review's attack: the old hash was sha256(cutover id + key) and the cutover id is in every
journal line, so hashing every MRN of a 10^7 space gave the MRNs back in seconds. Now the
journal alone tells nothing; the secret sits beside it in a 0600 file (or in the environment).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.recon.findings import hash_key
from cockpit.recon.keysecret import ENV, KeySecretError, load_key_secret, secret_path
from tests.test_recon_runner import BASE_PLAN, TABLES, dbs, write_plan  # noqa: F401 - fixture

CUTOVER = BASE_PLAN["cutover"]["id"]


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def test_created_once_private_and_reused(tmp_path) -> None:
    journal = tmp_path / "j" / "journal.jsonl"
    first = load_key_secret(journal, "cut-1", env={})
    path = secret_path(journal, "cut-1")
    assert path == tmp_path / "j" / "cut-1.keysecret"
    st = path.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert len(first) == 32 and path.read_bytes() == first
    assert load_key_secret(journal, "cut-1", env={}) == first
    assert load_key_secret(journal, "cut-2", env={}) != first  # one per cutover
    assert sorted(p.name for p in path.parent.iterdir()) == ["cut-1.keysecret", "cut-2.keysecret"]


def test_concurrent_first_runs_agree_on_one_secret(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    got: list[bytes] = []
    barrier = threading.Barrier(8)

    def one() -> None:
        barrier.wait()
        got.append(load_key_secret(journal, "cut", env={}))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["cut.keysecret"]  # no temporary left


def test_unsafe_files_are_refused_in_one_line(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    path = secret_path(journal, "cut")
    path.write_bytes(os.urandom(32))
    for mode, word in ((0o644, "mode 0644"), (0o640, "mode 0640"), (0o602, "mode 0602")):
        path.chmod(mode)
        with pytest.raises(KeySecretError, match=word) as info:
            load_key_secret(journal, "cut", env={})
        assert "\n" not in str(info.value)
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(KeySecretError, match="is 5 bytes, not 32"):
        load_key_secret(journal, "cut", env={})
    path.unlink()
    target = tmp_path / "elsewhere"
    target.write_bytes(os.urandom(32))
    target.chmod(0o600)
    path.symlink_to(target)
    with pytest.raises(KeySecretError, match="not a link"):
        load_key_secret(journal, "cut", env={})
    path.unlink()
    path.mkdir()
    with pytest.raises(KeySecretError, match="not a regular file"):
        load_key_secret(journal, "cut", env={})
    path.rmdir()
    os.mkfifo(path, 0o600)
    with pytest.raises(KeySecretError, match="not a regular file"):
        load_key_secret(journal, "cut", env={})


def test_environment_secret_wins_and_is_checked(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    assert load_key_secret(journal, "cut", env={ENV: "x" * 20}) == b"x" * 20
    assert not secret_path(journal, "cut").exists()
    with pytest.raises(KeySecretError, match="shorter than 16"):
        load_key_secret(journal, "cut", env={ENV: "short"})


def test_hash_is_an_hmac_not_a_salted_hash() -> None:
    secret = b"s" * 32
    digest = hmac.new(secret, b"MRN-0007", hashlib.sha256).hexdigest()[:16]
    assert hash_key("MRN-0007", secret) == f"h:{digest}"
    assert hash_key("MRN-0007", b"t" * 32) != hash_key("MRN-0007", secret)


def _cli(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["reconcile", *argv, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out) if out else {}


def test_journal_alone_gives_no_mrn_back_and_ids_stay_stable(dbs, tmp_path, capsys) -> None:  # noqa: F811
    cl, (src, dst) = dbs
    tables = [{**t, "identifying_key": True} if t["name"] == "patients" else t for t in TABLES]
    domain = [{"id": "dup", "check": "duplicates", "table": "ehr.patients", "columns": ["mrn"]},
              {"id": "by_mrn", "check": "sql", "table": "ehr.patients", "keys": ["mrn"],
               "identifying_key": True,
               "sql": "SELECT mrn, given_name FROM ehr.patients WHERE patient_id IN (7, 8, 11)"}]
    plan = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst), tables=tables, domain=domain)
    code, first = _cli(capsys, str(plan))
    assert code == 1 and first["opened"]
    secret_file = tmp_path / f"{CUTOVER}.keysecret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_bytes()
    journal = (tmp_path / "journal.jsonl").read_text()
    # Every MRN of the test data, hashed the old way and the new way, and in clear.
    for i in range(1, 21):
        mrn = f"MRN-{i:04d}"
        old = hashlib.sha256(f"{CUTOVER}\x1f{mrn}".encode()).hexdigest()[:16]
        assert mrn not in journal and old not in journal
    for value in ("MRN-0007", "MRN-0011", "8", "11"):  # patient 8 has MRN-0007 on the target
        assert hash_key(value, secret) in journal  # the keyed hash is what is there
    assert secret.hex() not in journal and repr(secret)[2:-1] not in journal

    code, second = _cli(capsys, str(plan))
    assert code == 1 and second["opened"] == [] and second["closed"] == []
    assert [f["id"] for f in second["findings"]] == [f["id"] for f in first["findings"]]


def test_unsafe_secret_file_is_a_one_line_refusal(dbs, tmp_path, capsys) -> None:  # noqa: F811
    cl, (src, dst) = dbs
    plan = write_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    path = tmp_path / f"{CUTOVER}.keysecret"
    path.write_bytes(os.urandom(32))
    path.chmod(0o644)
    code = main(["reconcile", str(plan), "--layer", "domain"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "mode 0644" in err and Path(path).read_bytes() not in err.encode()
    assert not (tmp_path / "journal.jsonl").exists()
