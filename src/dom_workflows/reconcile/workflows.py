"""ReconciliationWorkflow: one run per day of the `dom-reconcile` Temporal Schedule (and per
`dom reconcile --via-temporal`).

Why a Schedule: reconciliation is periodic work over everything (partners, the ledger, every
order of the window), not any one order's life; the Schedule lives in the Temporal server, so it
survives restarts, skips a day rather than stacking runs, and ops can pause it or trigger a run
from the UI. The run's details (Temporal UI) list every finding with what was done, so the
history of runs is the history of divergences.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile.activities import ReconcileActivities
    from dom_workflows.reconcile.models import (
        DEFAULT_LOOKBACK,
        FindInput,
        ReconcileInput,
        ReconcileReport,
        SettleInput,
    )

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
)
DETAIL_ROWS = 50  # the UI's details stay readable; `dom reconcile --report` lists them all


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def details_markdown(report: ReconcileReport) -> str:
    head = (
        f"**Reconciliation since {report.since:%Y-%m-%d %H:%M} UTC**"
        + (" (dry run)" if report.dry_run else "")
        + f": {len(report.findings)} divergence(s), {report.count('repaired')} repaired, "
        f"{report.count('escalated')} escalated"
    )
    lines = [head, ""]
    if report.compared:
        lines.append(
            "Compared: " + ", ".join(f"{k} {v}" for k, v in sorted(report.compared.items()))
        )
        lines.append("")
    if report.findings:
        lines += ["| action | kind | subject | finding |", "|---|---|---|---|"]
        lines += [
            f"| {f.action} | {f.kind} | {_cell(f.subject)} | {_cell(f.summary)} |"
            for f in report.findings[:DETAIL_ROWS]
        ]
        if len(report.findings) > DETAIL_ROWS:
            lines.append(
                f"... and {len(report.findings) - DETAIL_ROWS} more: dom reconcile --report"
            )
    else:
        lines.append("No divergence: the DOM, its ledger and its partners agree.")
    for missing in report.not_compared:
        lines.append(f"- not compared: {missing}")
    return "\n".join(lines)


@workflow.defn
class ReconciliationWorkflow:
    @workflow.run
    async def run(self, inp: ReconcileInput | None = None) -> ReconcileReport:
        inp = inp or ReconcileInput()
        started = workflow.now()
        since = inp.since or started - DEFAULT_LOOKBACK
        found = await workflow.execute_activity_method(
            ReconcileActivities.find_divergences,
            FindInput(since=since, now=started, settle=inp.settle),
            start_to_close_timeout=timedelta(minutes=20),
            retry_policy=RETRY,
            summary=f"compare partners and ledger with the DOM since {since:%Y-%m-%d %H:%M}",
        )
        report = await workflow.execute_activity_method(
            ReconcileActivities.settle_divergences,
            SettleInput(
                run_id=workflow.info().workflow_id,
                trigger=inp.trigger,
                since=since,
                started_at=started,
                dry_run=inp.dry_run,
                found=found,
            ),
            start_to_close_timeout=timedelta(minutes=20),
            retry_policy=RETRY,
            summary=(
                f"{'record' if inp.dry_run else 'repair or escalate'} "
                f"{len(found.findings)} divergence(s)"
            ),
        )
        workflow.set_current_details(details_markdown(report))
        return report
