"""Following a journal another thread appends to: an entry appended between the fold's slice
of ``journal.entries`` and its count is folded in on the next read, never skipped (both the
forecast's ``Forecaster`` and ``Operations.state`` follow the list the same way).

The interleaving is made deterministic: the list appends an entry while it is being sliced,
as the writer thread could between the two reads."""

from __future__ import annotations

from cockpit.journal import Actor
from cockpit.runbook.forecast import Forecaster
from tests.test_forecast import REHEARSED, Night, make_plan


class AppendsWhileSliced(list):
    """A list that, the first time it is sliced, gets one more entry right after."""

    def __init__(self, items, late_entry):
        super().__init__(items)
        self.late = late_entry

    def __getitem__(self, key):
        out = super().__getitem__(key)
        if isinstance(key, slice) and self.late is not None:
            late, self.late = self.late, None
            self.append(late)
        return out


def _night_with_a_late_confirm(tmp_path):
    night = Night(make_plan(tmp_path))
    night.confirm("P1", 15)
    entries = list(night.journal.entries)
    *before, late = entries
    return night, before, late


def test_the_forecaster_folds_an_entry_appended_while_it_read(tmp_path):
    night, before, late = _night_with_a_late_confirm(tmp_path)
    f = Forecaster(night.plan, REHEARSED)
    racing = AppendsWhileSliced(before, late)
    f.forecast(racing, night.clock.now())  # sliced before P1's confirm; it lands meanwhile
    fc = f.forecast(racing, night.clock.now())
    assert "P1" not in fc.active  # P1's confirm was folded in on the second read
    assert fc == night.forecast()
    night.journal.close()


def test_operations_state_folds_an_entry_appended_while_it_read(tmp_path):
    from cockpit.runbook import Operations, StepStatus

    night, before, late = _night_with_a_late_confirm(tmp_path)
    ops = Operations(night.plan, night.journal, Actor.current("lead1"))
    night.journal.entries = AppendsWhileSliced(before, late)
    ops.state  # noqa: B018 - sliced before P1's confirm; it lands meanwhile
    assert ops.state.steps["P1"].status is StepStatus.DONE
    night.journal.close()
