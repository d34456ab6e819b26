"""Untrusted text is text in every line ``check``, ``status`` and ``journal show`` print.

Each case puts escape sequences (7-bit and the 8-bit C1 forms), bidi overrides and invisible
characters where a plan author or anyone able to write the journal can put them, runs the
verb, and asserts that no such character reaches stdout or stderr.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from cockpit.cli import main as cli
from cockpit.commands.common import emit, json_text
from cockpit.journal.entry import GENESIS, canonical, chain_hash
from tests.test_runbook_rules import make_plan

OSC = "\x1b]0;pwned\x07"
C1_CSI = "\x9b2J"
HOSTILE = f"{OSC}\x1b[31m{C1_CSI}\u202e\u200b\U000e0041"


def _unsafe(text: str) -> list[str]:
    return [hex(ord(c)) for c in text
            if (unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") and c != "\n")
            or 0xE0000 <= ord(c) <= 0xE007F]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    out = capsys.readouterr()
    assert not _unsafe(out.out), _unsafe(out.out)
    assert not _unsafe(out.err), _unsafe(out.err)
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def _yaml_escaped(text: str) -> str:
    """``text`` as the inside of a double-quoted YAML scalar (\\x1b, \\x9b, \\u202e...)."""
    out = ""
    for ch in text:
        cp = ord(ch)
        if 0x20 <= cp < 0x7F and ch not in '"\\':
            out += ch
        else:
            out += f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"
    return out


def test_check_summary_shows_titles_as_text(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    text = (Path(__file__).parent / "plans" / "valid_minimal.yaml").read_text()
    text = text.replace("name: Minimal cutover", f'name: "Minimal{_yaml_escaped(HOSTILE)} cutover"')
    text = text.replace("title: Before\n", f'title: "Before{_yaml_escaped(HOSTILE)}"\n')
    text = text.replace("title: Back\n", f'title: "Back\\x9d0;t\\x9c{_yaml_escaped(HOSTILE)}"\n')
    plan.write_text(text)
    code, out, _ = _run(capsys, "check", str(plan))
    assert code == 0
    assert "OK  Minimal cutover (mini-1)" in out
    assert "Before" in out and "Back" in out and "pwned" not in out


def test_check_errors_show_unknown_keys_as_text(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    text = (Path(__file__).parent / "plans" / "valid_minimal.yaml").read_text()
    text = text.replace("    hold_for: 1m\n", f'    hold_for: 1m\n    "x{_yaml_escaped(HOSTILE)}\\ny": 1\n')
    plan.write_text(text)
    code, _, err = _run(capsys, "check", str(plan))
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and "unknown key 'x" in lines[0] and lines[0].startswith(f"{plan}:23:5: ")


def _journal(path: Path, rows: list[dict]) -> None:
    """A journal with a valid chain (so nothing is refused), written the way the byte rule says."""
    prev, out = GENESIS, b""
    for seq, row in enumerate(rows, 1):
        entry = {"seq": seq, "ts": "2026-11-28T22:00:00.000Z", "cutover": "t-cut", "subject": None,
                 "reason_code": None, "note": None, "data": None, "prev": prev,
                 "actor": {"operator": "lead1", "os_user": "u", "host": "h", "ssh_client": None,
                           "pid": 1, "session": "s"}} | row
        entry["hash"] = prev = chain_hash(prev, canonical(entry))
        out += canonical(entry) + b"\n"
    path.write_bytes(out)


def _actor(name: str) -> dict:
    return {"operator": name, "os_user": "u", "host": "h", "ssh_client": None, "pid": 1, "session": "s"}


def test_status_shows_operator_names_from_the_journal_as_text(tmp_path, capsys):
    plan = make_plan(tmp_path)
    _journal(plan.journal_path, [
        {"action": "session.start", "actor": _actor(f"lead1{HOSTILE}")},
        {"action": "gate.override", "subject": f"g1{OSC}", "actor": _actor(f"lead1{OSC}\x9b1;1H"),
         "reason_code": f"KNOWN_ISSUE{C1_CSI}", "data": {"step": "S3\x1b[2K", "gate": "g1"}},
        {"action": "rollback.start", "actor": _actor(f"lead2{OSC}\u2066"), "reason_code": f"DATA_MISMATCH{OSC}"},
    ])
    code, out, _ = _run(capsys, "status", str(plan.path))
    assert code == 0
    assert "ROLLBACK ACTIVE" in out and "by lead2 [DATA_MISMATCH]" in out
    assert "overrides: g1 for S3 by lead1 [KNOWN_ISSUE]" in out


def test_journal_show_cleans_ts_and_action(tmp_path, capsys):
    # A `ts` with U+009B (C1 CSI) as its separator: fromisoformat accepted it; the journal's
    # byte rule now makes it damage at its seq, and the damage line is shown as text.
    journal = tmp_path / "j.jsonl"
    _journal(journal, [{"action": "note", "ts": "2026-11-28\x9b22:00:00.000Z",
                        "note": f"hello{HOSTILE}"}])
    code, out, err = _run(capsys, "journal", "show", str(journal))
    assert code == 1 and out == "" and "damaged at seq 1" in err
    _journal(journal, [
        {"action": "note", "note": f"hello{HOSTILE}"},
        {"action": f"note{OSC}\x9b31m", "subject": f"s{OSC}"},
    ])
    code, out, _ = _run(capsys, "journal", "show", str(journal))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2026-11-28T22:00:00.000Z  #1") and '"hello"' in lines[0]
    assert "  note  s" in lines[1]
    _, out, _ = _run(capsys, "journal", "show", str(journal), "--json")
    # JSON stays exact (a parser reads back the very bytes), but escaped on the terminal.
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["note", f"note{OSC}\x9b31m"]


def test_emit_is_one_line_per_argument(capsys):
    emit("a\nforged line", f"b{OSC}", None)
    assert capsys.readouterr().out == "a forged line\nb\n\n"


def test_json_text_escapes_what_clean_would_remove():
    value = {"k": f"é漢😀{HOSTILE}\x7f", f"key{C1_CSI}": 1}
    text = json_text(value, ensure_ascii=False)
    assert not _unsafe(text) and "\x7f" not in text
    assert json.loads(text) == value
    assert "é漢😀" in text


def test_log_records_on_stderr_are_cleaned():
    import logging
    import sys

    from cockpit.commands.common import _OneLine

    try:
        raise ValueError(f"bad{OSC}\nsecond line")
    except ValueError:
        record = logging.LogRecord("cockpit.test", logging.ERROR, __file__, 1, "source said %s",
                                   (f"x{C1_CSI}",), sys.exc_info())
    line = _OneLine().format(record)
    assert not _unsafe(line) and "\n" not in line
    assert line == "cockpit: error: source said x: ValueError: bad second line"
