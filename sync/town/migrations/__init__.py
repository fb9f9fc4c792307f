"""Alembic migrations of the town database, for SQLite and PostgreSQL alike. They ship in
the package so that an installed `town-server db upgrade` can run them; sync/town/db.py
drives them on a connection it opened (there is no alembic.ini)."""


def statements(script: str) -> list[str]:
    """The statements of a migration script: split at `;` line ends (the scripts here hold
    no `;` inside a statement)."""
    return [part.strip() for part in script.split(";\n") if part.strip(" \t\r\n;")]
