"""Set-based reads and writes of subscribers and memberships, for imports of any size.

:meth:`Store.upsert_subscribers <newsletter.store.store.Store.upsert_subscribers>` decides, row by
row in Python, what happens to each address; this module asks and writes the database a batch at
a time, in plain driver SQL (no ORM objects, no statement compiled per call):

- look-ups take the whole batch as one parameter: a JSON array read with ``json_each`` on SQLite,
  an array compared with ``= ANY`` on PostgreSQL;
- SQLite writes with ``executemany`` (the rows never leave C), inside one transaction that takes
  the write lock before its first read, so nobody adds an address between the look-up and the insert;
- PostgreSQL streams new rows with ``COPY … FROM STDIN`` into a temporary table, then moves them
  with ``INSERT … SELECT … ON CONFLICT DO NOTHING`` (an address that another process added
  meanwhile is left as that process wrote it).

New subscribers' memberships are written with them, by the ids the insert gives (SQLite: one past
the largest, as SQLite itself would; PostgreSQL: ``RETURNING``), with ``executemany`` or ``COPY``.
Values handed to these methods are already in the driver's form: see :meth:`Bulk.time` and
:meth:`Bulk.json`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from .models import Subscriber

#: The columns of a new subscriber row, in the order :meth:`Bulk.insert_subscribers` takes them.
NEW_COLUMNS = ("email", "email_key", "email_hash", "name", "status", "attributes", "source",
               "created_at", "updated_at", "confirmed_at", "unsubscribed_at")
#: The columns :meth:`Bulk.update_subscribers` sets, then the row's id.
UPDATE_COLUMNS = ("email", "email_hash", "name", "status", "attributes", "updated_at", "confirmed_at",
                  "unsubscribed_at")
_encode = json.JSONEncoder().encode  # what SQLAlchemy's JSON type writes (json.dumps' defaults)


@dataclass(slots=True)
class Known:
    """A subscriber already in the store, as an import compares it with a row of the file;
    the times are kept in the driver's form, to be written back as they were."""

    id: int
    email: str
    email_hash: str | None
    name: str
    status: str
    attributes: dict[str, Any]
    confirmed_at: Any
    unsubscribed_at: Any


class Bulk:
    """Batch queries on one connection, inside the caller's transaction."""

    #: Placeholder of one parameter in driver SQL.
    mark = "?"

    def __init__(self, conn: Connection):
        self.conn = conn

    @staticmethod
    def on(conn: Connection) -> "Bulk":
        return PostgresBulk(conn) if conn.dialect.name == "postgresql" else SqliteBulk(conn)

    # --- in the driver's form ---------------------------------------------------------------

    def time(self, value: dt.datetime | None) -> Any:
        return value

    def json(self, value: dict[str, Any]) -> Any:
        return _encode(value)

    # --- look-ups, each one statement ------------------------------------------------------------

    def _among(self, column: str, values: list) -> tuple[str, Any]:
        """A ``column IN <the values>`` condition and its one parameter."""
        raise NotImplementedError

    def _rows(self, select: str, column: str, values: list) -> list:
        """``select`` (up to its FROM) for the rows whose ``column`` is one of ``values``."""
        if not values:
            return []
        condition, parameter = self._among(column, values)
        return self.conn.exec_driver_sql(f"{select} WHERE {condition}", (parameter,)).all()

    def known(self, keys: list[str]) -> dict[str, Known]:
        """The subscribers among these addresses (``email_key``), by address."""
        rows = self._rows("SELECT email_key, id, email, email_hash, name, status, attributes, confirmed_at, "
                          "unsubscribed_at FROM subscribers", "email_key", keys)
        return {row[0]: Known(*row[1:6], self._attributes(row[6]), row[7], row[8]) for row in rows}

    def _attributes(self, value: Any) -> dict[str, Any]:
        return dict(value or {})

    def suppressed(self, hashes: list[str]) -> set[str]:
        """Which of these keyed hashes are on the suppression list."""
        return {row[0] for row in self._rows("SELECT email_hash FROM suppressions", "email_hash", hashes)}

    def memberships(self, subscriber_ids: list[int]) -> set[tuple[int, int]]:
        """(subscriber id, list id) of every membership of these subscribers."""
        return {tuple(row) for row in self._rows(
            "SELECT subscriber_id, list_id FROM memberships", "subscriber_id", subscriber_ids)}

    # --- writes ---------------------------------------------------------------------------

    def lock(self) -> None:
        """Take what the batch needs before its first read (SQLite: the write lock)."""

    def insert_subscribers(self, rows: list[tuple], lists: list[tuple[int, ...]]) -> None:
        """New subscribers, one tuple of :data:`NEW_COLUMNS` each, and the ids of the lists each joins."""
        raise NotImplementedError

    def add_memberships(self, pairs: list[tuple[int, int]]) -> None:
        """(subscriber id, list id) memberships; those already there are left as they are."""
        if pairs:
            self.conn.exec_driver_sql("INSERT INTO memberships (subscriber_id, list_id) "
                                      f"VALUES ({self.mark}, {self.mark}) ON CONFLICT DO NOTHING", pairs)

    def update_subscribers(self, rows: list[tuple]) -> None:
        """Known subscribers, one tuple of :data:`UPDATE_COLUMNS` and the id each."""
        if rows:
            sets = ", ".join(f"{column} = {self.mark}" for column in UPDATE_COLUMNS)
            self.conn.exec_driver_sql(f"UPDATE subscribers SET {sets} WHERE id = {self.mark}", rows)


class SqliteBulk(Bulk):
    mark = "?"

    def __init__(self, conn: Connection):
        super().__init__(conn)
        dialect = conn.dialect
        self._time = Subscriber.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)

    def time(self, value: dt.datetime | None) -> Any:
        # SQLAlchemy's own text form, which has no zone: the store keeps UTC.
        return None if value is None else self._time(value.astimezone(dt.timezone.utc))

    def _among(self, column: str, values: list) -> tuple[str, Any]:
        return f"{column} IN (SELECT value FROM json_each(?))", _encode(values)

    def _attributes(self, value: Any) -> dict[str, Any]:
        return json.loads(value) if value else {}

    def lock(self) -> None:
        # A write first: SQLite takes the write lock now, as BEGIN IMMEDIATE would (the ledger does the same).
        self.conn.exec_driver_sql("UPDATE subscribers SET id = id WHERE 0")

    def insert_subscribers(self, rows: list[tuple], lists: list[tuple[int, ...]]) -> None:
        if not rows:
            return
        # The ids SQLite would give (one past the largest), given here: the write lock is held, and
        # the memberships need them.
        first = self.conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM subscribers").scalar_one()
        marks = ", ".join("?" * (len(NEW_COLUMNS) + 1))
        self.conn.exec_driver_sql(f"INSERT INTO subscribers (id, {', '.join(NEW_COLUMNS)}) VALUES ({marks})",
                                  [(first + i, *row) for i, row in enumerate(rows)])
        self.add_memberships([(first + i, list_id) for i, ids in enumerate(lists) for list_id in ids])


class PostgresBulk(Bulk):
    mark = "%s"

    def _among(self, column: str, values: list) -> tuple[str, Any]:
        return f"{column} = ANY(%s)", values

    def update_subscribers(self, rows: list[tuple]) -> None:
        if rows:
            sets = ", ".join(f"{column} = %s" + ("::jsonb" if column == "attributes" else "")
                             for column in UPDATE_COLUMNS)
            self.conn.exec_driver_sql(f"UPDATE subscribers SET {sets} WHERE id = %s", rows)

    def _copy(self, sql: str, rows: Iterable[tuple]) -> None:
        """``COPY … FROM STDIN`` of these rows; a driver error becomes SQLAlchemy's, like any other."""
        dbapi = self.conn.dialect.loaded_dbapi
        try:
            with self.conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(sql) as out:
                for row in rows:
                    out.write_row(row)
        except dbapi.Error as exc:
            raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc

    def insert_subscribers(self, rows: list[tuple], lists: list[tuple[int, ...]]) -> None:
        if not rows:
            return
        columns = ", ".join(NEW_COLUMNS)
        self.conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE import_subscribers (email text, email_key text, email_hash text, name text, "
            "status text, attributes jsonb, source text, created_at timestamptz, updated_at timestamptz, "
            "confirmed_at timestamptz, unsubscribed_at timestamptz)")
        self._copy(f"COPY import_subscribers ({columns}) FROM STDIN", rows)
        ids = dict(self.conn.exec_driver_sql(
            f"INSERT INTO subscribers ({columns}) SELECT {columns} FROM import_subscribers "
            "ON CONFLICT (email_key) DO NOTHING RETURNING email_key, id").all())
        self.conn.exec_driver_sql("DROP TABLE import_subscribers")
        # Only this transaction knows these subscribers yet: their memberships go straight in.
        self._copy("COPY memberships (subscriber_id, list_id) FROM STDIN",
                   ((ids[row[1]], list_id) for row, list_ids in zip(rows, lists) if row[1] in ids
                    for list_id in list_ids))
