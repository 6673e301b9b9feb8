"""Small frictions a new editor met: repeatable test copies, dry-run counts, unknown lists, list
management, the bad-date message, help text."""

from __future__ import annotations

import json
import mailbox
import shutil

import pytest
from sqlalchemy import update

from newsletter.config import load_settings
from newsletter.store.engine import connect
from newsletter.store.models import Delivery

from .conftest import EXAMPLE_ISSUE, REPO, run_cli, write_issue
from .storefixtures import use_database
from .test_issue import GOOD_ITEM


@pytest.fixture
def subscribed(publication, database_url):
    """The example publication with the example subscribers: 8 in all, 6 on weekly, 5 on festival."""
    use_database(publication, database_url)
    (publication / "subscribers").mkdir()
    shutil.copy(REPO / "subscribers" / "example.csv", publication / "subscribers" / "example.csv")
    result = run_cli("subscribers", "import", "subscribers/example.csv", cwd=publication)
    assert result.returncode == 0, result.stderr
    return publication


def lines(result) -> list[str]:
    return result.stdout.splitlines()


def test_send_to_is_repeatable_and_records_nothing(subscribed):
    result = run_cli("send", EXAMPLE_ISSUE, "--to", "editor@example.com", "--to", "Proof@Example.org",
                     "--to", "editor@example.com", cwd=subscribed)
    assert result.returncode == 0, result.stderr
    assert [line.split(" (")[0] for line in lines(result)] == [
        "test copy sent to editor@example.com", "test copy sent to Proof@example.org"]
    box = mailbox.Maildir(subscribed / "outbox", create=False)
    assert sorted(m["To"] for m in box) == ["Proof@example.org", "editor@example.com"]
    report = json.loads(run_cli("report", EXAMPLE_ISSUE, "--json", cwd=subscribed).stdout)
    assert report["total"] == 0

    bad = run_cli("send", EXAMPLE_ISSUE, "--to", "ok@example.com", "--to", "nope", "--to", "also bad", cwd=subscribed)
    assert bad.returncode == 2
    assert [line.split(":")[0] for line in bad.stderr.splitlines()] == ["--to", "--to"]
    assert len(box) == 2  # nothing sent when one address is wrong


def test_dry_run_says_how_many_it_would_send(subscribed):
    def would_send(*flags: str, code: int = 0) -> str:
        result = run_cli("send", EXAMPLE_ISSUE, "--dry-run", *flags, cwd=subscribed)
        assert result.returncode == code, result.stderr
        assert "nothing sent" in result.stdout
        return result.stdout.split("would send ")[1].split(";")[0]

    assert would_send() == "6"
    assert run_cli("subscribers", "remove", "maria.keller@example.com", cwd=subscribed).returncode == 0
    assert would_send() == "5"
    assert run_cli("send", EXAMPLE_ISSUE, "--now", cwd=subscribed).returncode == 0
    assert would_send() == "0"
    assert run_cli("subscribers", "add", "late@example.com", "--list", "weekly", cwd=subscribed).returncode == 0
    assert would_send() == "1"

    settings = load_settings(subscribed / "newsletter.toml", env={})
    engine = connect(settings)
    try:
        with engine.begin() as conn:
            first = conn.execute(Delivery.__table__.select().order_by(Delivery.id).limit(2)).all()
            conn.execute(update(Delivery).where(Delivery.id == first[0].id).values(status="failed"))
            conn.execute(update(Delivery).where(Delivery.id == first[1].id).values(status="in_doubt"))
    finally:
        engine.dispose()
    # exit 1: a delivery of the issue is in doubt
    assert would_send(code=1) == "1"
    assert would_send("--retry-failed", code=1) == "2"
    assert would_send("--retry-failed", "--retry-in-doubt", code=1) == "3"
    assert run_cli("report", EXAMPLE_ISSUE, "--json", cwd=subscribed).stdout.count('"queued"') == 0  # unchanged


def test_an_unknown_list_is_an_error_not_an_empty_list(subscribed, tmp_path):
    for command in (["subscribers", "list", "--list", "NOSUCH"], ["subscribers", "export", str(tmp_path / "x.csv"),
                                                                 "--list", "NOSUCH"]):
        result = run_cli(*command, cwd=subscribed)
        assert result.returncode == 2
        assert result.stderr.strip() == '--list: no list named "NOSUCH" (lists: festival, weekly)'
        assert result.stdout == ""
    assert not (tmp_path / "x.csv").exists()


def test_lists_rename_delete_and_remove_a_member(subscribed):
    renamed = run_cli("lists", "rename", "weekly", "letters", cwd=subscribed)
    assert renamed.returncode == 0, renamed.stderr
    assert lines(renamed) == ['renamed list "weekly" to "letters"']
    naming = sorted(p.name for p in (subscribed / "issues").glob("*.yaml") if "weekly" in p.read_text())
    assert naming and renamed.stderr.splitlines() == [f'issues/{name}: still names "weekly"' for name in naming]
    assert lines(run_cli("lists", cwd=subscribed)) == ["festival: 5 (5 confirmed)", "letters: 6 (6 confirmed)"]

    clash = run_cli("lists", "rename", "letters", "festival", cwd=subscribed)
    assert clash.returncode == 2
    assert clash.stderr.strip() == 'lists: a list named "festival" exists already: nothing was renamed'
    unknown = run_cli("lists", "delete", "weekly", cwd=subscribed)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == 'lists: no list named "weekly" (lists: festival, letters)'

    removed = run_cli("lists", "remove", "festival", "MARIA.KELLER@example.com", "nobody@example.com", cwd=subscribed)
    assert removed.returncode == 1  # one of them was not on the list
    assert lines(removed) == ['removed 1 from "festival"']
    assert removed.stderr.strip() == 'nobody@example.com: not on "festival"'
    maria = [line for line in lines(run_cli("subscribers", "list", cwd=subscribed)) if line.startswith("maria")]
    assert maria == ["maria.keller@example.com\tMaria Keller\tconfirmed\tletters"]

    deleted = run_cli("lists", "delete", "festival", cwd=subscribed)
    assert deleted.returncode == 0, deleted.stderr
    assert lines(deleted) == ['deleted list "festival": 4 members taken off it (the subscribers stay)']
    assert lines(run_cli("lists", cwd=subscribed)) == ["letters: 6 (6 confirmed)"]
    assert len(lines(run_cli("subscribers", "list", cwd=subscribed))) == 8


def test_a_bad_date_shows_both_accepted_forms(publication):
    write_issue(publication, "subject: S\nsend_at: next tuesday\n" + GOOD_ITEM)
    expected = ('"next tuesday" is not an ISO 8601 date and time: write it with an offset, like '
                '2026-11-26T08:00:00-05:00, or with a zone name, like "2026-11-26 08:00 America/New_York"')
    result = run_cli("check", "test-issue", cwd=publication)
    assert result.stderr.strip() == f"issues/test-issue.yaml:2: send_at: {expected}"
    result = run_cli("schedule", EXAMPLE_ISSUE, "--at", "next tuesday", cwd=publication)
    assert result.returncode == 2
    assert result.stderr.strip() == f"--at: {expected}"


@pytest.mark.parametrize("command", [[], ["send"], ["subscribers", "import"], ["new"], ["init"], ["lists"]])
def test_help_lists_flags_without_bool_noise(publication, command):
    result = run_cli(*command, "--help", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout and "list[" not in result.stdout


def test_check_takes_several_issues_and_reports_each(publication):
    write_issue(publication, "subject: S\nsubjet: typo\n" + GOOD_ITEM, name="bad")
    write_issue(publication, "subject: S\npreheader: P\n" + GOOD_ITEM, name="good")
    result = run_cli("check", "issues/bad.yaml", "issues/good.yaml", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 2  # bad input outranks problems
    assert result.stderr.startswith("issues/bad.yaml:2: subjet: unknown key")
    assert lines(result) == ["issues/good.yaml: ok: no problems found", f"{EXAMPLE_ISSUE}: ok: no problems found"]
