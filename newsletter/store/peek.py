"""A read-only look at a SQLite store with the standard library, for ``check``.

``check`` runs on every save and compares the issue's audience with the store: the list names and
whether some subscriber has an attribute. Loading SQLAlchemy for two queries would double the cost
of the whole command, so for the default SQLite store these two questions are asked through
``sqlite3``, opened read-only (a check changes nothing, and creates no file). Anything else — a
PostgreSQL URL, a URL with options, a store this cannot read — is left to :func:`open_store`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..config import DEFAULT_STORE, Settings


def sqlite_path(settings: Settings) -> Path | None:
    """The file of a plain SQLite store (``sqlite:///path`` or the default), else None."""
    raw = settings.database_url.strip()
    if not raw:
        return settings.root / DEFAULT_STORE
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if raw.startswith(prefix) and "?" not in raw:
            path = Path(raw[len(prefix):])
            return path if path.is_absolute() else settings.root / path
    return None


class SqlitePeek:
    """The store's answers that ``audience_problems`` needs, read-only. Use as a context manager."""

    def __init__(self, path: Path):
        self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    def list_names(self) -> list[str]:
        return [name for (name,) in self._conn.execute("SELECT name FROM lists ORDER BY name")]

    def has_attribute(self, key: str) -> bool:
        # The JSON path as SQLAlchemy writes it for ``attributes[key]``, which the send's filter uses.
        query = "SELECT EXISTS (SELECT 1 FROM subscribers WHERE json_extract(attributes, ?) IS NOT NULL)"
        return bool(self._conn.execute(query, ('$."%s"' % key,)).fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "SqlitePeek":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
