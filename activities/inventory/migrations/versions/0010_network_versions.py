"""Network versions: nodes, SLAs, capacities, calendars and routing rules as versioned data, with scopes.

Revision ID: 0010
Revises: 0009
"""

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
