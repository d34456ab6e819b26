"""Modal screens. Each one returns what the operator chose (or None for cancel) and writes
nothing itself: the app turns the choice into one ``Operations`` call."""
