"""The last tracebacks, each now one line and exit 2, as a user runs the commands (issue 9 §5)."""

from __future__ import annotations

import socket

from .conftest import EXAMPLE_ISSUE, REPO, run_cli
from .storefixtures import use_database

ISSUE = f"issues/{EXAMPLE_ISSUE}.yaml"


def one_line(result, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [expected], result.stderr


def edit(publication, relative: str, old: str, new: str) -> None:
    path = publication / relative
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))


def test_an_unknown_timezone(publication):
    edit(publication, "newsletter.toml", 'timezone = "America/New_York"', 'timezone = "Mars/Olympus"')
    edit(publication, ISSUE, "send_at: 2026-11-26T08:00:00-05:00", 'send_at: "2026-11-26 08:00"')
    one_line(run_cli("check", EXAMPLE_ISSUE, cwd=publication),
             "newsletter.toml:8: timezone: 'Mars/Olympus' is not a time zone name like UTC or America/New_York")


def test_huge_numbers_in_yaml(publication):
    huge = "9" * 5000
    edit(publication, ISSUE, "excerpt: {words: 70}", f"excerpt: {{words: {huge}}}")
    edit(publication, ISSUE, 'excerpt: {paragraphs: "1-2"}', f'excerpt: {{paragraphs: "1-{huge}"}}')
    result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{ISSUE}:") for line in lines), lines
    assert any(line.endswith(f"words: {'9' * 20}… is too large") for line in lines), lines
    assert any("out of range: balagov-beanpole has" in line for line in lines), lines


def test_a_huge_number_in_an_audience_condition_is_compared_as_text(publication):
    edit(publication, ISSUE, "audience: {lists: [weekly]}", f"audience: {{where: {{n: {'9' * 5000}}}}}")
    result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr


def test_preview_on_an_impossible_or_busy_port(publication):
    one_line(run_cli("preview", EXAMPLE_ISSUE, "--port", "99999", cwd=publication),
             "--port: 99999 is not a port: give 1 to 65535 (0 picks a free one)")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line(run_cli("preview", EXAMPLE_ISSUE, "--port", str(port), cwd=publication),
                 f"--port: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_an_issue_name_of_5000_characters(publication):
    name = "x" * 5000
    one_line(run_cli("check", name, cwd=publication),
             f"{'x' * 100}…: no such issue (looked in {publication / 'issues'})")


def test_a_store_at_an_unknown_migration(publication, database_url):
    from sqlalchemy import text

    from newsletter.config import load_settings
    from newsletter.store import open_store

    use_database(publication, database_url)
    with open_store(load_settings(env={})) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed0099'"))
    result = run_cli("lists", cwd=publication)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("database: ") and line.endswith(
        "is at schema revision 'f00dfeed0099', which this version of newsletter does not know: it was made by a "
        "newer version; upgrade newsletter to use it"), line


def test_a_csv_file_with_a_long_name_imports_on_every_store(publication, database_url):
    use_database(publication, database_url)
    (publication / ("s" * 240 + ".csv")).write_text((REPO / "subscribers" / "example.csv").read_text())
    result = run_cli("subscribers", "import", "s" * 240 + ".csv", cwd=publication)
    assert result.returncode == 0 and "8 added" in result.stdout, result.stdout + result.stderr

