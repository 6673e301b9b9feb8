"""The store under test: SQLite always, PostgreSQL when NEWSLETTER_TEST_DATABASE_URL is set.

Each PostgreSQL test gets a schema of its own (``search_path`` on the URL), dropped afterwards.
Registered for every test by ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.store import open_store

PG_ENV = "NEWSLETTER_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A URL for an empty store ("" for SQLite: the default file in the publication folder)."""
    if request.param == "sqlite":
        yield ""
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL: set {PG_ENV}=postgresql+psycopg://user@host/db to run these")
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    plain = re.sub(r"^postgresql\+psycopg", "postgresql", base)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def use_database(publication: Path, url: str) -> None:
    """Point the publication's newsletter.toml at ``url`` (top-level keys come before tables)."""
    if url:
        path = publication / "newsletter.toml"
        path.write_text(f'database_url = "{url}"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")


@pytest.fixture
def store_settings(publication, database_url):
    """Settings of the example publication, using the store under test."""
    use_database(publication, database_url)
    return load_settings(publication / "newsletter.toml", env={})


@pytest.fixture
def store(store_settings):
    """An open, migrated, empty store."""
    with open_store(store_settings) as s:
        yield s
