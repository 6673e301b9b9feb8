"""The web archive: only sent issues, newest first, each web version without per-recipient data, an
Atom feed, and the images the pages link to."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from sqlalchemy import text

from newsletter.send import send_issue

from ..conftest import EXAMPLE_ISSUE, write_issue
from .conftest import add_reader

ATOM = "{http://www.w3.org/2005/Atom}"


def test_nothing_is_shown_before_it_is_sent(client):
    index = client.get("/archive/")
    assert index.status_code == 200 and "Nothing has been sent yet" in index.text
    assert client.get(f"/archive/{EXAMPLE_ISSUE}/").status_code == 404
    feed = ET.fromstring(client.get("/archive/feed.xml").content)
    assert feed.findall(f"{ATOM}entry") == []


def test_sent_issues_newest_first_with_web_version_and_feed(client, site_settings, site_store, publication):
    add_reader(site_store, "reader@example.com", name="Private Reader")
    second = (publication / "issues" / f"{EXAMPLE_ISSUE}.yaml").read_text(encoding="utf-8")
    write_issue(publication, second.replace('subject: "', 'id: second-issue\nsubject: "Second: ', 1), name="second")
    write_issue(publication, "subject: [unclosed\n", name="broken-draft")  # a draft being written
    write_issue(publication, second.replace("subject:", "id: never-sent\nsubject:", 1), name="draft")
    send_issue(EXAMPLE_ISSUE, site_settings)
    send_issue("second", site_settings)
    with site_store.engine.begin() as conn:  # the example issue went out a week earlier
        conn.execute(text("UPDATE deliveries SET sent_at = :t WHERE issue_id = :i"),
                     {"t": dt.datetime(2026, 11, 19, 13, 0, tzinfo=dt.timezone.utc), "i": EXAMPLE_ISSUE})

    index = client.get("/archive/").text
    assert index.index("Second: Balagov") < index.index(">Balagov on Beanpole")
    assert "never-sent" not in index and "November 19, 2026" in index

    page = client.get(f"/archive/{EXAMPLE_ISSUE}/")
    assert page.status_code == 200 and "Balagov on Beanpole" in page.text
    assert "__NL_" not in page.text and "reader@example.com" not in page.text and "Private Reader" not in page.text
    assert "/unsubscribe/" not in page.text  # the web version carries no one's links
    assert client.get("/archive/never-sent/").status_code == 404
    assert client.get(f"/archive/{EXAMPLE_ISSUE}", follow_redirects=False).headers["location"] == f"{EXAMPLE_ISSUE}/"

    feed = ET.fromstring(client.get("/archive/feed.xml").content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == [
        "Second: Balagov on Beanpole: intimacy after the war", "Balagov on Beanpole: intimacy after the war"]
    assert entries[1].find(f"{ATOM}link").get("href") == f"https://testserver/archive/{EXAMPLE_ISSUE}/"
    assert entries[1].find(f"{ATOM}updated").text.startswith("2026-11-19T13:00:00")


def test_images_are_served_and_nothing_else_of_the_folder(client, publication):
    image = client.get("/images/beanpole-1.jpg")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == (publication / "articles" / "images" / "beanpole-1.jpg").read_bytes()
    for path in ("/balagov-beanpole.md", "/images/nope.jpg", "/images/..%2F..%2Fnewsletter.toml",
                 "/%2e%2e/newsletter.toml", "/images/beanpole-1.jpg%00.md"):
        assert client.get(path).status_code == 404, path
