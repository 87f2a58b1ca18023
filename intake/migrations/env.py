"""Alembic's environment: run migrations on the connection `intake.migrate` hands in.

`intake.migrate` puts an open SQLAlchemy connection in
`config.attributes["connection"]`; the migrations run on it, in its
transaction. There is no offline (SQL script) mode: the server migrates its
own database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from intake.models import Base

config = context.config
connection: Connection | None = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through intake.migrate, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
