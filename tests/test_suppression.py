"""Suppression that outlives the row, and the ledger that remembers addresses (SQLite and PostgreSQL):
`remove` then re-add never mails an issue twice, and never silently brings anyone back."""

from __future__ import annotations

import mailbox

from sqlalchemy import text

from newsletter.store import NewSubscriber
from newsletter.store.suppression import AddressHash

from .conftest import EXAMPLE_ISSUE, run_cli
from .storefixtures import use_database


def sub(email: str, **kw) -> NewSubscriber:
    return NewSubscriber(email=email, key=email.lower(), lists=["weekly"], **kw)


def sent_to(publication) -> list[str]:
    box = mailbox.Maildir(publication / "outbox", create=False)
    return sorted(str(m["To"]) for m in box)


def test_remove_then_reimport_keeps_the_address_out_until_forced(store):
    store.upsert_subscribers([sub("ann@example.com"), sub("bob@example.com")])
    assert store.erase_subscriber("ann@example.com")
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT reason FROM suppressions")) == "removed"
        assert conn.scalar(text("SELECT count(*) FROM subscribers WHERE email_key = 'ann@example.com'")) == 0
    counts = store.upsert_subscribers([sub("Ann@Example.com"), sub("bob@example.com")])
    assert (counts.added, counts.kept_out, counts.kept_out_keys) == (0, 1, ["ann@example.com"])
    assert store.get_subscriber("ann@example.com") is None
    forced = store.upsert_subscribers([sub("ann@example.com")], force=True)
    assert forced.added == 1 and store.get_subscriber("ann@example.com").status == "pending"  # until she confirms
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM suppressions")) == 0


def test_the_hash_is_keyed_and_the_erased_row_keeps_nothing_else(store, store_settings):
    store.upsert_subscribers([sub("ann@example.com", name="Ann")])
    store.add_delivery("x", "ann@example.com", status="sent")
    store.erase_subscriber("ann@example.com")
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT email, subscriber_id, email_hash FROM deliveries")).one()
        listed = conn.scalar(text("SELECT email_hash FROM suppressions"))
    assert row.email is None and row.subscriber_id is None
    assert row.email_hash == listed == store.hash("ann@example.com")
    assert listed != AddressHash(b"another publication's key")("ann@example.com")
    assert "ann" not in listed and len(listed) == 32


def test_removed_then_readded_address_never_gets_the_same_issue_twice(publication, database_url):
    use_database(publication, database_url)
    (publication / "subs.csv").write_text("email,lists\nann@example.com,weekly\nbob@example.com,weekly\n")
    assert run_cli("subscribers", "import", "subs.csv", cwd=publication).returncode == 0
    assert run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication).returncode == 0
    assert run_cli("subscribers", "remove", "ann@example.com", cwd=publication).returncode == 0

    again = run_cli("subscribers", "import", "subs.csv", cwd=publication)
    assert "1 kept out" in again.stdout
    readd = run_cli("subscribers", "add", "ann@example.com", "--list", "weekly", cwd=publication)
    assert readd.returncode == 1 and "kept out" in readd.stdout
    forced = run_cli("subscribers", "import", "subs.csv", "--force", cwd=publication)
    assert "1 added" in forced.stdout, forced.stdout

    resend = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
    assert resend.returncode == 0 and "0 sent" in resend.stdout, resend.stdout
    assert sent_to(publication) == ["ann@example.com", "bob@example.com"]  # once each


def test_unsubscribe_command_and_file_suppress_known_and_unknown_addresses(publication, database_url):
    use_database(publication, database_url)
    (publication / "subs.csv").write_text("email\nann@example.com\nbob@example.com\ncid@example.com\n")
    run_cli("subscribers", "import", "subs.csv", cwd=publication)
    (publication / "export.csv").write_text("email,created\nbob@example.com,1700000000\nnew@example.com,1700000001\n")
    (publication / "list.txt").write_text("# hand-made\ncid@example.com\n\nnot an address\n")

    one = run_cli("subscribers", "unsubscribe", "ANN@example.com", cwd=publication)
    assert one.returncode == 0 and "unsubscribed: 1 subscribers; 0 had already left" in one.stdout
    exported = run_cli("subscribers", "unsubscribe", "--file", "export.csv", "--status", "bounced", cwd=publication)
    assert "bounced: 1 subscribers; 0 had already left; 1 not subscribers" in exported.stdout, exported.stdout
    listed = run_cli("subscribers", "unsubscribe", "--file", "list.txt", "ann@example.com", cwd=publication)
    assert listed.returncode == 1
    assert listed.stdout.splitlines()[0].startswith("list.txt:4: invalid email address 'not an address'")
    assert "1 subscribers; 1 had already left" in listed.stdout

    statuses = run_cli("subscribers", "list", cwd=publication).stdout
    assert "ann@example.com\t\tunsubscribed" in statuses and "bob@example.com\t\tbounced" in statuses
    assert "cid@example.com\t\tunsubscribed" in statuses
    later = run_cli("subscribers", "add", "new@example.com", cwd=publication)
    assert later.returncode == 1 and "kept out" in later.stdout


def test_import_honours_a_status_column(store, publication):
    from newsletter.subscribers import import_csv

    store.upsert_subscribers([sub("ann@example.com"), sub("bob@example.com")])
    path = publication / "suppressions.csv"
    path.write_text("email,status\nann@example.com,unsubscribed\nnew@example.com,Complained\n"
                    "bob@example.com,confirmed\nfresh@example.com,\n", encoding="utf-8")
    report = import_csv(path, store)
    assert report.counts.suppressed == 2 and "2 marked as gone by their status column" in report.summary()
    status = {r.email: r.status for r in store.subscribers()}
    assert status == {"ann@example.com": "unsubscribed", "bob@example.com": "confirmed",
                      "new@example.com": "complained", "fresh@example.com": "confirmed"}
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM suppressions")) == 2


def test_a_store_from_before_hashes_gets_them_when_migrated(tmp_path):
    """A store at revision 0003 with subscribers and ledger rows: the upgrade hashes them."""
    from alembic import command

    from newsletter.config import Settings
    from newsletter.store import open_store
    from newsletter.store.engine import alembic_config, make_engine
    from newsletter.store.engine import database_url as url_of

    settings = Settings(root=tmp_path, secret_key="k" * 40)
    engine = make_engine(url_of(settings))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(text("INSERT INTO subscribers (id, email, email_key, name, status, attributes, source, created_at,"
                          " updated_at) VALUES (7, 'Ann@example.com', 'ann@example.com', '', 'confirmed', '{}', '',"
                          " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO deliveries (issue_id, subscriber_id, email, status, attempts, queued_at,"
                          " updated_at) VALUES ('old', 7, 'Ann@example.com', 'sent', 1, CURRENT_TIMESTAMP,"
                          " CURRENT_TIMESTAMP)"))
    engine.dispose()
    with open_store(settings) as store:
        with store.engine.connect() as conn:
            hashes = conn.execute(text("SELECT s.email_hash, d.email_hash FROM subscribers s, deliveries d")).one()
        assert hashes[0] == hashes[1] == store.hash("ann@example.com")
