"""The plan's notify section: each problem one ``FILE:LINE:COL: path: message`` line, a webhook
URL written into the plan refused (it is a secret), unknown event names named with a hint,
email's required keys, and ``cutover.timezone`` an IANA zone. A property test: whatever an
``events`` list holds, loading the plan is a plan or one line per problem, never a traceback."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config import PlanError
from cockpit.config.loader import load_plan
from tests.notify_support import notify_plan
from tests.test_runbook_rules import PLAN

LINE = re.compile(r"^.+:\d+:\d+: \S.*$")


def _errors(tmp_path, targets: str, env: dict[str, str] | None = None, text: str = PLAN) -> list[str]:
    with pytest.raises(PlanError) as exc:
        notify_plan(tmp_path, targets, env or {"HOOK": "http://127.0.0.1:9/x"}, text=text)
    assert all(LINE.match(line) and "\n" not in line for line in exc.value.lines)
    return exc.value.lines


def test_a_valid_section_loads_with_its_options(tmp_path):
    plan = notify_plan(tmp_path, """    chat:
      type: slack
      url: "${HOOK}"
      events: [step.fail, {gate.change: {only: [NO-GO], dwell: 2m}}, {journal.head: {every: 25}}]
      max_attempts: 3
""", {"HOOK": "http://127.0.0.1:9/x"})
    chat = plan.notify.targets["chat"]
    assert chat.url == "http://127.0.0.1:9/x" and chat.max_attempts == 3 and chat.timeout == 10.0
    gate = chat.wants("gate.change").gate
    assert (gate.only, gate.dwell) == (["NO-GO"], 120.0)
    assert chat.wants("journal.head").head.every == 25 and chat.wants("decision") is None


def test_a_webhook_url_written_into_the_plan_is_refused_at_its_line(tmp_path):
    lines = _errors(tmp_path, """    chat:
      type: slack
      url: "https://hooks.example/services/T0/B0/abcdef"
      events: [step.fail]
""")
    assert len(lines) == 1
    assert re.search(r"plan.yaml:\d+:12: notify.targets.chat.url: a webhook URL is a secret", lines[0])
    assert "abcdef" not in lines[0] and "${NOTIFY_CHAT_URL}" in lines[0]


def test_an_unknown_event_is_named_with_a_hint(tmp_path):
    lines = _errors(tmp_path, """    chat:
      type: webhook
      url: "${HOOK}"
      events: [step.confirm, step.fial]
""")
    assert len(lines) == 1
    assert "notify.targets.chat.events: unknown event 'step.fial' (did you mean 'step.fail'?)" in lines[0]


def test_an_unknown_type_and_an_incomplete_email_target_are_each_one_line(tmp_path):
    lines = _errors(tmp_path, """    pager:
      type: sms
      url: "${HOOK}"
      events: [step.fail]
    mail:
      type: email
      host: smtp.example.org
      events: [step.fail]
""")
    assert any("notify.targets.pager.type: a target's type is one of slack, teams, mattermost, webhook, email" in x
               for x in lines)
    assert any("notify.targets.mail.port: missing required key 'port'" in x for x in lines)
    assert any("missing required key 'to'" in x for x in lines)


def test_an_inline_smtp_password_is_refused_like_any_secret(tmp_path):
    lines = _errors(tmp_path, """    mail:
      type: email
      host: smtp.example.org
      port: 587
      from: cockpit@example.org
      to: [bridge@example.org]
      user: cockpit
      password: hunter2-plain
      events: [step.fail]
""")
    assert any("notify.targets.mail.password: secret written inline" in x for x in lines)
    assert not any("hunter2" in x for x in lines)


def test_a_password_is_never_sent_without_starttls(tmp_path):
    lines = _errors(tmp_path, """    mail:
      type: email
      host: smtp.example.org
      port: 25
      from: cockpit@example.org
      to: [bridge@example.org]
      user: cockpit
      password: "${SMTP_PASSWORD}"
      starttls: false
      events: [step.fail]
""", {"SMTP_PASSWORD": "pw-123456"})
    assert any("a password is sent only over STARTTLS" in x for x in lines), lines
    assert not any("pw-123456" in x for x in lines)


def test_the_time_zone_is_an_iana_name(tmp_path):
    good = PLAN.replace("  name: test cutover\n", "  name: test cutover\n  timezone: Europe/Stockholm\n")
    plan = notify_plan(tmp_path, "    chat: {type: webhook, url: \"${HOOK}\", events: [decision]}\n",
                       {"HOOK": "http://127.0.0.1:9/x"}, text=good)
    assert plan.cutover.timezone == "Europe/Stockholm"
    bad = PLAN.replace("  name: test cutover\n", "  name: test cutover\n  timezone: Mars/Olympus\n")
    lines = _errors(tmp_path, "    chat: {type: webhook, url: \"${HOOK}\", events: [decision]}\n", text=bad)
    assert lines == [f"{tmp_path / 'plan.yaml'}:6:13: cutover.timezone: 'Mars/Olympus' is not an IANA "
                     "time zone (e.g. Europe/Stockholm)"]


_events = st.lists(st.one_of(
    st.text(max_size=20), st.integers(), st.none(),
    st.dictionaries(st.text(max_size=12), st.one_of(st.text(max_size=8), st.integers(),
                                                    st.dictionaries(st.text(max_size=6), st.text(max_size=6))),
                    max_size=2)), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_events)
def test_whatever_an_events_list_holds_the_plan_loads_or_says_why_in_lines(tmp_path, events):
    path = tmp_path / "fuzz.yaml"
    section = yaml.safe_dump({"notify": {"targets": {"chat": {"type": "webhook", "url": "${HOOK}",
                                                              "events": events}}}})
    path.write_text(PLAN + section)
    try:
        load_plan(path, env={"HOOK": "http://127.0.0.1:9/x"})
    except PlanError as exc:
        assert exc.lines
        assert all(LINE.match(line) for line in exc.lines)
