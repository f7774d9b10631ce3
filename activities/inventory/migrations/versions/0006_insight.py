"""Insight: routing decisions, shipment outcomes and money per order, for KPIs and reports.

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
