"""Returns: RMA headers and return lines (over-return protection per order line and shipment).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("rma_id", sa.String(160), primary_key=True),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exchange", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("order_id", "seq", name="uq_returns_order_seq"),
    )
    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rma_id", sa.String(160), sa.ForeignKey("returns.rma_id"), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("line_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("shipment_id", sa.String(200), nullable=False),
        sa.Column("capture_id", sa.String(200), nullable=True),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_qty", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resell", sa.Integer, nullable=False, server_default="0"),
        sa.Column("refurbish", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scrap", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("qty > 0", name="ck_return_line_qty_pos"),
        sa.CheckConstraint(
            "received_qty >= 0 AND received_qty <= qty", name="ck_return_line_received_le_qty"
        ),
        sa.CheckConstraint(
            "resell + refurbish + scrap = received_qty", name="ck_return_line_grades_sum"
        ),
        sa.CheckConstraint(
            "status IN ('opened', 'received', 'expired')", name="ck_return_line_status"
        ),
    )
    op.create_index(
        "ix_return_lines_order_line", "return_lines", ["order_id", "line_id", "shipment_id"]
    )
    op.create_index("ix_return_lines_rma", "return_lines", ["rma_id"])


def downgrade() -> None:
    op.drop_index("ix_return_lines_rma", table_name="return_lines")
    op.drop_index("ix_return_lines_order_line", table_name="return_lines")
    op.drop_table("return_lines")
    op.drop_table("returns")
