"""The subscriber commands as a user runs them (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil

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
    assert text[0] == "email,name,status,lists,country"
    assert "'=new@example.com,New,confirmed,weekly," in text
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
    assert header == 'email,name,status,lists,"\'=hyperlink(""http://evil.example"")"'
    bad = run_cli("subscribers", "export", "no/such/dir/x.csv", cwd=publication)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("no/such/dir/x.csv: cannot write:")
    assert "Traceback" not in bad.stderr
