"""An alert's life, decided without I/O: given the open alerts and this evaluation's findings,
which alerts open, which refresh their evidence, which count one more clean evaluation and which
resolve. The activity applies the plan with conditional updates.

Hysteresis: an open alert resolves only after `clear_after` evaluations in a row found its
condition clear; a finding in between resets the count, so a condition that flickers keeps one
alert open instead of opening and resolving it every minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dom_workflows.alerts.models import Alert, Finding


@dataclass
class Plan:
    open: list[Finding] = field(default_factory=list)
    refresh: list[tuple[Alert, Finding]] = field(default_factory=list)
    clearing: list[tuple[Alert, int]] = field(default_factory=list)  # (alert, clean count)
    resolve: list[tuple[Alert, str]] = field(default_factory=list)  # (alert, resolution)


def plan(
    open_alerts: list[Alert],
    findings: list[Finding],
    clear_after: dict[str, int],
    failed_rules: set[str],
) -> Plan:
    """`clear_after`: rule id -> clean evaluations to resolve, for the enabled rules that were
    evaluated; an open alert of a rule not in it (disabled or deleted) resolves at once.
    `failed_rules`: rules whose check raised this time; their alerts are left as they are."""
    result = Plan()
    found = {f.key: f for f in findings}
    by_key = {a.key: a for a in open_alerts}
    for key, finding in found.items():
        alert = by_key.get(key)
        if alert is None:
            result.open.append(finding)
        else:
            result.refresh.append((alert, finding))
    for alert in open_alerts:
        if alert.key in found or alert.rule_id in failed_rules:
            continue
        needed = clear_after.get(alert.rule_id)
        if needed is None:
            result.resolve.append((alert, "rule disabled or removed"))
            continue
        clean = alert.clean_evaluations + 1
        if clean >= needed:
            result.resolve.append((alert, f"clear for {clean} evaluation(s)"))
        else:
            result.clearing.append((alert, clean))
    return result
