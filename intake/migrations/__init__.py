"""Alembic migration environment, shipped inside the package.

`intake.migrate` configures Alembic programmatically from here (no alembic.ini),
so an installed copy can migrate its database with `flask --app intake init-db`.
"""
