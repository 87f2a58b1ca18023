"""The package boundaries (docs/architecture.md): reviewer never imports intake; crypto no Flask.

The reviewer's desk (reviewer/desk/) is a local web app: the reviewer may use Flask,
Werkzeug, Jinja2, Flask-WTF and waitress, and still no part of the server's stack.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def imported_modules_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def imported_modules(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        found |= imported_modules_of(path)
    return found


SERVER_ONLY = {"intake", "sqlalchemy", "alembic", "psycopg", "gunicorn", "flask_babel", "babel"}
DESK_STACK = {"flask", "werkzeug", "jinja2", "flask_wtf", "waitress", "markupsafe"}


def test_reviewer_never_imports_intake() -> None:
    modules = imported_modules("reviewer")
    assert "crypto" in modules  # the scan sees real imports
    assert not modules & SERVER_ONLY


def test_only_the_desk_imports_the_web_stack() -> None:
    assert imported_modules("reviewer/desk") & {"flask", "waitress"}  # the scan sees them
    outside = set()
    for path in (ROOT / "reviewer").glob("*.py"):
        outside |= imported_modules_of(path)
    assert not outside & DESK_STACK


def test_crypto_has_no_web_or_database() -> None:
    assert not imported_modules("crypto") & {"intake", "reviewer", "flask", "werkzeug",
                                             "jinja2", "waitress", "sqlalchemy"}


def test_the_benchmarks_never_import_the_tests() -> None:
    # The tests may use bench/'s simulated server and moto starter; the other way
    # round, a benchmark would measure whatever a test helper happens to do.
    modules = imported_modules("bench")
    assert "crypto" in modules  # the scan sees real imports, function-level ones too
    assert "tests" not in modules
