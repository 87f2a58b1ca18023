"""Alembic migrations: init-db on every kind of database, data surviving an upgrade,
and the migrations agreeing with intake/models.py (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import Engine, inspect, select, text

from crypto.codename import derive, generate_codename
from crypto.params import TEST_LIMITS
from intake import db, migrate
from intake.models import Applicant, Base, Blob, Reply, Submission

from .helpers import apply, counts, csrf, sign_out

DAY = dt.date(2025, 3, 1)


def engine_of(app: Flask) -> Engine:
    with app.app_context():
        return db.engine()


def init_db(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    return result.output


def insert_case(engine: Engine, app: Flask) -> str:
    """One applicant (with a codename that works), a submission with a blob, a reply,
    and a reviewer key, written with plain SQL as revision 0001 knows the tables."""
    codename = generate_codename()
    keys = derive(codename, app.extensions["intake_salt"], limits=TEST_LIMITS)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO applicants (id, lookup_id, reply_public_key, created_day, last_active_day)"
            " VALUES ('a' || :z, :lookup, :pk, :day, :day)"),
            {"z": "0" * 31, "lookup": keys.lookup_id, "pk": keys.reply_public_key.to_text(),
             "day": DAY})
        conn.execute(text(
            "INSERT INTO submissions (id, applicant_id, day, kind, answers_blob_id, exported_day)"
            " VALUES (:s, :a, :day, 'application', :b, NULL)"),
            {"s": "5" * 32, "a": "a" + "0" * 31, "day": DAY, "b": "b" * 32})
        conn.execute(text("INSERT INTO blobs (id, submission_id, size, role)"
                          " VALUES (:b, :s, 1234, 'answers')"), {"b": "b" * 32, "s": "5" * 32})
        conn.execute(text(
            "INSERT INTO replies (id, applicant_id, day, blob_id, size, read_day)"
            " VALUES (:r, :a, :day, :b, 99, NULL)"),
            {"r": "7" * 32, "a": "a" + "0" * 31, "day": DAY, "b": "c" * 32})
        conn.execute(text(
            "INSERT INTO recipient_keys (name, public_key, fingerprint, added_day, active)"
            " VALUES ('old', 'refuge-pk1-old', 'f', :day, :no)"), {"day": DAY, "no": False})
    return codename


def check_case_survived(app: Flask) -> None:
    with app.app_context():
        s = db.session()
        applicant = s.get(Applicant, "a" + "0" * 31)
        assert applicant is not None and applicant.created_day == DAY
        sub = s.get(Submission, "5" * 32)
        assert sub is not None and sub.answers_blob_id == "b" * 32 and sub.exported_day is None
        blob = s.get(Blob, "b" * 32)
        assert blob is not None and blob.size == 1234 and blob.role == "answers"
        reply = s.get(Reply, "7" * 32)
        assert reply is not None and reply.blob_id == "c" * 32 and reply.size == 99


def test_upgrade_from_first_revision_keeps_data_and_the_app_works(make_app) -> None:
    app = make_app(with_key=False, init=False)
    engine = engine_of(app)
    assert migrate.upgrade(engine, "0001") == "Created the database tables at revision 0001."
    codename = insert_case(engine, app)
    # At an old revision the server refuses to run on it, and says what to do.
    response = app.test_client().get("/")
    assert response.status_code == 503 and b"init-db" in response.data
    assert init_db(app) == "Upgraded the database from revision 0001 to 0005.\n"
    indexes = {i["name"] for i in inspect(engine).get_indexes("submissions")}
    assert "ix_submissions_exported_day" in indexes
    check_case_survived(app)

    # The server works on the upgraded database: the old applicant signs in,
    # a new one applies.
    client = app.test_client()
    with app.app_context():
        old = db.session().get(Applicant, "a" + "0" * 31)
        assert old is not None and old.session_epoch == ""  # matches no session cookie
    response = client.post("/signin", data={"csrf_token": csrf(client, "/signin"),
                                            "codename": codename})
    assert response.status_code == 302
    assert client.get("/case").status_code == 200
    with app.app_context():
        old = db.session().get(Applicant, "a" + "0" * 31)
        assert old is not None and len(old.session_epoch) == 32  # given one at sign-in
    sign_out(client)
    assert app.test_cli_runner().invoke(
        args=["keys", "add", _public_key_text(), "--name", "new"]).exit_code == 0
    assert apply(app.test_client()).status_code == 200
    assert counts(app) == (2, 2, 2)


def _public_key_text() -> str:
    from crypto.keys import PrivateKey

    return PrivateKey.generate().public_key.to_text()


def test_database_from_before_migrations_is_recorded_and_upgraded(make_app) -> None:
    app = make_app(with_key=False, init=False)
    engine = engine_of(app)
    # What `metadata.create_all` made before migrations is revision 0001 without
    # Alembic's version table.
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    insert_case(engine, app)
    assert init_db(app) == ("Found tables made before migrations: recorded them as revision "
                            "0001 and upgraded to 0005.\n")
    check_case_survived(app)
    assert "already at the newest revision" in init_db(app)


def test_database_from_before_migrations_with_deleted_replies_is_revision_0002(make_app) -> None:
    app = make_app(with_key=False, init=False)
    engine = engine_of(app)
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO deleted_replies (id) VALUES (:i)"), {"i": "d" * 32})
    insert_case(engine, app)
    assert init_db(app) == ("Found tables made before migrations: recorded them as revision "
                            "0002 and upgraded to 0005.\n")
    check_case_survived(app)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM deleted_replies")).scalars().all() == ["d" * 32]


def test_unversioned_tables_with_other_columns_are_refused(make_app) -> None:
    app = make_app(with_key=False, init=False)
    engine = engine_of(app)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("ALTER TABLE blobs ADD COLUMN surprise INTEGER"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1 and "columns that refuge-intake did not make" in result.output
    assert "alembic_version" not in inspect(engine).get_table_names()


def test_unknown_tables_or_revision_are_refused_and_left_alone(make_app) -> None:
    app = make_app(with_key=False, init=False)
    engine = engine_of(app)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE something_else (id INTEGER PRIMARY KEY)"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1
    assert "not the ones refuge-intake made" in result.output and "Traceback" not in result.output
    assert set(inspect(engine).get_table_names()) == {"something_else"}

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE something_else"))
    init_db(app)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1
    assert "revision 9999, which this version of refuge-intake does not know" in result.output
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == "9999"


def test_models_and_migrations_agree(make_app, backend: str) -> None:
    # From an empty database (not make_app's copy of one already migrated) by init-db.
    app = make_app(with_key=False, init=False)
    assert init_db(app) == "Created the database tables at revision 0005.\n"
    engine = engine_of(app)
    assert engine.dialect.name == backend
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head()
    assert migrate.head() == "0005"


def test_migrations_downgrade_to_nothing_and_back(make_app) -> None:
    """Every revision's downgrade works, so an upgrade can be rolled back by hand."""
    from alembic import command

    app = make_app(with_key=False)
    engine = engine_of(app)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert init_db(app) == "Created the database tables at revision 0005.\n"
    with app.app_context():
        assert db.session().scalars(select(Applicant)).all() == []


def test_a_failed_migration_changes_nothing(make_app) -> None:
    app = make_app(with_key=False, init=False)
    engine = engine_of(app)
    migrate.upgrade(engine, "0001")
    # An index with the name 0003's second index wants: 0003 fails half-way.
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_replies_read_day ON recipient_keys (name)"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the migration failed and nothing was changed: ")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == "0001"
    # 0002 had run and 0003's first step too: both were undone.
    assert "deleted_replies" not in inspect(engine).get_table_names()
    indexes = {i["name"] for i in inspect(engine).get_indexes("submissions")}
    assert "ix_submissions_exported_day" not in indexes
