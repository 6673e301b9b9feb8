"""The web archive: sent issues newest first, each issue's web version, and an Atom feed.

An issue is in the archive once the ledger shows it went to someone; drafts never show. The web
version is the one ``build`` writes as ``web.html`` (rendered with ``web=True``: no per-recipient
data). Issues are read and rendered again only when a file of the publication changed. Images
are linked from ``base_url``; the site serves the files of ``articles/`` they point at, so the
archive works when ``base_url`` is this server.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Engine

from ..config import Settings
from ..errors import NewsletterError
from ..issue import load_issue
from ..render import render_issue
from ..store.ledger import Ledger

log = logging.getLogger("newsletter.web")


@dataclass(frozen=True)
class ArchivedIssue:
    id: str
    subject: str
    preheader: str
    sent_at: dt.datetime
    url: str


class Archive:
    """What the archive pages need, from the issue files and the ledger."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self._stamp: tuple = ()
        self._issues: dict[str, object] = {}  # id → Issue, for the files as they are now
        self._pages: dict[str, str] = {}
        #: When each issue first went out: asked of the ledger until it has, then remembered.
        self._sent: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def _files(self) -> tuple:
        stamps = []
        for folder in (self.settings.issues_dir, self.settings.articles_dir, self.settings.templates_dir):
            if folder.is_dir():
                for path in folder.rglob("*"):
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(stamps))

    def _load(self) -> dict[str, object]:
        """Every valid issue file by id, read again when a file changed."""
        with self._lock:
            stamp = self._files()
            if stamp != self._stamp:
                issues = {}
                for path in sorted(self.settings.issues_dir.glob("*.yaml")):
                    try:
                        issue = load_issue(path, self.settings)
                    except NewsletterError as exc:  # a draft being written: not in the archive
                        log.info("archive skips %s: %s", path.name, exc.lines()[0])
                        continue
                    issues[issue.id] = issue
                self._stamp, self._issues, self._pages = stamp, issues, {}
            return self._issues

    def _first_sent(self, issue_id: str) -> dt.datetime | None:
        sent = self._sent.get(issue_id)
        if sent is None:
            sent = Ledger(self.engine, issue_id).first_sent()
            if sent is not None:
                self._sent[issue_id] = sent
        return sent

    def issues(self) -> list[ArchivedIssue]:
        """Sent issues, newest first."""
        found = []
        for issue_id, issue in self._load().items():
            sent = self._first_sent(issue_id)
            if sent is not None:
                found.append(ArchivedIssue(issue_id, issue.subject, issue.preheader, sent,
                                           self.settings.web_url(issue_id)))
        return sorted(found, key=lambda item: item.sent_at, reverse=True)

    def web_html(self, issue_id: str) -> str | None:
        """The web version of a sent issue; None for an unknown or unsent one."""
        issue = self._load().get(issue_id)
        if issue is None or self._first_sent(issue_id) is None:
            return None
        with self._lock:
            if issue_id not in self._pages:
                self._pages[issue_id] = render_issue(issue, self.settings).web_html
            return self._pages[issue_id]

    def feed(self) -> str:
        """An Atom feed of the sent issues."""
        base = self.settings.base_url.rstrip("/")
        items = self.issues()
        updated = items[0].sent_at if items else dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
        entries = "".join(
            f"""  <entry>
    <title>{escape(item.subject)}</title>
    <id>{escape(item.url)}</id>
    <link rel="alternate" type="text/html" href={quoteattr(item.url)}/>
    <published>{item.sent_at.isoformat()}</published>
    <updated>{item.sent_at.isoformat()}</updated>
    <summary>{escape(item.preheader or item.subject)}</summary>
  </entry>
"""
            for item in items
        )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{escape(self.settings.name)}</title>
  <id>{escape(base)}/archive/</id>
  <link rel="self" type="application/atom+xml" href={quoteattr(base + "/archive/feed.xml")}/>
  <link rel="alternate" type="text/html" href={quoteattr(base + "/archive/")}/>
  <updated>{updated.isoformat()}</updated>
  <author><name>{escape(self.settings.name)}</name></author>
{entries}</feed>
"""


def site_file(articles: Path, relative: str) -> tuple[Path, str] | None:
    """An image under ``articles/`` that a page links to from ``base_url``, and its type; None if
    there is no such image (other files of the folder, such as the Markdown, are not served)."""
    folder = articles.resolve()
    try:
        target = (folder / relative).resolve()
        found = target.is_relative_to(folder) and target.is_file()
    except (ValueError, OSError):  # a NUL byte, a name too long
        return None
    kind = mimetypes.guess_type(target.name)[0] or ""
    return (target, kind) if found and kind.startswith("image/") else None
