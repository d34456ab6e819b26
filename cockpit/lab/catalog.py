"""The faults a lab can inject, by name (kebab-case), with their help: no heavy imports, since
the command-line parser lists them on every start."""

from __future__ import annotations

# Up in about 8 s here (initdb, load, initial copy, service); see the README, "The lab".
DEFAULT_PATIENTS = 2000
DEFAULT_DIR = ".cockpit-lab"

FAULTS: dict[str, str] = {
    "pause-replication": "disable the subscription; new encounters keep arriving on legacy",
    "resume-replication": "enable the subscription again (catch-up is real)",
    "corrupt-rows": "change N patients on the cloud side (default 5)",
    "delete-attachments": "delete N attachments (rows and files) on the cloud side (default 5)",
    "duplicate-mrns": "give N cloud patients another patient's MRN (default 3)",
    "ticket-surge": "N chart-access tickets on the help desk (default 40)",
    "slow-queries": "the clinical portal's chart open takes 2.5 s",
    "clear": "undo every fault that can be undone (and resume replication)",
}
DEFAULT_COUNT = {"corrupt-rows": 5, "delete-attachments": 5, "duplicate-mrns": 3,
                 "ticket-surge": 40, "pause-replication": 20}
