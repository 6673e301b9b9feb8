"""The store: schema, migrations, uniqueness, erasure, connection errors (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from newsletter.config import Settings
from newsletter.errors import InputError
from newsletter.store import NewSubscriber, open_store
from newsletter.store.models import Base


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from newsletter.store.engine import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def sub(email: str, **kw) -> NewSubscriber:
    return NewSubscriber(email=email, key=email.lower(), **kw)


def test_migrations_match_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []


def test_opening_again_is_a_no_op(store, store_settings):
    store.upsert_subscribers([sub("a@example.com")])
    with open_store(store_settings) as again:
        assert [r.email for r in again.subscribers()] == ["a@example.com"]
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()


def test_default_store_is_sqlite_in_the_publication(store, store_settings, database_url):
    if database_url:
        pytest.skip("only for the default store")
    assert (store_settings.root / "newsletter.db").is_file()
    with store.engine.connect() as conn:
        assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
        assert conn.scalar(text("PRAGMA foreign_keys")) == 1


def test_addresses_are_unique_ignoring_case(store):
    counts = store.upsert_subscribers([sub("Ann@example.com", name="Ann")])
    assert counts.added == 1
    counts = store.upsert_subscribers([NewSubscriber(email="ANN@example.com", key="ann@example.com")])
    assert (counts.added, counts.updated) == (0, 1)
    assert [r.email for r in store.subscribers()] == ["ANN@example.com"]
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO subscribers (email, email_key, name, status, attributes, source, created_at, updated_at)"
            " VALUES ('x', 'ann@example.com', '', 'pending', '{}', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))


def test_remove_erases_personal_data_from_the_ledger(store):
    store.upsert_subscribers([sub("ann@example.com", lists=["weekly"]), sub("bob@example.com")])
    store.add_delivery("2026-11-26-beanpole", "ann@example.com", status="sent")
    store.add_delivery("2026-11-26-beanpole", "bob@example.com", status="sent")
    assert store.erase_subscriber("ann@example.com")
    assert not store.erase_subscriber("ann@example.com")
    rows = store.deliveries("2026-11-26-beanpole")
    assert [(r["email"], r["status"]) for r in rows] == [(None, "sent"), ("bob@example.com", "sent")]
    assert rows[0]["subscriber_id"] is None
    assert store.get_subscriber("ann@example.com") is None
    assert store.list_counts() == {"weekly": {}}
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM memberships")) == 0


def test_list_counts_by_status(store):
    store.upsert_subscribers([sub("a@example.com"), sub("b@example.com")], lists=["weekly"])
    store.upsert_subscribers([sub("c@example.com")], lists=["weekly", "festival"], status="pending")
    store.set_status("b@example.com", "unsubscribed")
    assert store.list_counts() == {
        "festival": {"pending": 1},
        "weekly": {"confirmed": 1, "unsubscribed": 1, "pending": 1},
    }


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://someone:s3cret@127.0.0.1:1/nowhere",
    "not a url",
    "nosuchdb://host/db",
])
def test_a_bad_database_url_is_one_line(tmp_path, url):
    with pytest.raises(InputError) as caught:
        open_store(Settings(root=tmp_path, database_url=url))
    lines = caught.value.lines()
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("database: cannot connect to ")
    assert "s3cret" not in lines[0]


def test_opening_a_new_sqlite_store_that_another_process_is_writing_waits_for_it(settings):
    """The first connection turns a new file to WAL, which needs the lock another process creating
    the store holds: it waits for it instead of failing at once (CI saw "database is locked" when
    four first opens raced)."""
    import sqlite3
    import threading

    from newsletter.store import open_store

    creator = sqlite3.connect(settings.root / "newsletter.db", check_same_thread=False, isolation_level=None)
    creator.execute("BEGIN IMMEDIATE")  # its write lock: a switch to WAL got "database is locked" at once
    creator.execute("CREATE TABLE being_created (a)")
    release = threading.Timer(0.3, creator.execute, ("COMMIT",))
    release.start()
    try:
        with open_store(settings) as store:  # the busy timeout is 5 s
            assert list(store.subscribers()) == []
    finally:
        release.join()
        creator.close()


def test_concurrent_first_opens_migrate_once(store_settings):
    """Several processes' first use of a new database at the same moment (threads here)."""
    import threading

    from newsletter.store import open_store

    errors = []

    def open_one():
        try:
            with open_store(store_settings) as s:
                s.subscribers()
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_failure_part_way_reports_how_far_it_got_and_a_rerun_continues(store, publication):
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from newsletter.errors import NewsletterError
    from newsletter.subscribers import import_csv

    path = publication / "subs.csv"
    path.write_text("email\n" + "".join(f"p{i}@example.com\n" for i in range(6)), encoding="utf-8")
    inserts = []

    def fail_second_batch(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO subscribers"):
            inserts.append(statement)
            if len(inserts) == 2:  # the second batch (lines 4-5) fails
                raise OperationalError(statement, {}, Exception("disk I/O error"))

    event.listen(store.engine, "before_cursor_execute", fail_second_batch)
    try:
        with pytest.raises(NewsletterError) as err:
            import_csv(path, store, batch_size=2)
    finally:
        event.remove(store.engine, "before_cursor_execute", fail_second_batch)
    assert err.value.lines() == [
        "subs.csv:4: database error: disk I/O error; rows before line 4 are imported; run the import again to continue"
    ]
    assert sorted(r.email for r in store.subscribers()) == ["p0@example.com", "p1@example.com"]
    again = import_csv(path, store, batch_size=2)
    assert (again.counts.added, again.counts.unchanged) == (4, 2)
