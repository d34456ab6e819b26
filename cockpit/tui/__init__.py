"""The Textual view of the cockpit: a thin layer over the engine and the journal-derived state.

Every operator action takes one path: key -> action method -> ``Operations.<verb>`` (journal
append with fsync) -> re-read ``operations.state`` -> panels refresh.
"""
