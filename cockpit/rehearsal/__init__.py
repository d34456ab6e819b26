"""Rehearsal game days: scenario files, scripted sources and faults, a scripted
reconciliation, and the rules that keep a rehearsal journal apart from a real night's.
Headless: nothing here knows about Textual."""
