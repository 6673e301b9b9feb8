"""``newsletter new``: draft the next issue from the newest articles not sent yet.

An article counts as sent when an issue that names it has deliveries handed to a provider (the
ledger), or when an occurrence of a recurring issue carried it (``scheduled_sends.articles``). The
feeds in ``sources`` are fetched first, so their newest entries are among the candidates. The draft
is valid as written: it only names articles that load, with their default excerpt (the summary), and
begins with the modeline that gives editors the issue schema, which is written again beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import Settings
from ..content import Article, ArticleLibrary
from ..errors import InputError, NewsletterError, display_path
from ..feeds import refresh_sources
from ..feeds.importer import slugify
from ..feeds.markdown import shorten
from ..issue.times import zone
from ..store import open_store
from ..store.schedule import Schedule
from .schema import MODELINE, write_schema

DEFAULT_LATEST = 5
PREHEADER_CHARACTERS = 120


@dataclass
class Draft:
    path: Path
    articles: list[Article]


def sent_articles(settings: Settings) -> set[str]:
    """Slugs of the articles that went out in an issue or a recurring occurrence."""
    with open_store(settings) as store:
        sent_ids = store.sent_issue_ids()
        carried = Schedule(store.engine).carried(None)
    return carried | {slug for issue_id, slugs in issue_articles(settings).items() if issue_id in sent_ids
                      for slug in slugs}


def issue_articles(settings: Settings) -> dict[str, set[str]]:
    """Issue id → the article slugs its items name, for every issue in ``issues/`` that parses."""
    found: dict[str, set[str]] = {}
    for path in sorted(settings.issues_dir.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # a broken issue is check's to report; it cannot have been sent as it is
        if not isinstance(data, dict):
            continue
        slugs = {str(item["article"]) for section in data.get("sections") or [] if isinstance(section, dict)
                 for item in section.get("items") or [] if isinstance(item, dict) and "article" in item}
        found.setdefault(str(data.get("id") or path.stem), set()).update(slugs)
    return found


def newest_unsent(settings: Settings, n: int, warn: Callable[[str], None]) -> list[Article]:
    """The ``n`` newest articles (by date) that were not sent; articles that do not load are
    left out with a warning."""
    library = ArticleLibrary(settings.articles_dir, settings.base_url)
    sent = sent_articles(settings)
    candidates = []
    for slug in library.slugs():
        if slug in sent:
            continue
        try:
            article = library.get(slug)
        except InputError as exc:
            for line in exc.lines():
                warn(f"{line} (left out of the draft)")
            continue
        candidates.append(article)
    candidates.sort(key=lambda a: (a.date or dt.date.min, a.slug), reverse=True)
    return candidates[:n]


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def draft_text(articles: list[Article], subject: str, today: str) -> str:
    """The issue's YAML: every key an editor may want, the optional ones as comments."""
    lead, rest = articles[0], articles[1:]
    preheader = shorten(lead.summary, PREHEADER_CHARACTERS) if lead.summary else \
        shorten("Also: " + ", ".join(a.title for a in rest), PREHEADER_CHARACTERS) if rest else lead.title
    lines = [
        MODELINE,
        f"# Drafted by 'newsletter new' on {today}: edit freely, then",
        "# 'newsletter check' it, 'newsletter preview' it, and 'newsletter send' or 'newsletter schedule' it.",
        f"subject: {_quoted(subject)}",
        f"preheader: {_quoted(preheader)}",
        '# send_at: "2026-11-26 08:00"           # ISO 8601, with an offset or a zone name; or use schedule --at',
        "# audience: {lists: [weekly]}            # default: every confirmed subscriber",
        "# intro: |",
        "#   A few words from the editor, in Markdown.",
        "sections:",
        "  - heading: New this week",
        "    items:",
    ]
    for index, article in enumerate(articles):
        when = f" ({article.date.isoformat()})" if article.date else ""
        lines.append(f"      - article: {article.slug}   # {shorten(article.title, 70)}{when}")
        if index == 0:
            lines.append('        # excerpt: {paragraphs: "1-2"}   # or {quote: "…"}, {qa: "…"}, {words: 80}, {text: "…"};'
                         " default: the summary")
    return "\n".join(lines) + "\n"


def edit(draft: Draft, settings: Settings) -> None:
    """Open the draft in ``$VISUAL`` or ``$EDITOR`` (as git does; ``vi`` without either), then
    report every problem the edited issue has at once (bad input, exit 2)."""
    from ..issue import load_issue

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        code = subprocess.call(f"{editor} {shlex.quote(str(draft.path))}", shell=True)
    except OSError as exc:
        code, why = None, str(exc)
    else:
        why = f"exit code {code}"
    if code != 0:
        raise NewsletterError(f"the editor ({editor}) failed ({why}); the draft is in {display_path(draft.path)}")
    load_issue(draft.path, settings)


def new_issue(settings: Settings, latest: int = DEFAULT_LATEST, title: str | None = None,
              warn: Callable[[str], None] = lambda line: None) -> Draft:
    """Fetch the sources, pick the newest articles not sent yet and write the draft issue."""
    if latest < 1:
        raise InputError.at("--latest", None, "must be at least 1")
    refresh_sources(settings, warn)
    articles = newest_unsent(settings, latest, warn)
    if not articles:
        raise InputError.at(settings.articles_dir, None, "no article that has not been sent yet: write one, "
                            "or fetch a feed with 'newsletter articles fetch URL'")
    title = " ".join((title or "").split())
    today = dt.datetime.now(zone(settings.timezone)).date().isoformat()
    stem = f"{today}-{slugify(title)}" if slugify(title) else today
    try:
        settings.issues_dir.mkdir(parents=True, exist_ok=True)
        write_schema(settings)
        path = _create(settings.issues_dir, stem, draft_text(articles, title or articles[0].title, today))
    except OSError as exc:
        raise InputError.at(settings.issues_dir, None, f"cannot write: {exc.strerror or exc}") from None
    return Draft(path=path, articles=articles)


def _create(folder: Path, stem: str, text: str) -> Path:
    """``<stem>.yaml``, or ``<stem>-2.yaml``…: an existing issue is never overwritten."""
    for n in range(1, 1000):
        path = folder / (f"{stem}.yaml" if n == 1 else f"{stem}-{n}.yaml")
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except FileExistsError:
            continue
    raise InputError.at(folder / f"{stem}.yaml", None, "too many issues with this name")
