"""Connecting to the store: which URL, engine settings per database, and schema migrations.

The default store is ``newsletter.db`` (SQLite) in the publication folder; ``database_url`` (or
``NEWSLETTER_DATABASE_URL``) points elsewhere, e.g. ``postgresql+psycopg://user:pass@host/db``.
Migrations live in this package (``migrations/``) and run from code, so an installed package
upgrades its own database: on first use, and with ``newsletter db upgrade``.
"""

from __future__ import annotations

import fcntl
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..config import DEFAULT_STORE, Settings
from ..errors import InputError, Problem

DEFAULT_FILE = DEFAULT_STORE
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x6E6C6462  # "nldb": the advisory lock key for schema upgrades


def database_url(settings: Settings) -> URL:
    """The store's URL; a relative SQLite path is taken relative to the publication folder."""
    raw = settings.database_url.strip()
    if not raw:
        return URL.create("sqlite", database=str(settings.root / DEFAULT_FILE))
    try:
        url = make_url(raw)
    except ArgumentError:
        raise _cannot_connect(raw, "not a database URL (e.g. postgresql+psycopg://user@host/db)") from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(settings.root / path))
    return url


def shown(url: URL | str) -> str:
    """A URL as it may be printed: the password hidden."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return url.split("@")[-1] if "@" in url else url
    return url.render_as_string(hide_password=True)


def _cannot_connect(url: URL | str, reason: str) -> InputError:
    return InputError([Problem("database", None, f"cannot connect to {shown(url)}: {reason}")])


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0].strip() if text else type(inner).__name__


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL lets the web server read while a send writes; foreign keys are off by default in SQLite.
    _wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _wal(cursor, wait: float = 5.0) -> None:
    """Switch the file to WAL, waiting for it like the busy timeout would. SQLite answers "database
    is locked" at once, without its busy handler, when another connection holds a write lock on a
    file not yet in WAL (a process creating the store, four first opens racing in CI)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_engine(url: URL) -> Engine:
    """An engine for the URL, configured per database (no connection is made yet)."""
    backend = url.get_backend_name()
    if backend == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        # The ledger claims rows with UPDATE … RETURNING.
        raise _cannot_connect(url, f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed")
    kwargs: dict = {}
    if backend == "postgresql" and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise _cannot_connect(url, _reason(exc)) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(connection=None, address_hash=None):
    """An Alembic configuration built in code: no ``alembic.ini`` is needed. ``address_hash``
    lets a migration hash the addresses already stored (0004)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    config.attributes["address_hash"] = address_hash
    return config


_THREAD_LOCK = threading.Lock()  # Alembic's op/context proxies are per process, not per thread


@contextmanager
def _sqlite_file_lock(engine: Engine):
    """Processes sharing one SQLite file migrate one at a time (a lock file beside it)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        handle = open(f"{database}.migrate.lock", "a+")
    except OSError as exc:
        raise _cannot_connect(engine.url, exc.strerror or str(exc)) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, address_hash=None) -> None:
    """Bring the schema up to the newest revision (nothing happens when it already is)."""
    if _at_head(engine):
        return
    with _THREAD_LOCK, _sqlite_file_lock(engine):
        _upgrade(engine, address_hash)


def head_revisions() -> set[str]:
    """The newest revisions, read from the migration files: each names its ``revision`` and the
    ``down_revision`` it follows; a head is one that nothing follows. Without importing Alembic,
    which costs a tenth of a second that a store already up to date should not pay."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", text, re.M)
        down = re.search(r"^down_revision\b[^=]*=(.*)$", text, re.M)
        if revision:
            revisions.add(revision.group(1))
        if down:
            followed.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - followed


def _at_head(engine: Engine) -> bool:
    """Whether the store's ``alembic_version`` already names exactly the newest revisions.

    Asked without the migration lock: a store another process is creating right now may not
    answer (SQLite: locked), and then the locked path decides, connecting again once it is free."""
    try:
        connection = engine.connect()
    except ImportError as exc:
        raise _cannot_connect(engine.url, _reason(exc)) from None
    except SQLAlchemyError:
        return False
    with connection:
        try:
            stored = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
        except SQLAlchemyError:  # a new store: no table yet
            return False
    return bool(stored) and stored == head_revisions()


def _upgrade(engine: Engine, address_hash) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        connection = engine.connect()
    except (SQLAlchemyError, ImportError) as exc:
        raise _cannot_connect(engine.url, _reason(exc)) from None
    with connection:
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    # Two processes opening a new database at once: the second waits, then finds
                    # the schema at head. Released with the transaction.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                command.upgrade(alembic_config(connection, address_hash), "head")
        except SQLAlchemyError as exc:
            raise InputError(
                [Problem("database", None, f"cannot upgrade {shown(engine.url)}: {_reason(exc)}")]
            ) from None
        except CommandError:  # the store names a revision this version has no migration for
            raise InputError([Problem("database", None, (
                f"{shown(engine.url)} is at schema revision {_revision(connection)!r}, which this version of "
                "newsletter does not know: it was made by a newer version; upgrade newsletter to use it"))]) from None


def _revision(connection) -> str:
    from alembic.runtime.migration import MigrationContext

    try:
        with connection.begin():
            return MigrationContext.configure(connection).get_current_revision() or "none"
    except SQLAlchemyError:
        return "unknown"


def connect(settings: Settings, *, migrate: bool = True) -> Engine:
    """An engine for the publication's store, migrated to the newest schema."""
    from .suppression import AddressHash

    engine = make_engine(database_url(settings))
    if migrate:
        upgrade(engine, AddressHash.for_settings(settings))
    return engine
