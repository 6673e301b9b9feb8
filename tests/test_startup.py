"""Start-up of ``send`` when there is nothing to do: no render, no check, no migration run, and the
same answer as before; and migrations still run whenever the store is behind."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from newsletter.store.engine import alembic_config, connect, database_url, head_revisions

from .conftest import EXAMPLE_ISSUE, run_cli
from .scheduler.conftest import seed


def test_the_head_read_from_the_migration_files_is_alembics():
    assert head_revisions() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_a_store_behind_the_head_is_still_upgraded(store_settings):
    engine = create_engine(database_url(store_settings))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
    engine.dispose()
    engine = connect(store_settings)
    try:
        with engine.connect() as conn:
            stored = {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    finally:
        engine.dispose()
    assert stored == head_revisions()


def test_send_with_nothing_left_neither_renders_nor_checks(store_settings, publication):
    seed(store_settings, 5)
    first = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
    assert first.returncode == 0, first.stdout + first.stderr
    (publication / "templates" / "weekly.mjml").write_text("<mjml><mj-body>{% broken")  # would fail to render
    again = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing left to send (0 sent); ledger: 5 sent" in again.stdout
    seed(store_settings, 6)  # one more subscriber: there is work, so the issue is rendered and checked
    work = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
    assert work.returncode != 0 and "nothing left" not in work.stdout
    assert "Traceback" not in work.stderr
