"""A refusal of authority is journalled through the action API too, not only from a key."""

from __future__ import annotations

import pytest

from cockpit.clock import ManualClock
from cockpit.journal import Journal
from cockpit.runbook import Refused
from tests.test_identity import CHECKED, ops_as, plan_with
from tests.test_runbook_rules import gates


@pytest.mark.parametrize("action", ["step.confirm", "step.skip"])
def test_confirm_or_skip_without_authority_journals_the_refusal(tmp_path, action):
    plan = plan_with(tmp_path, CHECKED)
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id=plan.cutover.id,
                           clock=ManualClock(1_800_000_000.0))
    try:
        ana = ops_as(plan, "ana1", "rhaddad", journal)
        with pytest.raises(Refused, match="may not work S1"):
            if action == "step.confirm":
                ana.confirm("S1", gates())
            else:
                ana.skip("S1", "NOT_APPLICABLE", gates=gates())
        [refused] = journal.entries
        assert refused.action == "access.refused" and refused.subject == action
        assert refused.data == {"target": "S1"} and refused.actor.os_user == "rhaddad"
        # The step's owner may: nothing more is refused, the step is done.
        dba = ops_as(plan, "dba1", "jlind", journal)
        entry = dba.confirm("S1", gates()) if action == "step.confirm" else dba.skip(
            "S1", "NOT_APPLICABLE", gates=gates())
        assert entry.action == action and [e.action for e in journal.entries] == [
            "access.refused", action]
    finally:
        journal.close()
