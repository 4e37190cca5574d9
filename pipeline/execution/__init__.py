"""Execution: trade a Production model on a broker, behind risk checks, with a ledger (paper by default)."""
