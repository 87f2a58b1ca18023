"""Team records carried blind: a random id, the day received, the day first exported.

Envelopes the reviewers write for each other (docs/team.md), stored from a
replies bundle and put into the next submissions bundle; nothing in the row
links one to a case, a reply or an applicant.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_blobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("exported_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_team_blobs_day", "team_blobs", ["day"], unique=False)
    op.create_index("ix_team_blobs_exported_day", "team_blobs", ["exported_day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_team_blobs_exported_day", table_name="team_blobs")
    op.drop_index("ix_team_blobs_day", table_name="team_blobs")
    op.drop_table("team_blobs")
