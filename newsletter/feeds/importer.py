"""RSS and Atom entries become articles in ``articles/``, each once.

An entry becomes ``articles/<slug>.md``: front matter (title, author, date, canonical url, summary,
image, tags, and ``source: {feed, id}``) and its content as Markdown (:mod:`.markdown`). An entry
whose id is already in an article's ``source`` is left alone, edited or not, so fetching again (by
hand, before each ``new``, before each recurring issue) adds only what is new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import __version__
from ..config import Settings
from ..content.articles import read_front_matter
from ..errors import InputError, NewsletterError, Problem
from .markdown import shorten, to_markdown, to_text

#: Seconds to wait for a feed's server.
TIMEOUT = 30
#: A feed larger than this is refused (it is not a feed).
MAX_BYTES = 20 * 1024 * 1024
SUMMARY_CHARACTERS = 300


@dataclass
class FetchReport:
    """What one fetch did."""

    source: str
    #: The articles written, in the feed's order.
    added: list[Path] = field(default_factory=list)
    #: Entries already imported earlier.
    known: int = 0
    #: Entries that could not become an article, with why.
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (f"{self.source}: {len(self.added)} new article{'s' if len(self.added) != 1 else ''}, "
                f"{self.known} already here{skipped}")


def read_source(source: str, base: Path) -> tuple[bytes, dict[str, str]]:
    """The feed's bytes, and the headers feedparser uses (its address resolves relative links)."""
    if not re.match(r"^https?://", source, re.I):
        path = Path(source) if Path(source).is_absolute() else base / source
        try:
            return path.read_bytes(), {"content-location": path.resolve().as_uri()}
        except OSError as exc:
            raise InputError([Problem(source, None, f"cannot read the feed: {exc.strerror or exc}")]) from None
    request = urllib.request.Request(source, headers={
        "User-Agent": f"newsletter/{__version__} (feed fetch)",
        "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5",
    })
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            data = response.read(MAX_BYTES + 1)
            headers = {"content-location": response.geturl(),
                       "content-type": response.headers.get("Content-Type", "application/xml")}
    except urllib.error.HTTPError as exc:
        raise InputError([Problem(source, None, f"cannot fetch the feed: HTTP {exc.code} {exc.reason}")]) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError([Problem(source, None, f"cannot fetch the feed: {reason}")]) from None
    if len(data) > MAX_BYTES:
        raise InputError([Problem(source, None, f"larger than {MAX_BYTES // 2**20} MB: not a feed")])
    return data, headers


def parse(source: str, data: bytes, headers: dict[str, str]):
    """feedparser's reading of the feed (its HTML already sanitized once, relative links resolved)."""
    import feedparser

    feed = feedparser.parse(data, response_headers=headers)
    if not feed.entries and (feed.bozo or not feed.version):
        why = getattr(feed, "bozo_exception", None) or "no RSS or Atom root element"
        raise InputError([Problem(source, None, f"not an RSS or Atom feed: {why}")])
    return feed


def known_ids(folder: Path) -> set[str]:
    """Entry ids of the articles fetched before."""
    ids = set()
    for path in folder.glob("*.md"):
        source = read_front_matter(path).get("source")
        if isinstance(source, dict) and source.get("id") is not None:
            ids.add(str(source["id"]))
    return ids


def slugify(text: str, limit: int = 60) -> str:
    """``"Kantemir Balagov on “Beanpole”"`` → ``kantemir-balagov-on-beanpole``; ASCII only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > limit:
            break
        slug = f"{slug}-{word}" if slug else word
    if not slug and words:
        slug = words[0][:limit]
    return slug


def _date(entry) -> dt.date | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return dt.date(value.tm_year, value.tm_mon, value.tm_mday)
    return None


def _as_html(detail) -> str:
    """A feedparser text construct as HTML: plain text is escaped, its blank lines kept as paragraphs."""
    value = detail.get("value", "") if detail else ""
    if "html" in (detail.get("type") or "text/html" if detail else ""):
        return value
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"<p>{paragraph}</p>" for paragraph in escaped.split("\n\n"))


def _body_html(entry) -> str:
    """The entry's fullest HTML: its content, else its summary (an RSS description)."""
    contents = entry.get("content") or []
    html = [c for c in contents if "html" in (c.get("type") or "")]
    if html:
        return _as_html(html[0])
    if entry.get("summary_detail"):
        return _as_html(entry["summary_detail"])
    return _as_html(contents[0]) if contents else ""


def _image(entry, body: str, title: str) -> dict | None:
    candidates = [(m.get("url"), m.get("description") or "") for m in entry.get("media_content") or []
                  if (m.get("medium") == "image" or (m.get("type") or "").startswith("image/"))]
    candidates += [(m.get("url"), "") for m in entry.get("media_thumbnail") or []]
    candidates += [(e.get("href"), "") for e in entry.get("enclosures") or [] if (e.get("type") or "").startswith("image/")]
    match = re.search(r"<img\b[^>]*\bsrc=\"(https?://[^\"]+)\"[^>]*>", body)
    if match:
        alt = re.search(r"\balt=\"([^\"]*)\"", match.group(0))
        candidates.append((match.group(1), to_text(alt.group(1)) if alt else ""))
    for src, alt in candidates:
        if src and re.match(r"^https?://", src):
            return {"src": src, "alt": " ".join(alt.split()) or title}
    return None


def _summary(entry, body: str) -> str:
    """The entry's summary (or the start of its text), on one line, cut at a word."""
    return shorten(to_text(_as_html(entry["summary_detail"]) if entry.get("summary_detail") else body),
                   SUMMARY_CHARACTERS)


def article_text(entry, source: str, entry_id: str, feed_author: str) -> tuple[dict, str]:
    """(front matter, the article file's text) for one entry."""
    body = _body_html(entry)
    title = to_text(entry.get("title", "")) or to_text(body)[:80] or "Untitled"
    front: dict = {"title": title}
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author") or feed_author
    if author:
        front["author"] = to_text(author)
    front["date"] = _date(entry) or dt.date.today()
    link = entry.get("link") or ""
    if re.match(r"^https?://", link):
        front["url"] = link
    summary = _summary(entry, body)
    if summary:
        front["summary"] = summary
    image = _image(entry, body, title)
    if image:
        front["image"] = image
    tags = [to_text(t.get("term") or "") for t in entry.get("tags") or []]
    if any(tags):
        front["tags"] = [t for t in dict.fromkeys(tags) if t]
    front["source"] = {"feed": source, "id": entry_id}
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=10_000)
    markdown = to_markdown(body) or (summary + "\n" if summary else "")
    return front, f"---\n{head}---\n\n{markdown}"


def _write_new(folder: Path, slug: str, text: str) -> Path:
    """Write ``<slug>.md`` (or ``<slug>-2.md``…) without ever replacing a file, and atomically:
    the article appears whole, or not at all."""
    temporary = folder / f".{slug}.{os.getpid()}.tmp"
    temporary.write_text(text, encoding="utf-8")
    try:
        for n in range(1, 1000):
            path = folder / (f"{slug}.md" if n == 1 else f"{slug}-{n}.md")
            try:
                os.link(temporary, path)
                return path
            except FileExistsError:
                continue
        raise InputError.at(folder / f"{slug}.md", None, "too many articles with this name")
    finally:
        temporary.unlink(missing_ok=True)


def fetch_feed(source: str, settings: Settings, base: Path | None = None) -> FetchReport:
    """Import the feed's new entries as articles; bad input raises :class:`InputError`."""
    data, headers = read_source(source, base or settings.root)
    feed = parse(source, data, headers)
    folder = settings.articles_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError.at(folder, None, f"cannot write: {exc.strerror or exc}") from None
    report = FetchReport(source)
    known = known_ids(folder)
    feed_author = (feed.feed.get("author_detail") or {}).get("name") or feed.feed.get("author") or ""
    for entry in feed.entries:
        entry_id = str(entry.get("id") or entry.get("link") or "").strip()
        if not entry_id:
            content = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
            entry_id = "sha1:" + hashlib.sha1(content.encode("utf-8")).hexdigest()
        if entry_id in known:
            report.known += 1
            continue
        front, text = article_text(entry, source, entry_id, feed_author)
        slug = slugify(front["title"]) or f"{front['date']}-{hashlib.sha1(entry_id.encode('utf-8')).hexdigest()[:6]}"
        try:
            report.added.append(_write_new(folder, slug, text))
        except OSError as exc:
            raise InputError.at(folder, None, f"cannot write: {exc.strerror or exc}") from None
        known.add(entry_id)
    return report


def refresh_sources(settings: Settings, warn: Callable[[str], None]) -> list[FetchReport]:
    """Fetch every feed in ``sources``; a feed that fails is reported through ``warn`` and the
    others still fetched (an issue is drafted or sent with the articles at hand)."""
    reports = []
    for source in settings.sources:
        try:
            reports.append(fetch_feed(source, settings))
        except NewsletterError as exc:
            for line in exc.lines():
                warn(line)
        except Exception as exc:  # a feed must never stop a scheduled send
            warn(f"{source}: cannot fetch the feed: {type(exc).__name__}: {exc}")
    return reports
