"""The issue as the renderer sees it: every article loaded, every excerpt resolved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..content import Article, Excerpt

LAYOUTS = ("lead", "card")


@dataclass
class Item:
    """One article in a section, shown through one excerpt."""

    article: Article
    excerpt: Excerpt
    #: lead | card | quote | qa — how the theme draws it
    layout: str
    #: Position in the issue, e.g. ``balagov-beanpole-1-2`` (section 1, item 2); ``utm_content``.
    slot: str
    title: str
    line: int


@dataclass
class Section:
    heading: str
    items: list[Item]


@dataclass
class Audience:
    """Who receives the issue: every confirmed subscriber, narrowed by lists and attributes."""

    lists: list[str] = field(default_factory=list)
    where: dict[str, list[str | int | float | bool]] = field(default_factory=dict)
    #: The issue file's line of each list (``lists[0]``) and condition (``where.country``), for messages.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Occurrence:
    """One send of a recurring issue: its own id, and which articles ``{latest: N}`` may take.

    ``pinned`` (the articles an interrupted occurrence already carried) wins over choosing anew, so
    a resumed occurrence sends what it began with.
    """

    id: str
    exclude: frozenset[str] = frozenset()
    pinned: tuple[str, ...] | None = None


@dataclass
class Issue:
    id: str
    path: Path
    subject: str
    preheader: str
    template: str
    sections: list[Section]
    intro: str = ""
    send_at: dt.datetime | None = None
    audience: Audience = field(default_factory=Audience)
    #: A cron expression (publication's zone) for a recurring issue; each occurrence has its own id.
    repeat: str | None = None
    #: Whether some items are ``{latest: N}``; ``new_articles`` are the slugs those picked.
    uses_latest: bool = False
    new_articles: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    @property
    def articles(self) -> list[Article]:
        seen: dict[str, Article] = {}
        for item in self.items:
            seen.setdefault(item.article.slug, item.article)
        return list(seen.values())
