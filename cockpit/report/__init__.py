"""The evidence pack: index.html, evidence.md, evidence.json, the journal and its manifest."""
