"""Order closures, escalations, snapshot as-of per position, longer movement kinds.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "order_closures",
        sa.Column("order_id", sa.String(120), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_units", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
    )
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=True),
        sa.Column("shipment_id", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.String(2000), nullable=False),
    )
    op.create_index("ix_escalations_order", "escalations", ["order_id"])
    op.add_column(
        "inventory_positions",
        sa.Column("last_snapshot_at", sa.DateTime(timezone=True), nullable=True),
    )
    # "unplanned-outbound" does not fit in 16 characters (SQLite copies the table to alter it).
    with op.batch_alter_table("movements") as batch:
        batch.alter_column(
            "kind", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("movements") as batch:
        batch.alter_column(
            "kind", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False
        )
    op.drop_column("inventory_positions", "last_snapshot_at")
    op.drop_index("ix_escalations_order", table_name="escalations")
    op.drop_table("escalations")
    op.drop_table("order_closures")
