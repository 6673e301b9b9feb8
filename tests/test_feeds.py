"""Feeds become articles: RSS and Atom files in the repository, served by a local HTTP server."""

from __future__ import annotations

import datetime as dt
import re

import yaml

from newsletter.commands.schedule import schedule
from newsletter.config import load_settings
from newsletter.content import load_article
from newsletter.content.articles import read_front_matter
from newsletter.feeds import fetch_feed
from newsletter.feeds.markdown import to_markdown
from newsletter.issue import load_issue
from newsletter.render import render_issue
from newsletter.scheduler import Scheduler

from .conftest import run_cli, write_issue
from .feedserver import FEEDS
from .scheduler.conftest import seed, settings_text

class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


KOVALENKO = "sokurovs-students-a-conversation-with-kira-kovalenko"
DANGEROUS = ("<script", "document.cookie", "javascript:", "onerror", "<iframe", "evil.example", "alert(")


def test_atom_entries_become_articles_with_front_matter(settings, publication):
    report = fetch_feed(str(FEEDS / "atom.xml"), settings)
    assert [p.name for p in report.added] == [f"{KOVALENKO}.md", "review-winter-ledger.md", "notes-from-the-archive.md"]
    front = read_front_matter(publication / "articles" / f"{KOVALENKO}.md")
    assert front == {
        "title": "Sokurov’s students: a conversation with Kira Kovalenko",
        "author": "Marta Lindqvist",
        "date": dt.date(2026, 11, 27),
        "url": "https://thelongtake.example/interviews/kovalenko",
        "summary": "The director of “Unclenching the Fists” on the Nalchik workshop, long takes and the North Caucasus.",
        "image": {"src": "https://thelongtake.example/images/kovalenko.jpg", "alt": "Kira Kovalenko on set"},
        "tags": ["interview", "russian-cinema"],
        "source": {"feed": str(FEEDS / "atom.xml"), "id": "tag:thelongtake.example,2026:interview-kovalenko"},
    }
    article = load_article(publication / "articles" / f"{KOVALENKO}.md", settings.base_url)
    kinds = [b.kind for b in article.blocks]
    assert kinds == ["paragraph", "figure", "question", "paragraph", "question", "paragraph"]
    assert article.blocks[1].caption == "Kovalenko in Mizur, 2020."
    # Markdown-looking text in the feed stays text
    assert article.blocks[-1].text == "It is hard, and it forgives nothing *at all* — 1. not a list."
    review = load_article(publication / "articles" / "review-winter-ledger.md", settings.base_url)
    assert [b.kind for b in review.blocks] == ["paragraph", "heading", "list", "paragraph"]
    assert review.author == "The Long Take"  # the feed's author when the entry has none
    notes = (publication / "articles" / "notes-from-the-archive.md").read_text()
    assert "Plain text notes, with \\<b\\>no\\</b\\> markup.\n\nA second paragraph.\n" in notes


def test_feed_html_is_sanitized_in_the_article_and_the_email(settings, publication):
    fetch_feed(str(FEEDS / "atom.xml"), settings)
    text = (publication / "articles" / f"{KOVALENKO}.md").read_text()
    for bad in DANGEROUS:
        assert bad not in text
    assert "[his workshop](https://example.org/sokurov)" in text and "Click me" in text
    path = write_issue(publication, f"subject: S\npreheader: P\nsections:\n  - items:\n      - article: {KOVALENKO}\n"
                                    '        excerpt: {paragraphs: "1-4"}\n')
    rendered = render_issue(load_issue(path, settings), settings)
    for part in (rendered.html, rendered.web_html, rendered.text):
        for bad in DANGEROUS:
            assert bad not in part


def test_markdown_of_nasty_html_cannot_smuggle_markup():
    markdown = to_markdown('<p onclick="x()">*a* [b](javascript:c) <a href="data:text/html,x">d</a> '
                           '<img src="javascript:e" alt="f"> &lt;script&gt;g&lt;/script&gt; `h`</p>'
                           "<h1>Title</h1><blockquote><p># not a heading</p><p>two</p></blockquote>")
    assert markdown == ("\\*a\\* \\[b\\](javascript:c) d \\<script\\>g\\</script\\> \\`h\\`\n\n## Title\n\n"
                        "> \\# not a heading\n>\n> two\n")


def test_fetching_again_adds_only_new_entries_and_never_touches_an_edited_article(settings, publication):
    first = fetch_feed(str(FEEDS / "rss.xml"), settings)
    assert [p.name for p in first.added] == ["programme-announced.md", "jury-named.md"]
    edited = publication / "articles" / "jury-named.md"
    edited.write_text(edited.read_text().replace("Three critics", "Four critics"))
    before = {p.name: p.read_text() for p in (publication / "articles").glob("*.md")}

    again = fetch_feed(str(FEEDS / "rss.xml"), settings)
    assert (again.added, again.known) == ([], 2)
    later = fetch_feed(str(FEEDS / "rss-later.xml"), settings)
    assert ([p.name for p in later.added], later.known) == (["closing-night-film.md"], 2)
    after = {p.name: p.read_text() for p in (publication / "articles").glob("*.md")}
    assert {k: v for k, v in after.items() if k != "closing-night-film.md"} == before
    front = read_front_matter(publication / "articles" / "programme-announced.md")
    assert front["image"] == {"src": "https://halvik.example/images/poster.jpg", "alt": "Programme announced"}
    assert front["author"] == "Priya Dessaix" and front["tags"] == ["festival"]
    assert read_front_matter(edited)["image"]["src"] == "https://halvik.example/images/jury.jpg"  # an enclosure


def test_same_title_from_another_entry_gets_its_own_file(settings, publication):
    fetch_feed(str(FEEDS / "rss.xml"), settings)
    other = publication / "other.xml"
    other.write_text((FEEDS / "rss.xml").read_text().replace("halvik-2026-", "elsewhere-"))
    report = fetch_feed(str(other), settings)
    assert [p.name for p in report.added] == ["programme-announced-2.md", "jury-named-2.md"]


def test_fetch_over_http_from_the_command_line(publication, feed_server):
    result = run_cli("articles", "fetch", feed_server.url("atom.xml"), cwd=publication)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"{feed_server.url('atom.xml')}: 3 new articles, 0 already here"
    review = (publication / "articles" / "review-winter-ledger.md").read_text()
    # a relative link resolves against the feed's address
    assert f"[the festival page]({feed_server.url('festival/halvik')})" in review
    result = run_cli("articles", "fetch", feed_server.url("atom.xml"), cwd=publication)
    assert result.stdout.splitlines()[-1].endswith(": 0 new articles, 3 already here")


def test_bad_feeds_are_one_line_and_write_nothing(publication, feed_server):
    before = sorted(p.name for p in (publication / "articles").iterdir())
    for source, message in ((feed_server.url("missing.xml"), "cannot fetch the feed: HTTP 404"),
                            (feed_server.url("not-a-feed.html"), "not an RSS or Atom feed"),
                            ("no-such-file.xml", "cannot read the feed: No such file or directory")):
        result = run_cli("articles", "fetch", source, cwd=publication)
        assert result.returncode == 2, result
        assert result.stderr.startswith(f"{source}: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert sorted(p.name for p in (publication / "articles").iterdir()) == before


def test_sources_setting_must_be_a_list_of_strings(publication):
    settings_text(publication, sources="https://example.com/feed.xml")
    result = run_cli("check", "2026-11-26-beanpole", cwd=publication)
    assert result.returncode == 2
    assert result.stderr.strip() == "newsletter.toml:1: sources: expected a list of strings"


def test_a_recurring_issue_fetches_its_sources_before_each_occurrence(store_settings, publication, feed_server):
    """Each occurrence takes the newest articles, feed entries fetched just before it included."""
    feed_server.serve("rss.xml", "feed.xml")
    path = publication / "newsletter.toml"
    path.write_text(f'sources = ["{feed_server.url("feed.xml")}", "{feed_server.url("gone.xml")}"]\n'
                    + path.read_text(encoding="utf-8"))
    settings = load_settings(path, env={})
    seed(settings, 2)
    write_issue(publication, 'subject: "The week"\npreheader: P\nrepeat: "0 8 * * MON"\nsections:\n'
                             "  - items:\n      - latest: 3\n        excerpt: {words: 30}\n", name="weekly")
    clock = Clock(dt.datetime(2026, 11, 29, 12, tzinfo=dt.timezone.utc))
    first = schedule("weekly", settings, now=clock())
    assert not (publication / "articles" / "programme-announced.md").exists()  # fetched at send time
    scheduler = Scheduler(settings, clock=clock)
    try:
        clock.now = first.due_at
        scheduler.fire(first.id)
        row = scheduler.schedule.find(first.issue_id)
        assert row.state == "sent", row.reason
        assert row.articles == ["northern-lights-film-week", "programme-announced", "jury-named"]

        feed_server.serve("rss-later.xml", "feed.xml")
        second = scheduler.schedule.find("weekly-2026-50")
        clock.now = second.due_at
        scheduler.fire(second.id)
        second = scheduler.schedule.find("weekly-2026-50")
        assert second.state == "sent", second.reason
        assert second.articles == ["closing-night-film", "wings-shepitko", "cranes-are-flying-restoration"]
    finally:
        scheduler.engine.dispose()


def test_fetched_articles_are_valid_yaml_whatever_the_title(settings, publication):
    feed = publication / "odd.xml"
    feed.write_text((FEEDS / "rss.xml").read_text().replace(
        "<title>Programme announced</title>", "<title>: a title: with \"quotes\" # and # hashes</title>"))
    report = fetch_feed(str(feed), settings)
    front = yaml.safe_load(re.match(r"---\n(.*?)---\n", report.added[0].read_text(), re.S).group(1))
    assert front["title"] == ': a title: with "quotes" # and # hashes'
    assert report.added[0].name == "a-title-with-quotes-and-hashes.md"
