"""The addresses an import has already read, in bounded memory.

Remembering every address of a 10-million-row file in a dict would make memory grow with the file.
Recent addresses are kept in a dict; when it fills up, it is spilled into a throwaway SQLite file
(an index on disk). Keys are checked a batch at a time: the keys of a batch that miss the dict
are looked up in that file with one query, not one query per row.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path


class SeenKeys:
    """key → the line it was first seen on; memory bounded by ``capacity`` keys (plus one batch)."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self.recent: dict[str, int] = {}
        self._folder: tempfile.TemporaryDirectory | None = None
        self._db: sqlite3.Connection | None = None

    def first_lines(self, pairs: list[tuple[str, int]]) -> list[int | None]:
        """For each (key, line) of a batch, in order: the line the key was seen on before (in an
        earlier batch or earlier in this one), or None when it is new; new keys are remembered."""
        spilled: dict[str, int] = {}
        if self._db is not None:
            missing = [key for key, _ in pairs if key not in self.recent]
            spilled = dict(self._db.execute(
                "SELECT key, line FROM seen WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(missing),)))
        recent = self.recent
        found: list[int | None] = []
        for key, line in pairs:
            first = recent.get(key) or spilled.get(key)
            if first is None:
                recent[key] = line
            found.append(first)
        if len(recent) >= self.capacity:
            self._spill()
        return found

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
