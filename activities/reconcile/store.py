"""Reconciliation runs and findings in the DOM database (migration 0008), and the report read
back from them (`dom reconcile --report`). Writing a run twice (a retried activity) records each
finding once: (run_id, key) is unique."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.db import utcnow
from dom_workflows.reconcile.models import Finding, ReconcileReport

runs = schema.reconcile_runs
findings = schema.reconcile_findings


async def record_run(engine: AsyncEngine, report: ReconcileReport) -> None:
    now = report.finished_at or utcnow()
    async with engine.begin() as conn:
        known = await conn.execute(sa.select(runs.c.id).where(runs.c.id == report.run_id))
        values = {
            "trigger": report.trigger,
            "since": report.since,
            "dry_run": report.dry_run,
            "started_at": report.started_at,
            "finished_at": now,
            "findings": len(report.findings),
            "repaired": report.count("repaired"),
            "escalated": report.count("escalated"),
        }
        if known.first() is None:
            await conn.execute(runs.insert().values(id=report.run_id, **values))
        else:
            await conn.execute(runs.update().where(runs.c.id == report.run_id).values(**values))
    for f in report.findings:
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    findings.insert().values(
                        run_id=report.run_id,
                        key=f.key[:300],
                        kind=f.kind,
                        subject=f.subject[:200],
                        order_id=f.order_id,
                        summary=f.summary[:500],
                        evidence=f.evidence,
                        action=f.action or "escalated",
                        action_detail=f.action_detail[:500],
                        found_at=now,
                    )
                )
        except IntegrityError:
            continue  # recorded by an earlier try of this run


async def latest_report(engine: AsyncEngine, run_id: str | None = None) -> ReconcileReport | None:
    """The newest run (or the one named) with its findings."""
    async with engine.connect() as conn:
        query = sa.select(runs)
        query = (
            query.where(runs.c.id == run_id)
            if run_id
            else query.order_by(runs.c.started_at.desc()).limit(1)
        )
        run = (await conn.execute(query)).first()
        if run is None:
            return None
        rows = await conn.execute(
            sa.select(findings).where(findings.c.run_id == run.id).order_by(findings.c.id)
        )
        found = [
            Finding(
                kind=r.kind,
                subject=r.subject,
                order_id=r.order_id,
                summary=r.summary,
                evidence=r.evidence,
                action=r.action,
                action_detail=r.action_detail,
            )
            for r in rows
        ]
    return ReconcileReport(
        run_id=run.id,
        trigger=run.trigger,
        since=_aware(run.since),
        started_at=_aware(run.started_at),
        finished_at=_aware(run.finished_at) if run.finished_at else None,
        dry_run=run.dry_run,
        findings=found,
    )


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive times; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
