"""The same journey with the database on a real PostgreSQL server (INTAKE_DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

from crypto.keys import PrivateKey
from crypto.params import TEST_LIMITS
from intake import create_app, db

from .helpers import (
    apply,
    codename_of,
    counts,
    csrf,
    files,
    opened_submissions,
    post,
    sign_out,
)


def test_journey_on_postgresql(fresh_postgres_url: str, tmp_path: Path,
                               reviewer_key: PrivateKey) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path / "data",
                      "DATABASE_URL": fresh_postgres_url, "ARGON2_LIMITS": TEST_LIMITS})
    assert not (tmp_path / "data" / "intake.sqlite3").exists()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    result = runner.invoke(args=["keys", "add", reviewer_key.public_key.to_text(), "--name", "r"])
    assert result.exit_code == 0
    client = app.test_client()
    codename = codename_of(apply(client, attachments=files((b"evidence", "e.txt", "text/plain"))))
    sign_out(client)
    response = client.post("/signin", data={"csrf_token": csrf(client, "/signin"),
                                            "codename": codename})
    assert response.status_code == 302
    response = post(client, "/case", {"csrf_token": csrf(client, "/case"), "message": "more"})
    assert response.status_code == 302
    assert counts(app) == (1, 2, 3)
    kinds = sorted(d["kind"] for d in opened_submissions(app, reviewer_key))
    assert kinds == ["application", "followup"]
    with app.app_context():
        db.engine().dispose()
