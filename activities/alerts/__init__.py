"""Alerts against the DOM database and Temporal visibility: rules, evaluation, the webhook."""
