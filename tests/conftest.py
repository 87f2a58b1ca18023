"""Shared pytest configuration for the whole suite."""

# Real components: the browser fixtures (tests/browser.py) and a throwaway
# PostgreSQL server (tests/postgres_server.py).
pytest_plugins = ["tests.browser", "tests.postgres_server"]
