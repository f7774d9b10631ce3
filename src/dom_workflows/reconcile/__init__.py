"""Reconciliation: what the partners hold (nodes, payment provider, carrier) and the DOM's ledger,
compared with the DOM's orders; safe divergences repaired, the rest escalated to ops."""
