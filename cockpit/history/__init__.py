"""Signal history: gate changes exactly and each signal down-sampled per minute, in SQLite
beside the journal. Evidence's helper, not the truth: the journal stays the record of actions."""
