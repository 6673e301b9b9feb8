"""The addresses an import has already read, in bounded memory.

Remembering every address of a 10-million-row file in a dict would make memory grow with the file.
Recent addresses are kept in a dict; when it fills up, it is spilled into a throwaway SQLite file
(an index on disk), and later look-ups that miss the dict ask that file.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path


class SeenKeys:
    """key → the line it was first seen on; memory bounded by ``capacity`` keys."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self.recent: dict[str, int] = {}
        self._folder: tempfile.TemporaryDirectory | None = None
        self._db: sqlite3.Connection | None = None

    def get(self, key: str) -> int | None:
        line = self.recent.get(key)
        if line is None and self._db is not None:
            row = self._db.execute("SELECT line FROM seen WHERE key = ?", (key,)).fetchone()
            line = row[0] if row else None
        return line

    def add(self, key: str, line: int) -> None:
        self.recent[key] = line
        if len(self.recent) >= self.capacity:
            self._spill()

    def _spill(self) -> None:
        if self._db is None:
            self._folder = tempfile.TemporaryDirectory(prefix="newsletter-import-")
            self._db = sqlite3.connect(Path(self._folder.name) / "seen.db")
            self._db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
                "CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID;"
            )
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", self.recent.items())
        self.recent.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
