"""Reconciliation: prove layer by layer that the target holds what the source did."""
