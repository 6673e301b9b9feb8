"""``newsletter new``: a draft from the newest articles not sent yet, feeds fetched first, valid
as written, with its schema beside it."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import jsonschema
import yaml

from newsletter.commands.schedule import schedule
from newsletter.config import load_settings
from newsletter.issue import load_issue
from newsletter.scheduler import Scheduler

from .conftest import EXAMPLE_ISSUE, run_cli, write_issue
from .scheduler.conftest import seed

UTC = dt.timezone.utc


def today(settings) -> str:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date().isoformat()


def items_of(path) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return [item["article"] for section in data["sections"] for item in section["items"]]


def add_sources(publication, *urls: str):
    path = publication / "newsletter.toml"
    path.write_text(f"sources = {json.dumps(list(urls))}\n" + path.read_text(encoding="utf-8"))
    return load_settings(path, env={})


def test_a_feed_becomes_articles_and_a_new_issue(publication, feed_server):
    settings = add_sources(publication, feed_server.url("rss-later.xml"))
    result = run_cli("new", "--latest", "3", "--no-edit", cwd=publication)
    assert result.returncode == 0, result.stderr
    path = publication / "issues" / f"{today(settings)}.yaml"
    assert result.stdout.splitlines()[0] == (f"wrote issues/{path.name} with 3 articles: closing-night-film, "
                                             "northern-lights-film-week, programme-announced")
    assert items_of(path) == ["closing-night-film", "northern-lights-film-week", "programme-announced"]
    text = path.read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../issue.schema.json"
    issue = load_issue(path, settings)  # valid as written
    assert issue.subject == "Closing night film"
    assert issue.preheader == "The festival closes with a documentary that listens to the sea."
    schema = json.loads((publication / "issue.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(text))
    item = schema["properties"]["sections"]["items"]["properties"]["items"]["items"]
    assert "closing-night-film" in item["properties"]["article"]["enum"]
    check = run_cli("check", str(path), cwd=publication)
    assert check.returncode == 0, check.stdout + check.stderr


def test_sent_articles_are_left_out(store_settings, publication):
    """Sent by an issue (the ledger) or carried by an occurrence of a recurring issue."""
    seed(store_settings, 2)
    result = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
    assert result.returncode == 0, result.stderr
    (publication / "articles" / "fresh.md").write_text('---\ntitle: "Fresh"\ndate: 2026-11-28\n---\nNew text.\n')
    result = run_cli("new", "--no-edit", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert items_of(publication / "issues" / f"{today(store_settings)}.yaml") == ["fresh"]

    # a recurring digest that carried "fresh" (pinned before it was sent)
    write_issue(publication, 'subject: W\npreheader: P\nrepeat: "0 8 * * MON"\nsections:\n  - items:\n'
                             "      - latest: 1\n", name="weekly")
    for path in (publication / "issues").glob(f"{today(store_settings)}*.yaml"):
        path.unlink()
    clock = [dt.datetime(2026, 11, 29, 12, tzinfo=UTC)]
    row = schedule("weekly", store_settings, now=clock[0])
    scheduler = Scheduler(store_settings, clock=lambda: clock[0])
    try:
        clock[0] = row.due_at
        scheduler.fire(row.id)
        assert scheduler.schedule.find(row.issue_id).articles == ["fresh"]
    finally:
        scheduler.engine.dispose()
    result = run_cli("new", "--no-edit", cwd=publication)
    assert result.returncode == 2
    assert result.stderr.strip() == ("articles: no article that has not been sent yet: write one, "
                                     "or fetch a feed with 'newsletter articles fetch URL'")


def test_title_names_the_file_and_a_second_draft_never_overwrites(publication, settings):
    for _ in range(2):
        result = run_cli("new", "--title", "Winter  notes", "--latest", "2", "--no-edit", cwd=publication)
        assert result.returncode == 0, result.stderr
    first = publication / "issues" / f"{today(settings)}-winter-notes.yaml"
    second = publication / "issues" / f"{today(settings)}-winter-notes-2.yaml"
    assert load_issue(first, settings).subject == "Winter notes"
    assert first.read_text() == second.read_text()
    assert items_of(first) == ["northern-lights-film-week", "wings-shepitko"]


def test_a_feed_that_fails_is_a_warning_not_a_stop(publication, feed_server):
    settings = add_sources(publication, feed_server.url("gone.xml"))
    result = run_cli("new", "--no-edit", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"{feed_server.url('gone.xml')}: cannot fetch the feed: HTTP 404 File not found"
    assert (publication / "issues" / f"{today(settings)}.yaml").exists()


def test_the_draft_opens_in_the_editor_and_is_checked_after(publication, settings, tmp_path, monkeypatch):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\necho "$1" > "$(dirname "$0")/edited"\nsed -i "s/^subject:/subjet:/" "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    result = run_cli("new", "--edit", cwd=publication)
    path = publication / "issues" / f"{today(settings)}.yaml"
    assert (tmp_path / "edited").read_text().strip() == str(path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"issues/{path.name}:4: subjet: unknown key"), result.stderr
    assert "subjet:" in path.read_text()  # the editor's work is kept
