"""The throwaway PostgreSQL harness (tests/harness/postgres_server.py) gives a real, working server.

Other tests will trust it to mean "this ran on PostgreSQL", so check that it
is PostgreSQL, that transactions commit and roll back as they should, that
fresh databases are separate, and that closing it leaves nothing behind.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

if TYPE_CHECKING:  # imported by pytest as a plugin below; importing it first would defeat assert rewriting
    from tests.harness.postgres_server import PostgresServer

# The fixtures postgres_server, postgres_url and fresh_postgres_url come from
# tests/harness/postgres_server.py, registered as a plugin in tests/conftest.py.

metadata = sa.MetaData()
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)


def test_it_is_postgresql_with_psycopg3(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(sa.text("select version()")).scalar_one().startswith("PostgreSQL ")
            assert conn.execute(sa.text("show server_encoding")).scalar_one() == "UTF8"
    finally:
        engine.dispose()


def test_commit_keeps_and_rollback_discards(fresh_postgres_url: str) -> None:
    engine = sa.create_engine(fresh_postgres_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(notes.insert().values(text="kept ✓ محفوظ"))
        with engine.connect() as conn:
            conn.execute(notes.insert().values(text="discarded"))
            assert conn.execute(sa.select(sa.func.count()).select_from(notes)).scalar_one() == 2
            conn.rollback()
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.execute(notes.insert().values(text="failed half-way"))
            raise RuntimeError("the request failed")
        with engine.connect() as conn:
            assert conn.execute(sa.select(notes.c.text)).scalars().all() == ["kept ✓ محفوظ"]
    finally:
        engine.dispose()


def test_fresh_databases_are_separate(postgres_server: PostgresServer, fresh_postgres_url: str) -> None:
    engine = sa.create_engine(fresh_postgres_url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()
    other_url = postgres_server.create_database("separate_check")
    other = sa.create_engine(other_url)
    try:
        assert not sa.inspect(other).has_table("notes")
    finally:
        other.dispose()
        postgres_server.drop_database("separate_check")


def test_a_closed_server_leaves_nothing(postgres_server: PostgresServer) -> None:
    # A second server from the same binaries, to watch it go away.
    with type(postgres_server)(postgres_server.binaries) as server:
        base, port = server.base, server.port
        assert base is not None and base.is_dir()
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert not base.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_database_names_are_checked(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError):
        postgres_server.create_database('x"; drop database postgres; --')
