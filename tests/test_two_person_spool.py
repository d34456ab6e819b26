"""The approval spool: a watching cockpit on the same host answers a two-person request
through the file journal another cockpit holds, and the spool is a trust boundary.

The files here are written by this test's own login: the "second person" is another name in
another session under the same OS user (what a plan without ``logins`` allows); the owner
check is proven by an answer that claims another login."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import Actor, Journal, verify
from cockpit.journal.entry import _os_user
from cockpit.runbook import Operations
from cockpit.runbook.approvals import MAX_BYTES, Answer, Spool, SpoolError, parse
from tests.test_runbook_rules import Cockpit, _finish_before, gates, make_plan

LOGIN = _os_user()


def _setup(tmp: Path):
    ck = Cockpit(make_plan(tmp))
    _finish_before(ck)
    request = ck("app1").confirm("D1", gates(), typed="D1")
    watcher = Journal.open(ck.plan.journal_path, cutover_id=ck.plan.cutover.id, readonly=True)
    lead = Actor("lead1", LOGIN, "jump1", None, 4243, "watcher0001")
    return ck, request, watcher, Operations(ck.plan, watcher, lead, clock=ck.clock)


def test_a_watching_cockpit_approves_through_the_spool(tmp_path):
    ck, request, watcher, lead = _setup(tmp_path)
    spool = Spool(watcher.path)
    path = spool.submit(Answer("approve", request.seq, lead.actor, "D1", "", {"g1": {"state": "GO"}}))
    assert path.parent == Path(str(ck.plan.journal_path) + ".approvals")
    assert oct(os.stat(path.parent).st_mode & 0o7777) == "0o2770"
    [taken] = Spool(ck.journal.path).take(ck("app1"), gates())  # the writer's tick
    assert taken.recorded and not path.exists()
    last = ck.journal.entries[-1]
    assert (last.action, last.subject, last.actor) == ("step.confirm", "D1", lead.actor)
    assert last.data["approval"] == {"request": request.seq, "requested_by": request.actor.to_json()}
    assert verify(ck.plan.journal_path).ok
    # The watcher sees the step done on its next follow, and its answer once.
    watcher.refresh()
    assert lead.state.steps["D1"].status.value == "done"
    assert spool.answers_for(lead.actor.session) == [
        f"approve of request #{request.seq} recorded (journal #{last.seq})"]
    assert spool.answers_for(lead.actor.session) == []
    watcher.close()
    ck.journal.close()


def test_the_writer_checks_every_rule_as_the_approver_and_answers_in_one_line(tmp_path):
    ck, request, watcher, lead = _setup(tmp_path)
    spool = Spool(watcher.path)
    n = len(ck.journal.entries)
    # The requester's own session answering is the same person.
    own = Actor("app1", LOGIN, "jump1", None, 1, "s-app1")
    spool.submit(Answer("approve", request.seq, own, "D1", ""))
    spool.submit(Answer("approve", request.seq, lead.actor, "d1", ""))  # the id mistyped
    lines = [t.line for t in Spool(ck.journal.path).take(ck("app1"), gates())]
    assert len(ck.journal.entries) == n
    assert sorted(spool.answers_for("s-app1") + spool.answers_for(lead.actor.session)) == sorted(lines)
    assert any("you cannot approve your own request for D1" in line for line in lines)
    assert any("type D1 to approve it" in line for line in lines)
    assert all(line.startswith("not recorded: ") and "\n" not in line for line in lines)
    watcher.close()
    ck.journal.close()


def test_an_answer_claiming_another_login_is_refused_by_the_file_owner(tmp_path):
    ck, request, watcher, lead = _setup(tmp_path)
    spool = Spool(watcher.path)
    n = len(ck.journal.entries)
    other = Actor("lead1", "not-" + LOGIN, "jump1", None, 4243, "watcher0001")
    spool.submit(Answer("approve", request.seq, other, "D1", ""))
    [taken] = Spool(ck.journal.path).take(ck("app1"), gates())
    assert not taken.recorded and len(ck.journal.entries) == n
    assert taken.line == (f"not read: the file belongs to {LOGIN}, not to not-{LOGIN}: an "
                          "answer is written by its own login")
    watcher.close()
    ck.journal.close()


def test_links_fifos_folders_and_huge_files_are_removed_unread_and_nothing_is_journalled(tmp_path):
    ck, request, watcher, lead = _setup(tmp_path)
    spool = Spool(watcher.path)
    good = spool.submit(Answer("approve", request.seq, lead.actor, "D1", ""))
    folder = good.parent
    target = tmp_path / "target.json"
    target.write_bytes(good.read_bytes())
    good.unlink()
    os.symlink(target, folder / "evil-1-0000abcd.json")
    os.mkfifo(folder / "fifo-1-0000abcd.json")
    (folder / "huge-1-0000abcd.json").write_bytes(b" " * (MAX_BYTES + 1))
    (folder / "bad name.json").write_bytes(b"{}")
    (folder / "sub-1-0000abcd.json").mkdir()
    n = len(ck.journal.entries)
    taken = Spool(ck.journal.path).take(ck("app1"), gates())
    assert len(ck.journal.entries) == n and not any(t.recorded for t in taken)
    by = {t.name: t.line for t in taken}
    assert by["evil-1-0000abcd.json"].startswith("not read: ")  # O_NOFOLLOW
    assert by["fifo-1-0000abcd.json"] == "not read: not a regular file"
    assert by["huge-1-0000abcd.json"] == f"not read: larger than {MAX_BYTES} bytes"
    assert by["bad name.json"] == "not read: not an answer file name"
    assert "sub-1-0000abcd.json" not in by  # a folder is left alone, never taken
    assert target.exists()  # the link's target was never touched
    left = sorted(p.name for p in folder.iterdir())
    assert left == ["evil-1-0000abcd.answer", "fifo-1-0000abcd.answer", "huge-1-0000abcd.answer",
                    "sub-1-0000abcd.json"]
    watcher.close()
    ck.journal.close()


def _valid_doc(request: int) -> dict:
    return Answer("approve", request, Actor("lead1", LOGIN, "jump1", None, 4243, "w1"), "D1",
                  "", {}).to_json()


hostile_text = st.text(st.characters(codec=None, categories=None), max_size=80)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=12)


@st.composite
def spool_files(draw):
    """Garbage bytes, JSON of any shape, or a valid answer with one field made hostile."""
    how = draw(st.sampled_from(["bytes", "json", "field", "actor"]))
    if how == "bytes":
        return draw(st.binary(max_size=2000))
    if how == "json":
        return json.dumps(draw(json_values)).encode()
    doc = _valid_doc(draw(st.integers(-3, 60)))
    if how == "field":
        doc[draw(st.sampled_from(sorted(doc)))] = draw(json_values)
    else:
        doc["actor"][draw(st.sampled_from(sorted(doc["actor"])))] = draw(json_values)
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(spool_files(), min_size=1, max_size=4),
       names=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="/\x00"),
                              min_size=1, max_size=40), max_size=2))
def test_hostile_spool_files_are_one_line_each_and_change_nothing_else(files, names):
    with tempfile.TemporaryDirectory() as tmp:
        ck, request, watcher, lead = _setup(Path(tmp))
        spool = Spool(watcher.path)
        folder = spool.submit(Answer("reject", request.seq, lead.actor, None, "x")).parent
        os.unlink(next(folder.glob("*.json")))
        for i, data in enumerate(files):
            (folder / f"w{i}-{request.seq}-0000abc{i}.json").write_bytes(data)
        for name in names:
            # (a ".tmp-" name is a submit in flight: left alone for a minute, by design)
            if name not in (".", "..") and not name.startswith(".tmp-") and len(name.encode()) < 200:
                (folder / name).write_bytes(b"{}")
        before = list(ck.journal.entries)
        taken = Spool(ck.journal.path).take(ck("app1"), gates())
        for t in taken:
            assert "\n" not in t.line and len(t.line) <= 300
        # Only a well-formed answer by this login can have been recorded, and only as an
        # answer to the one request there is.
        new = ck.journal.entries[len(before):]
        assert ck.journal.entries[:len(before)] == before
        assert all(e.action in ("step.confirm", "approval.reject", "approval.withdraw") for e in new)
        assert len(new) <= 1 and verify(ck.plan.journal_path).ok
        assert not [p for p in folder.iterdir() if p.name.endswith(".json")]
        watcher.close()
        ck.journal.close()


@given(st.binary(max_size=500) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_parse_is_an_answer_or_one_line(data):
    try:
        answer = parse(data)
    except SpoolError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert answer.kind in ("approve", "reject", "withdraw")
