"""The cutover plan: YAML in, a validated typed :class:`Plan` out, or every problem at once."""

from cockpit.config.loader import load_plan
from cockpit.config.plan import DEFAULT_REASON_CODES, Gate, Plan
from cockpit.config.problems import PlanError
from cockpit.config.recon import Reconciliation
from cockpit.config.runbook import Phase, Runbook, Step
from cockpit.config.sources import Signal

__all__ = [
    "DEFAULT_REASON_CODES",
    "Gate",
    "Phase",
    "Plan",
    "PlanError",
    "Reconciliation",
    "Runbook",
    "Signal",
    "Step",
    "load_plan",
]
