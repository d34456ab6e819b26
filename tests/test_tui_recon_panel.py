"""The reconciliation summary keeps its columns aligned whatever the table names."""

from __future__ import annotations

from types import SimpleNamespace

from cockpit.tui.panels.recon import recon_text


def test_columns_line_up_with_short_and_long_names():
    data = {"tables": {
        "patients": {"source_rows": 48210, "target_rows": 48210},
        "medication_orders": {"source_rows": 912044, "target_rows": 912043, "missing": 1},
    }}
    state = SimpleNamespace(last_recon=(0.0, data), exceptions={})
    rows = recon_text(state).plain.splitlines()[:3]
    # The right edge of the numbers is in the same column on every row.
    ends = {len(row.rstrip()) for row in rows}
    assert len(ends) == 1, rows
    assert rows[1].startswith("patients ") and rows[2].startswith("medication_orders ")
