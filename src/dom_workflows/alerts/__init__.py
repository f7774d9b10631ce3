"""Alerts: rules as data, evaluated by a Temporal Schedule; each alert opens once, updates while
its condition holds and resolves after it has been clear for a few evaluations."""
