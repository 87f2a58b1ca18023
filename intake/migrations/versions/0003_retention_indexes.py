"""Indexes for the retention purge: the days it selects rows by.

`flask --app intake purge` looks up submissions by the day they were
exported, replies by the day they were read and applicants by their last
active day; without these indexes each run reads every row.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_submissions_exported_day", "submissions", ["exported_day"])
    op.create_index("ix_replies_read_day", "replies", ["read_day"])
    op.create_index("ix_applicants_last_active_day", "applicants", ["last_active_day"])


def downgrade() -> None:
    op.drop_index("ix_applicants_last_active_day", table_name="applicants")
    op.drop_index("ix_replies_read_day", table_name="replies")
    op.drop_index("ix_submissions_exported_day", table_name="submissions")
