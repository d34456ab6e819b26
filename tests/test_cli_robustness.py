"""Every verb attacked the way a tired operator or a broken environment would.

Each case runs the real console script (``.venv/bin/cockpit``) in a subprocess with no stdin and
asserts the contract: the exit code (0 ok, 1 "no", 2 bad input), no Python traceback anywhere,
a one-line reason (one line per problem for a plan), and nothing written where nothing should
be (a refused verb leaves a journal's bytes as they were and creates none).
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cockpit.journal import Actor, Journal
from tests.fixtures.silent import Silent

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = str(Path(sys.executable).parent / "cockpit")
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("COCKPIT_", "PYTHONIOENC"))}

PLAN = {
    "cutover": {"id": "robust-1", "name": "Robust cutover é", "journal": "journal.jsonl",
                "window": {"start": "2026-11-28T22:00:00Z", "end": "2026-11-29T06:00:00Z"}},
    "operators": {"roles": {"lead": {"confirm": ["*"]}}, "people": [{"name": "ann", "role": "lead"}]},
    "sources": {"sim": {"type": "simulated"}},
    "signals": {"lag_s": {"source": "sim", "simulate": {"base": 1}}},
    "gates": {"lag_ok": {"expr": "lag_s < 5"}},
    "runbook": {
        "phases": [{"id": "before", "title": "Before é", "steps": [
            {"id": "B1", "title": "Prépare le 🚑 transfert", "owner": "lead", "planned": "5m"}]}],
        "rollback": {"phases": [{"id": "back", "title": "Back", "steps": [
            {"id": "R1", "title": "Switch back", "owner": "lead", "planned": "10m"}]}]},
    },
}


def cockpit(*argv: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 30,
            replace_env: bool = False) -> subprocess.CompletedProcess:
    full = {**BASE_ENV, **(env or {})}
    if replace_env:  # a bare environment, but the same code under test
        full = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"} | dict(env or {})
    return subprocess.run([COCKPIT, *argv], cwd=cwd or ROOT, env=full, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace", timeout=timeout)


def refused(proc: subprocess.CompletedProcess, code: int = 2, *, lines: int | None = 1) -> str:
    """The contract for a refusal: the exit code, no traceback, a short reason on stderr."""
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, both
    assert proc.returncode == code, (proc.returncode, both)
    err = proc.stderr.strip()
    assert err, "a refusal says why"
    if lines is not None:
        assert len(err.splitlines()) == lines, err
    return err


def write_plan(tmp_path: Path, name: str = "plan.yaml", **changes) -> Path:
    doc = json.loads(json.dumps(PLAN))
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def make_journal(path: Path, cutover: str = "robust-1", notes: int = 5) -> bytes:
    j = Journal.open(path, cutover_id=cutover)
    try:
        j.append_many(Actor.system(), [{"action": "note", "note": f"note {i} é 🚑"} for i in range(notes)])
    finally:
        j.close()
    return path.read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- --help ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["demo"], ["run"], ["check"], ["gates"], ["status"], ["reconcile"],
                                  ["journal", "verify"], ["journal", "show"], ["journal"]])
def test_every_verb_has_help(argv):
    proc = cockpit(*argv, "--help")
    assert proc.returncode == 0 and "usage: cockpit " + " ".join(argv) in proc.stdout
    assert not proc.stderr


# -- bad plans -------------------------------------------------------------------------------

def _bad_plans(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "plans"
    d.mkdir()
    (d / "a_directory.yaml").mkdir()
    (d / "empty.yaml").write_bytes(b"")
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 8)
    (d / "latin1.yaml").write_bytes(b"cutover:\n  id: caf\xe9\n")
    with open(d / "huge.yaml", "wb") as f:  # sparse: 6 MB without writing 6 MB
        f.truncate(6 * 1024 * 1024)
    (d / "malformed.yaml").write_text("cutover: [1, 2\n")
    (d / "wrong_types.yaml").write_text("cutover: 5\noperators: []\nrunbook: x\n")
    (d / "alias_bomb.yaml").write_text("&a [*a]\n")
    (d / "python_tag.yaml").write_text("a: !!python/object/apply:os.system ['true']\n")
    return {p.name: p for p in d.iterdir()} | {"missing.yaml": d / "missing.yaml"}


def test_check_refuses_every_kind_of_bad_plan_file_with_one_line_per_problem(tmp_path):
    for name, path in _bad_plans(tmp_path).items():
        proc = cockpit("check", name, cwd=path.parent)
        err = refused(proc, lines=None)
        for line in err.splitlines():  # file:line:col: ... or file: ..., never a bare message
            assert line.startswith(name), (name, line)
        assert not proc.stdout, name


@pytest.mark.parametrize("verb", ["gates", "status", "reconcile", "run", "journal init"])
def test_other_plan_verbs_refuse_bad_plans_without_creating_a_journal(tmp_path, verb):
    plans = _bad_plans(tmp_path)
    for name in ("missing.yaml", "binary.yaml", "wrong_types.yaml"):
        proc = cockpit(*verb.split(), name, cwd=plans[name].parent)
        err = refused(proc, lines=None)
        assert all(line.startswith(f"cockpit {verb}: {name}") for line in err.splitlines()), err
    assert not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.parametrize("verb", ["gates", "reconcile", "run"])
def test_a_missing_environment_variable_is_named(tmp_path, verb):
    plan = write_plan(tmp_path, sources__sim={"type": "http", "url": "http://127.0.0.1:${ROBUST_NO_PORT}"},
                      signals__lag_s={"source": "sim", "json_path": "$.lag"},
                      reconciliation={"source": "sim", "target": "sim", "tables": []})
    proc = cockpit(verb, str(plan))
    err = refused(proc, lines=None)
    assert "ROBUST_NO_PORT" in err
    assert not (tmp_path / "journal.jsonl").exists()


# -- the journal a plan points at ------------------------------------------------------------

def test_status_and_gates_with_the_journal_path_at_a_directory(tmp_path):
    (tmp_path / "jdir").mkdir()
    plan = write_plan(tmp_path, cutover__journal="jdir")
    err = refused(cockpit("status", str(plan)))
    assert "is a directory" in err
    proc = cockpit("gates", str(plan))  # the gate view goes on; recon.* signals are lost, said once
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "1 of 1 gates GO" in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1 and "is a directory" in proc.stderr


def test_status_reads_a_journal_path_in_a_missing_directory_without_creating_it(tmp_path):
    plan = write_plan(tmp_path, cutover__journal="no/such/dir/j.jsonl")
    proc = cockpit("status", str(plan))
    assert proc.returncode == 0 and "no journal yet" in proc.stdout, proc.stderr
    assert not (tmp_path / "no").exists()


def test_status_refuses_the_journal_of_another_cutover_and_leaves_it_alone(tmp_path):
    before = make_journal(tmp_path / "journal.jsonl", cutover="someone-else-9")
    plan = write_plan(tmp_path)
    err = refused(cockpit("status", str(plan)))
    assert "someone-else-9" in err and "journal verify" in err
    assert (tmp_path / "journal.jsonl").read_bytes() == before


def test_gates_watch_on_an_unwritable_journal_warns_once_and_keeps_watching(tmp_path):
    plan = write_plan(tmp_path, cutover__journal="/proc/self/cockpit-robust.jsonl")
    p = subprocess.Popen([COCKPIT, "gates", str(plan), "--watch"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=BASE_ENV)
    try:
        first = p.stdout.readline()
        assert "lag_ok" in first
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
    finally:
        p.kill()
        p.wait()
    assert p.returncode in (0, 1) and "Traceback" not in err
    assert "gate changes are not recorded" in err and "stopped:" in err


@pytest.mark.parametrize("damage", ["another_cutover", "altered_middle"])
def test_gates_never_pass_on_state_replayed_from_a_damaged_journal(tmp_path, damage):
    journal = tmp_path / "journal.jsonl"
    make_journal(journal, cutover="someone-else-9" if damage == "another_cutover" else "robust-1")
    if damage == "altered_middle":
        rows = journal.read_bytes().split(b"\n")
        rows[1] = rows[1].replace(b"note 1", b"note X")
        journal.write_bytes(b"\n".join(rows))
    before = journal.read_bytes()
    plan = write_plan(tmp_path, gates={"no_open_critical": {"expr": "exceptions.open_critical == 0"}})
    proc = cockpit("gates", str(plan))
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout
    assert "UNKNOWN" in proc.stdout and "0 of 1 gates GO" in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1 and "is damaged at seq" in proc.stderr
    assert journal.read_bytes() == before


# -- journal verbs ---------------------------------------------------------------------------

def _journals(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "journals"
    d.mkdir()
    good = d / "good.jsonl"
    make_journal(good)
    (d / "a_directory").mkdir()
    (d / "empty.jsonl").write_bytes(b"")
    (d / "binary.jsonl").write_bytes(bytes(range(256)) * 8)
    (d / "torn.jsonl").write_bytes(good.read_bytes() + b'{"seq":6,"ac')
    rows = good.read_bytes().split(b"\n")
    rows[2] = rows[2].replace(b"note 2", b"note X")
    (d / "altered.jsonl").write_bytes(b"\n".join(rows))
    (d / "huge_line.jsonl").write_bytes(b"{" + b"a" * 20_000_000)
    return {p.name: p for p in d.iterdir()}


# name -> (verify exit, show exit, words the output must hold)
JOURNAL_CASES = {
    "good.jsonl": (0, 0, "5 entries"),
    "empty.jsonl": (0, 0, "0 entries"),
    "a_directory": (2, 2, "is a directory"),
    "missing.jsonl": (2, 2, "No such file"),
    "binary.jsonl": (1, 1, "seq 1 (line 1)"),
    "torn.jsonl": (1, 0, "torn write"),
    "altered.jsonl": (1, 1, "seq 3 (line 3)"),
    "huge_line.jsonl": (1, 0, "torn write"),
}


def test_journal_verify_and_show_on_damaged_files(tmp_path):
    journals = _journals(tmp_path)
    journals["missing.jsonl"] = tmp_path / "journals" / "missing.jsonl"
    before = {n: p.read_bytes() for n, p in journals.items() if p.is_file()}
    for name, (verify_rc, show_rc, words) in JOURNAL_CASES.items():
        started = time.monotonic()
        v = cockpit("journal", "verify", str(journals[name]))
        s = cockpit("journal", "show", str(journals[name]))
        assert time.monotonic() - started < 10, name
        for proc, rc in ((v, verify_rc), (s, show_rc)):
            both = proc.stdout + proc.stderr
            assert proc.returncode == rc and "Traceback" not in both, (name, proc.args, both[-500:])
            assert len(proc.stderr.strip().splitlines()) <= 1, (name, proc.stderr)
        assert words in v.stdout + v.stderr, (name, v.stdout, v.stderr)
        assert len(s.stdout.splitlines()) == {"good.jsonl": 5, "torn.jsonl": 5, "altered.jsonl": 2}.get(name, 0)
    assert {n: p.read_bytes() for n, p in journals.items() if p.is_file()} == before


@pytest.mark.parametrize("head", ["zz", "12", "5:", ":", "5:zz", "x:deadbeef", " ", ""])
def test_journal_verify_refuses_a_garbage_expect_head(tmp_path, head):
    path = tmp_path / "j.jsonl"
    make_journal(path)
    err = refused(cockpit("journal", "verify", str(path), f"--expect-head={head}"))
    assert "--expect-head" in err


# -- gates against sources that are down or hung ---------------------------------------------

def _net_plan(tmp_path: Path, pg_port: int, http_port: int) -> Path:
    return write_plan(
        tmp_path,
        sources={"db": {"type": "postgres", "dsn": f"host=127.0.0.1 port={pg_port} dbname=x user=x",
                        "connect_timeout": "2s", "statement_timeout": "2s"},
                 "web": {"type": "http", "url": f"http://127.0.0.1:{http_port}", "timeout": "2s",
                         "connect_timeout": "1s"}},
        signals={"lag_s": {"source": "db", "probe": "replication_lag"},
                 "up": {"source": "web", "path": "/health", "json_path": "$.ok"}},
        gates={"lag_ok": {"expr": "lag_s < 5"}, "up_ok": {"expr": "up == 1"}},
        reconciliation={"source": "db", "target": "db",
                        "tables": [{"name": "t", "source_table": "public.t", "key": ["id"]}]},
    )


def test_gates_with_sources_on_closed_ports_is_unknown_at_once(tmp_path):
    plan = _net_plan(tmp_path, free_port(), free_port())
    started = time.monotonic()
    proc = cockpit("gates", str(plan))
    assert time.monotonic() - started < 10
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.count("UNKNOWN") == 2 and "0 of 2 gates GO" in proc.stdout


def test_gates_and_reconcile_against_hung_servers_finish_within_the_timeouts(tmp_path):
    hung = Silent()
    try:
        plan = _net_plan(tmp_path, hung.port, hung.port)
        for argv in (["gates", str(plan)], ["reconcile", str(plan), "--no-journal"]):
            started = time.monotonic()
            proc = cockpit(*argv, timeout=30)
            took = time.monotonic() - started
            # 2 s timeouts, concurrently: a hang would take forever; a loaded machine a while.
            assert took < 25, (argv, took)
            assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
            assert ("UNKNOWN" if argv[0] == "gates" else "NOT CHECKED") in proc.stdout
    finally:
        hung.close()


def test_watch_interrupted_with_ctrl_c_says_stopped_without_a_traceback(tmp_path):
    plan = write_plan(tmp_path)
    p = subprocess.Popen([COCKPIT, "gates", str(plan), "--watch", "--no-journal"], env=BASE_ENV,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "lag_ok" in p.stdout.readline()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
    finally:
        p.kill()
        p.wait()
    assert p.returncode in (0, 1) and "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith("stopped:")
    assert not (tmp_path / "journal.jsonl").exists()


def test_ctrl_c_before_any_python_code_runs_is_one_line_and_130(tmp_path):
    """The earliest Ctrl-C there is: sent before the interpreter starts, held back by the
    child's signal mask until the entry module unblocks it. Before: a traceback out of
    whichever import it landed in (argparse, gettext, pydantic)."""
    plan = write_plan(tmp_path)
    p = subprocess.Popen([COCKPIT, "gates", str(plan)], env=BASE_ENV, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK,
                                                                   {signal.SIGINT}))
    p.send_signal(signal.SIGINT)  # pending in the child from its first instruction
    out, err = p.communicate(timeout=30)
    assert (p.returncode, out, err) == (130, "", "cockpit: interrupted\n")


def test_ctrl_c_while_the_verb_runs_is_one_line_and_130(tmp_path, http_server):
    http_server.hang("/m")
    plan = write_plan(tmp_path, sources={"web": {"type": "http", "url": http_server.url}},
                      signals={"lag_s": {"source": "web", "path": "/m", "json_path": "$.v",
                                         "timeout": "30s", "every": "30s"}})
    p = subprocess.Popen([COCKPIT, "gates", str(plan)], env=BASE_ENV, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not http_server.seen("/m"):  # the verb is inside its poll: a known moment
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 130 and "Traceback" not in out + err
    assert err == "cockpit gates: interrupted\n"


def test_watch_whose_reader_leaves_stops_quietly_and_not_with_0(tmp_path):
    plan = write_plan(tmp_path)
    p = subprocess.Popen([COCKPIT, "gates", str(plan), "--watch", "--no-journal"], env=BASE_ENV,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert b"lag_ok" in p.stdout.readline()
        p.stdout.close()  # `| head -1`: the reader is gone; the next change must end the watch
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
    finally:
        p.kill()
        p.wait()
        err = p.stderr.read().decode()
    assert "Traceback" not in err, err
    assert rc == 141, (rc, err)


def test_a_cut_off_pipe_is_never_exit_0(tmp_path):
    journal = tmp_path / "altered.jsonl"
    make_journal(journal, notes=3000)
    rows = journal.read_bytes().split(b"\n")
    rows[2999] = rows[2999].replace(b"note 2999", b"note XXXX")  # damage at the very end: exit 1
    journal.write_bytes(b"\n".join(rows))
    p = subprocess.Popen([COCKPIT, "journal", "show", str(journal)], env=BASE_ENV,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdout.readline()
        p.stdout.close()  # `journal show | head -1` on a journal damaged further down
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
    finally:
        p.kill()
        p.wait()
        err = p.stderr.read().decode()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert rc not in (0, 2), rc


# -- reconcile -------------------------------------------------------------------------------

def test_reconcile_refusals_are_one_line_and_leave_the_journal_alone(tmp_path):
    before = make_journal(tmp_path / "journal.jsonl")
    bare = write_plan(tmp_path, "bare.yaml")
    assert "no reconciliation section" in refused(cockpit("reconcile", str(bare)))
    plan = _net_plan(tmp_path, free_port(), free_port())
    assert "unknown table 'nope'" in refused(cockpit("reconcile", str(plan), "--table", "nope"))
    assert "unknown layer 'nope'" in refused(cockpit("reconcile", str(plan), "--layer", "nope"))
    assert (tmp_path / "journal.jsonl").read_bytes() == before


def test_reconcile_on_an_unreachable_database_is_not_clean_anywhere(tmp_path):
    plan = _net_plan(tmp_path, free_port(), free_port())
    proc = cockpit("reconcile", str(plan), "--no-journal")
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    layer_lines = [ln for ln in proc.stdout.splitlines() if ln.split(" ")[0] in
                   ("SCHEMA", "COUNTS", "CONTENT")]
    assert len(layer_lines) == 3
    for line in layer_lines:  # one connect error must not leave the other layers saying "clean"
        assert "clean" not in line, line
    assert "NOT CHECKED" in proc.stdout


def test_reconcile_with_the_journal_held_by_another_writer_records_nothing(tmp_path):
    plan = _net_plan(tmp_path, free_port(), free_port())
    make_journal(tmp_path / "journal.jsonl")
    holder = Journal.open(tmp_path / "journal.jsonl", cutover_id="robust-1")
    try:
        before = (tmp_path / "journal.jsonl").read_bytes()
        proc = cockpit("reconcile", str(plan))
        assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
        assert "in use by a running cockpit" in proc.stderr
        assert (tmp_path / "journal.jsonl").read_bytes() == before
    finally:
        holder.close()


# -- run / demo without a terminal -----------------------------------------------------------

@pytest.mark.parametrize(("extra", "words"), [
    ([], "needs a terminal"),
    (["--layout", "bogus"], "no layout 'bogus'"),
    (["--operator", "mallory"], "operator 'mallory' is not in this plan"),
])
def test_run_refuses_without_creating_a_journal(tmp_path, extra, words):
    plan = write_plan(tmp_path)
    extra = extra if "--operator" in extra else [*extra, "--operator", "ann"]
    err = refused(cockpit("run", str(plan), *extra))
    assert words in err
    assert list(tmp_path.iterdir()) == [plan]


@pytest.mark.parametrize(("extra", "words"), [
    ([], "needs a terminal"),
    (["--layout", "bogus"], "no layout 'bogus'"),
    (["--operator", "mallory"], "operator 'mallory' is not in this plan"),
])
def test_demo_refused_leaves_no_temporary_folder_behind(tmp_path, extra, words):
    tmp, state = tmp_path / "tmp", tmp_path / "state"
    tmp.mkdir()
    state.mkdir()
    err = refused(cockpit("demo", *extra, env={"TMPDIR": str(tmp), "XDG_STATE_HOME": str(state)}))
    assert words in err
    assert list(tmp.iterdir()) == [] and list(state.iterdir()) == []


def _in_a_pty(argv: list[str], timeout: float = 15) -> tuple[int | None, str]:
    """Run with stdin/stdout on a pseudo-terminal (the refusal must come before any screen)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=BASE_ENV)
    os.close(slave)
    deadline = time.monotonic() + timeout
    try:
        while p.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        p.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return p.returncode, p.stderr.read().decode()


@pytest.mark.parametrize("journal", ["jdir", "/proc/self/cockpit-robust.jsonl"])
def test_run_on_a_terminal_refuses_a_journal_it_cannot_write(tmp_path, journal):
    (tmp_path / "jdir").mkdir()
    plan = write_plan(tmp_path, cutover__journal=journal)
    rc, err = _in_a_pty([COCKPIT, "run", str(plan), "--operator", "ann"])
    assert rc == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and "cannot open journal" in err
    assert list((tmp_path / "jdir").iterdir()) == []


# -- the environment -------------------------------------------------------------------------

def test_bare_environment_no_home_no_term_no_lang(tmp_path):
    plan = write_plan(tmp_path)
    make_journal(tmp_path / "journal.jsonl")
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    for argv, rc in ((["check", str(plan)], 0), (["status", str(plan)], 0), (["gates", str(plan)], 0),
                     (["journal", "verify", str(tmp_path / "journal.jsonl")], 0)):
        proc = cockpit(*argv, env=env, replace_env=True)
        assert proc.returncode == rc and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
        assert "\x1b[" not in proc.stdout


@pytest.mark.parametrize("env", [
    {"LANG": "C"},
    {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    {"PYTHONIOENCODING": "ascii"},
    {"PYTHONIOENCODING": "latin-1"},
], ids=["LANG=C", "LC_ALL=C-no-utf8-mode", "ascii", "latin-1"])
def test_non_ascii_titles_and_notes_under_a_non_utf8_locale(tmp_path, env):
    plan = write_plan(tmp_path)
    journal = tmp_path / "journal.jsonl"
    make_journal(journal)
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}
    for argv, rc in ((["check", str(plan)], 0), (["status", str(plan)], 0), (["gates", str(plan)], 0),
                     (["journal", "show", str(journal)], 0)):
        proc = cockpit(*argv, env=base, replace_env=True)
        assert proc.returncode == rc and "Traceback" not in proc.stdout + proc.stderr, (argv, proc.stderr)
        assert not proc.stderr, (argv, proc.stderr)
        assert "Pr" in proc.stdout or "note 4" in proc.stdout or "lag_ok" in proc.stdout
    # JSON stays exact whatever the terminal can show: the parser reads back the very strings
    shown = cockpit("journal", "show", str(journal), "--json", env=base, replace_env=True)
    assert shown.returncode == 0
    assert [json.loads(line)["note"] for line in shown.stdout.splitlines()][-1] == "note 4 é 🚑"
    status = cockpit("status", str(plan), "--json", env=base, replace_env=True)
    assert status.returncode == 0 and json.loads(status.stdout)


def test_an_empty_expect_head_is_not_a_silent_pass(tmp_path):
    path = tmp_path / "j.jsonl"
    make_journal(path)
    err = refused(cockpit("journal", "verify", str(path), "--expect-head", ""))
    assert "empty" in err
