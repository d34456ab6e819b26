"""The journal's entries sequence (cockpit.journal.entries): a verified prefix decoded line by
line as it is read must be, for every reader, the list the full rule gives.

Property: for arbitrary entries (any action, subject, note and data text, quotes, backslashes
and escapes included), the lazy sequence over their lines equals the parsed list under every
way of reading it (indexes, negative indexes, slices with any step, iteration, reversed), and
``with_action`` (which picks lines by their first bytes, without decoding) finds exactly the
entries of that action. Copies grow on their own.
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cockpit.journal import GENESIS, Actor, lines
from cockpit.journal.entries import Entries
from cockpit.journal.entry import build

CUT = "ent-cut"
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
_tricky = st.sampled_from(['note', 'no"te', 'note\\', 'note",', '{"action":"note",', 'é', '', 'a\n'])
_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | _text | _tricky,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text | _tricky, inner, max_size=3),
                     max_leaves=6)
_spec = st.tuples(_text | _tricky, st.none() | _text | _tricky, st.none() | _text | _tricky, _json)


def _journal(specs) -> tuple[bytes, list]:
    actor = Actor("op", "u", "h", None, 7, "s")
    out, prev = [], GENESIS
    for seq, (action, subject, note, data) in enumerate(specs, 1):
        e = build(seq, 1.75e9 + seq, CUT, actor, action, subject=subject, reason_code=None,
                  note=note, data=data, prev=prev)
        out.append(e)
        prev = e.hash
    return b"".join(e.line() for e in out), out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(_spec, min_size=1, max_size=12), data=st.data())
def test_the_lazy_prefix_reads_as_the_parsed_list(specs, data):
    blob, built = _journal(specs)
    parsed = lines.parse(blob, cutover=CUT)
    assume(parsed.damage is None and parsed.fast)  # what a checkpoint can vouch for
    full = parsed.entries
    assert full == built
    head = (full[-1].seq, full[-1].hash)

    def fresh() -> Entries:
        lazy = lines.parse_verified(blob, len(blob), cutover=CUT, head=head)
        assert lazy is not None
        return lazy

    lazy = fresh()
    n = len(full)
    assert len(lazy) == n
    i = data.draw(st.integers(-n, n - 1))
    assert lazy[i] == full[i] and lazy[i].wall == full[i].wall
    start, stop = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([1, 1, 2, -1, 3]))
    assert fresh()[start:stop:step] == full[start:stop:step]
    assert list(fresh()) == full and list(reversed(fresh())) == full[::-1]
    # An action's lines, picked by their bytes before any is decoded, and after some are.
    actions = {e.action for e in full} | {data.draw(_text | _tricky)}
    for read in (fresh(), lazy):
        for a in sorted(actions):
            assert read.with_action(a) == [e for e in full if e.action == a]
    # A copy shares the prefix and grows on its own.
    lazy = fresh()
    other = lazy.copy()
    other.append(full[0])
    assert len(lazy) == n and len(other) == n + 1 and other[-1] == full[0]
    assert other[:n] == full == lazy


def test_an_empty_sequence_and_plain_entries_read_as_lists():
    _, built = _journal([("note", None, "x", {"i": i}) for i in range(5)])
    seq = Entries(built)
    assert seq == built and seq[1:3] == built[1:3] and seq.undecoded() == 0
    assert seq.with_action("note") == built
    assert Entries() == [] and not Entries()
