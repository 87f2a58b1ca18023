"""A random value per applicant that every session of theirs carries; signing out
replaces it, which ends every copy of their session cookie (intake/sessions.py).

Existing applicants get "" (which matches no session): their open sessions, made
before sessions could end on the server, end at the upgrade; signing in again
gives them a value.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "applicants",
        sa.Column("session_epoch", sa.String(length=32), nullable=False, server_default=""),
    )


def downgrade() -> None:
    # In place (SQLite 3.35 or newer): batch mode would copy the table, which the
    # submissions' and replies' foreign keys to it do not allow.
    op.drop_column("applicants", "session_epoch")
