"""The package boundaries (docs/architecture.md): reviewer never imports intake; crypto no Flask."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def imported_modules(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_reviewer_never_imports_intake() -> None:
    modules = imported_modules("reviewer")
    assert "crypto" in modules  # the scan sees real imports
    assert not modules & {"intake", "flask", "sqlalchemy", "werkzeug"}


def test_crypto_has_no_web_or_database() -> None:
    assert not imported_modules("crypto") & {"intake", "reviewer", "flask", "sqlalchemy"}
