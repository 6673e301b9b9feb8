"""The subscriber commands as a user runs them (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.storefixtures import use_database


def test_import_list_lists_export_remove(publication, database_url, tmp_path):
    use_database(publication, database_url)
    (publication / "subscribers").mkdir()
    shutil.copy(REPO / "subscribers" / "example.csv", publication / "subscribers" / "example.csv")

    dry = run_cli("subscribers", "import", "example.csv", "--dry-run", cwd=publication)
    assert dry.returncode == 0, dry.stderr
    assert "would import: 8 added" in dry.stdout
    done = run_cli("subscribers", "import", "subscribers/example.csv", "--list", "all", cwd=publication)
    assert done.returncode == 0, done.stderr
    assert "subscribers/example.csv: imported: 8 added, 0 updated, 0 unchanged, 0 bad, 0 kept out" in done.stdout

    listed = run_cli("subscribers", "list", "--list", "festival", cwd=publication)
    assert listed.stdout.splitlines()[0] == "maria.keller@example.com\tMaria Keller\tconfirmed\tall;festival;weekly"
    assert len(listed.stdout.splitlines()) == 5

    lists = run_cli("lists", cwd=publication)
    assert lists.stdout.splitlines() == [
        "all: 8 (8 confirmed)", "festival: 5 (5 confirmed)", "weekly: 6 (6 confirmed)",
    ]

    removed = run_cli("subscribers", "remove", "MARIA.KELLER@example.com", cwd=publication)
    assert removed.returncode == 0 and "removed" in removed.stdout
    added = run_cli("subscribers", "add", "=new@example.com", "--name", "New", "--list", "weekly", cwd=publication)
    assert added.returncode == 0, added.stderr

    out = tmp_path / "export.csv"
    exported = run_cli("subscribers", "export", str(out), cwd=publication)
    assert exported.returncode == 0, exported.stderr
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[0] == "email,name,status,lists,confirmed_at,unsubscribed_at,country"
    assert any(line.startswith("'=new@example.com,New,confirmed,weekly,20") for line in text)
    assert not any("maria" in line for line in text)


def test_bad_rows_exit_1(publication, database_url):
    use_database(publication, database_url)
    (publication / "bad.csv").write_text("email\nok@example.com\nnope\n", encoding="utf-8")
    result = run_cli("subscribers", "import", "bad.csv", cwd=publication)
    assert result.returncode == 1
    assert "bad.csv:3: invalid email address 'nope'" in result.stdout
    assert "1 added" in result.stdout and "1 bad" in result.stdout


def test_bad_database_url_is_one_line_exit_2(publication):
    use_database(publication, "postgresql+psycopg://someone:s3cret@127.0.0.1:1/nowhere")
    result = run_cli("db", "upgrade", cwd=publication)
    assert result.returncode == 2
    assert result.stderr.startswith("database: cannot connect to postgresql+psycopg://someone:***@127.0.0.1:1/nowhere: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_db_upgrade_creates_the_default_store(publication):
    result = run_cli("db", "upgrade", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert (publication / "newsletter.db").is_file()


def test_export_neutralizes_formula_headers_and_reports_unwritable_paths(publication):
    (publication / "f.csv").write_text('email,"=HYPERLINK(""http://evil.example"")"\nann@example.com,x\n')
    assert run_cli("subscribers", "import", "f.csv", cwd=publication).returncode == 0
    assert run_cli("subscribers", "export", "out.csv", cwd=publication).returncode == 0
    header = (publication / "out.csv").read_text().splitlines()[0]
    assert header == 'email,name,status,lists,confirmed_at,unsubscribed_at,"\'=hyperlink(""http://evil.example"")"'
    bad = run_cli("subscribers", "export", "no/such/dir/x.csv", cwd=publication)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("no/such/dir/x.csv: cannot write:")
    assert "Traceback" not in bad.stderr


# --- export never destroys, and round-trips as a backup (issue 9 §3) --------------------------

def _listing(publication) -> list[str]:
    result = run_cli("subscribers", "list", cwd=publication)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _one_line_exit_2(result, starts: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(starts), result.stderr


def test_export_replaces_an_existing_file_only_with_force(publication, database_url):
    use_database(publication, database_url)
    (publication / "s.csv").write_text("email\nann@example.com\n")
    assert run_cli("subscribers", "import", "s.csv", cwd=publication).returncode == 0
    (publication / "out.csv").write_text("precious\n")
    refused = run_cli("subscribers", "export", "out.csv", cwd=publication)
    _one_line_exit_2(refused, "out.csv: already exists: use --force to replace it")
    assert (publication / "out.csv").read_text() == "precious\n"
    forced = run_cli("subscribers", "export", "out.csv", "--force", cwd=publication)
    assert forced.returncode == 0, forced.stderr
    assert (publication / "out.csv").read_text().splitlines()[1].startswith("ann@example.com,,confirmed,,20")
    assert [p.name for p in publication.iterdir() if p.name.startswith(".out.csv")] == []  # no temporary left


STORE_SPELLINGS = [
    "newsletter.db", "./newsletter.db", "articles/../newsletter.db", "newsletter.db-wal", "newsletter.db-shm",
    "newsletter.db-journal", "newsletter.db.migrate.lock", "symlink.csv", "here/newsletter.db", "hardlink.csv",
]


def test_export_never_writes_over_the_sqlite_store(publication):
    """However the path is spelled (symlinks, hard links, its -wal and -shm files), with --force too."""
    import os

    from newsletter.commands.subscribers import export
    from newsletter.config import load_settings
    from newsletter.errors import InputError

    (publication / "s.csv").write_text("email,name\nann@example.com,Ann\nbob@example.com,Bob\n")
    assert run_cli("subscribers", "import", "s.csv", cwd=publication).returncode == 0
    before = _listing(publication)
    os.symlink(publication / "newsletter.db", publication / "symlink.csv")
    os.symlink(publication, publication / "here")
    os.link(publication / "newsletter.db", publication / "hardlink.csv")

    def store_files():
        return {p.name: p.read_bytes() for p in publication.iterdir() if p.name.startswith("newsletter.db")}

    files = store_files()
    settings = load_settings(env={})
    for spelling in STORE_SPELLINGS:
        for force in (False, True):
            with pytest.raises(InputError) as refused:
                export(Path(spelling), settings, list_name=None, force=force)
            assert refused.value.lines() == [
                f"{Path(spelling)}: this is the subscriber store (newsletter.db) or one of its files: an export here "
                "would destroy it; choose another file name"]
    for args in (["newsletter.db"], ["symlink.csv", "--force"], ["newsletter.db-wal", "--force"]):
        result = run_cli("subscribers", "export", *args, cwd=publication)
        _one_line_exit_2(result, f"{args[0]}: this is the subscriber store (newsletter.db)")
    assert store_files() == files
    assert _listing(publication) == before


EXPORTED_STATES = (
    "email,name,status,lists,confirmed_at,unsubscribed_at,plan\n"
    "ann@example.com,Ann,confirmed,weekly,2024-03-01T10:00:00.123456+00:00,,pro\n"
    "bob@example.com,Bob,unsubscribed,Weekly;festival,2023-01-02T03:04:05+00:00,2024-05-06T07:08:09+00:00,\n"
    "cy@example.com,Cy,bounced,weekly,2023-02-02T00:00:00+00:00,2024-02-02T00:00:00+00:00,\n"
    "dee@example.com,Dee,complained,,,2024-07-07T07:07:07+00:00,\n"
    "eve@example.com,Eve,pending,weekly,,,free\n"
)


def test_export_then_import_into_an_empty_store_is_a_faithful_backup(publication, database_url):
    """Statuses and consent times survive a round trip; nobody who left comes back confirmed."""
    from sqlalchemy import text

    from newsletter.config import load_settings
    from newsletter.store import open_store

    use_database(publication, database_url)
    (publication / "states.csv").write_text(EXPORTED_STATES)
    imported = run_cli("subscribers", "import", "states.csv", cwd=publication)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    listing = _listing(publication)
    assert listing == [
        "ann@example.com\tAnn\tconfirmed\tweekly", "bob@example.com\tBob\tunsubscribed\tfestival;weekly",
        "cy@example.com\tCy\tbounced\tweekly", "dee@example.com\tDee\tcomplained\t",
        "eve@example.com\tEve\tpending\tweekly",
    ]
    assert run_cli("subscribers", "export", "backup.csv", cwd=publication).returncode == 0
    first = (publication / "backup.csv").read_text()
    assert "2024-03-01T10:00:00.123456+00:00" in first and "2024-05-06T07:08:09+00:00" in first

    with open_store(load_settings(env={})) as store, store.engine.begin() as conn:  # the disaster
        for table in ("memberships", "subscribers", "lists"):
            conn.execute(text(f"DELETE FROM {table}"))
    assert _listing(publication) == []

    restored = run_cli("subscribers", "import", "backup.csv", cwd=publication)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert _listing(publication) == listing
    assert run_cli("subscribers", "export", "again.csv", cwd=publication).returncode == 0
    assert (publication / "again.csv").read_text() == first  # byte for byte: times to the microsecond

    # Importing the backup again, even with --force, brings nobody back who left.
    forced = run_cli("subscribers", "import", "backup.csv", "--force", cwd=publication)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert _listing(publication) == listing


def test_a_file_can_hold_people_back_never_promote_them(store, tmp_path):
    """``--status pending`` makes a file's confirmed rows pending; a file's unsubscribed row
    unsubscribes someone the store has confirmed; nobody is confirmed by a row that says otherwise."""
    from newsletter.subscribers import import_csv

    from .test_import import people, write

    pending = import_csv(write(tmp_path, EXPORTED_STATES), store, status="pending")
    assert (pending.counts.added, pending.bad) == (5, 0)
    assert {email: row[1] for email, row in people(store).items()} == {
        "ann@example.com": "pending", "bob@example.com": "unsubscribed", "cy@example.com": "bounced",
        "dee@example.com": "complained", "eve@example.com": "pending"}
    confirmed = import_csv(write(tmp_path, EXPORTED_STATES, "again.csv"), store)
    assert {email: row[1] for email, row in people(store).items()}["ann@example.com"] == "confirmed"
    assert store.get_subscriber("ann@example.com").confirmed_at.isoformat() == "2024-03-01T10:00:00.123456+00:00"
    assert {email: row[1] for email, row in people(store).items()}["eve@example.com"] == "pending"
    assert (confirmed.counts.suppressed, confirmed.counts.kept_out) == (3, 0)  # the file says they left: they stay out

    left = write(tmp_path, "email,status,unsubscribed_at\nann@example.com,unsubscribed,2025-01-01T00:00:00Z\n", "left.csv")
    import_csv(left, store)
    ann = store.get_subscriber("ann@example.com")
    assert (ann.status, ann.unsubscribed_at.isoformat()) == ("unsubscribed", "2025-01-01T00:00:00+00:00")


def test_bad_status_and_times_are_bad_rows(store, tmp_path):
    from newsletter.subscribers import import_csv

    from .test_import import lines, write

    content = ("email,status,confirmed_at\n"
               "a@example.com,subscribed,\n"
               "b@example.com,confirmed,yesterday\n"
               "c@example.com,CONFIRMED,2024-01-01 08:00\n")
    report = import_csv(write(tmp_path, content), store)
    assert lines(report) == [
        "2: status: 'subscribed' is not one of pending, confirmed, unsubscribed, bounced, complained",
        "3: confirmed_at: 'yesterday' is not a date and time like 2026-01-31T08:00:00+00:00",
    ]
    assert store.get_subscriber("c@example.com").confirmed_at.isoformat() == "2024-01-01T08:00:00+00:00"


def test_a_hostile_csv_is_one_line_per_bad_row_as_a_user_sees_it(publication, database_url):
    use_database(publication, database_url)
    rows = ["email,name,lists", "ann@example.com,Ann,weekly", "big@example.com," + "x" * 140_000 + ",",
            "nul@example.com,N\x00ul,", f"long@example.com,L,{'l' * 300}", "bob@example.com,Bob,WEEKLY"]
    (publication / "hostile.csv").write_bytes("\r".join(rows).encode() + b"\r")  # old Mac line ends too
    result = run_cli("subscribers", "import", "hostile.csv", cwd=publication)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert result.stdout.splitlines()[:3] == [
        "hostile.csv:3: a cell is longer than 131,072 characters (at most 1,000)",
        "hostile.csv:4: name: holds a control character (U+0000), which the store cannot keep",
        "hostile.csv:5: lists: a list name of 300 characters (at most 200)",
    ]
    assert _listing(publication) == ["ann@example.com\tAnn\tconfirmed\tweekly", "bob@example.com\tBob\tconfirmed\tweekly"]


NAMES_THE_STORE_CANNOT_KEEP = [  # PostgreSQL refused the first with a traceback ("value too long")
    (["subscribers", "add", "ann@example.com", "--name", "n" * 5000], "--name: 5,000 characters, at most 1,000"),
    (["subscribers", "add", "ann@example.com", "--name", "N\x01ul"], "--name: holds a control character"),
    (["subscribers", "add", "ann@example.com", "--list", "l" * 300], "--list: a list name is at most 200 characters"),
    (["subscribers", "import", "s.csv", "--list", "l" * 300], "--list: a list name is at most 200 characters"),
]


def test_names_the_store_cannot_keep_are_refused_before_it(publication, database_url):
    use_database(publication, database_url)
    (publication / "s.csv").write_text("email\nbob@example.com\n")
    for args, expected in NAMES_THE_STORE_CANNOT_KEEP:
        _one_line_exit_2(run_cli(*args, cwd=publication), expected)
    assert _listing(publication) == []


def test_an_unsubscribe_file_with_a_huge_cell_is_one_line_and_changes_nothing(publication):
    (publication / "s.csv").write_text("email\nann@example.com\n")
    assert run_cli("subscribers", "import", "s.csv", cwd=publication).returncode == 0
    (publication / "gone.csv").write_text("email,reason\nann@example.com,x\nbob@example.com," + "y" * 140_000 + "\n")
    _one_line_exit_2(run_cli("subscribers", "unsubscribe", "--file", "gone.csv", cwd=publication),
                     "gone.csv:3: a cell is longer than 131,072 characters (at most 1,000)")
    assert _listing(publication) == ["ann@example.com\t\tconfirmed\t"]
