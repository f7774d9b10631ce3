"""Reconciliation: runs and the divergences each found between the DOM and its partners.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("findings", sa.Integer, nullable=False, server_default="0"),
        sa.Column("repaired", sa.Integer, nullable=False, server_default="0"),
        sa.Column("escalated", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_reconcile_runs_started", "reconcile_runs", ["started_at"])
    op.create_table(
        "reconcile_findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=True),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("action_detail", sa.String(500), nullable=False, server_default=""),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('repaired', 'escalated', 'not-repaired')", name="ck_reconcile_action"
        ),
    )
    op.create_index(
        "uq_reconcile_findings_run_key", "reconcile_findings", ["run_id", "key"], unique=True
    )
    op.create_index("ix_reconcile_findings_key", "reconcile_findings", ["key"])


def downgrade() -> None:
    op.drop_index("ix_reconcile_findings_key", "reconcile_findings")
    op.drop_index("uq_reconcile_findings_run_key", "reconcile_findings")
    op.drop_table("reconcile_findings")
    op.drop_index("ix_reconcile_runs_started", "reconcile_runs")
    op.drop_table("reconcile_runs")
