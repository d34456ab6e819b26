"""A target's answer is untrusted input: whatever status, ``Retry-After``, ``Date`` and body a
real loopback server sends, one attempt is an outcome (never an exception), delivered exactly
for 2xx, permanent exactly for a 3xx or a 4xx other than 408/429, and a retry delay is within
0 to 1 h. Property tests, on the parser and against a real server."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.notify.deliver import RETRY_AFTER_CAP_S, retry_after, send
from cockpit.notify.events import probe_message
from tests.fixtures.httpserver import HttpTestServer, Reply
from tests.notify_support import TOKEN, hook_target, notify_plan

header_text = st.one_of(st.text(max_size=40), st.integers(-10, 10**9).map(str),
                        st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT", "0", "  120 ", "1e3",
                                         "Mon, 99 Foo 2015 99:99:99 GMT", "-5", "\u0663\u0660"]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), header_text), st.one_of(st.none(), header_text))
def test_any_retry_after_is_a_bounded_delay_or_none(value, date):
    delay = retry_after(value, date)
    assert delay is None or 0.0 <= delay <= RETRY_AFTER_CAP_S


_safe_header = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(200, 599), _safe_header, st.binary(max_size=2000))
def test_any_answer_of_a_real_server_is_one_outcome(tmp_path, status, retry, body):
    with HttpTestServer() as server:
        server.route(f"/hook/{TOKEN}", Reply(status, body, headers={"Retry-After": retry}))
        plan = notify_plan(tmp_path, hook_target(extra="      timeout: 5s\n"),
                           {"HOOK_CHAT": f"{server.url}/hook/{TOKEN}"})
        outcome = send(plan, "chat", probe_message(plan, 1_800_000_000.0, "t"), "t-cut:0:chat")
    assert outcome.delivered == (200 <= status < 300)
    assert outcome.permanent == (not outcome.delivered and status < 500 and status not in (408, 429))
    assert outcome.retry_after is None or 0 <= outcome.retry_after <= RETRY_AFTER_CAP_S
    assert TOKEN not in outcome.error and "\n" not in outcome.error
