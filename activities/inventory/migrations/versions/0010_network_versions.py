"""Network versions: nodes, SLAs, capacities, calendars and routing rules as versioned data, with scopes.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "network_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("comment", sa.String(500), nullable=False, server_default=""),
        sa.Column("rollback_of", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # batch: SQLite cannot ALTER a table beyond adding plain columns.
    with op.batch_alter_table("routing_decisions") as batch:
        batch.add_column(sa.Column("network_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("policy_version", sa.String(80), nullable=True))
        batch.add_column(sa.Column("scopes", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_decisions") as batch:
        batch.drop_column("scopes")
        batch.drop_column("policy_version")
        batch.drop_column("network_version")
    op.drop_table("network_versions")
