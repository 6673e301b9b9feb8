"""Groups: the items of a section that show one article, under one title.

An issue may take several excerpts of one article in a row (the lead paragraphs, a pull quote, a
question and its answer). Repeating the title and byline above each would read like three stories;
a theme shows a :class:`GroupView` instead: the article's title, byline and image once, then each
excerpt in turn, then one link to the whole piece.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Item kinds whose excerpt is prose (paragraphs, words, text): they can sit under the title.
PROSE = ("lead", "card")


@dataclass
class GroupView:
    """Consecutive items of one section showing the same article, as templates see them.

    ``layout`` is ``lead`` when any item leads, else ``card``. ``first`` is the opening item when
    its excerpt is prose (a theme puts it right under the title), and ``rest`` the items after it;
    ``header`` is False for a group of pull quotes only, which a theme attributes instead of titling.
    """

    items: list[Any]
    layout: str = field(init=False)
    first: Any = field(init=False)
    rest: list[Any] = field(init=False)
    header: bool = field(init=False)

    def __post_init__(self) -> None:
        self.layout = "lead" if any(item.kind == "lead" for item in self.items) else "card"
        opening = self.items[0]
        self.first = opening if opening.kind in PROSE else None
        self.rest = self.items[1:] if self.first is not None else list(self.items)
        self.header = any(item.kind != "quote" for item in self.items)

    def __getattr__(self, name: str) -> Any:
        # title, url, author, date, image, tags, article: those of the first item
        if name.startswith("_") or name == "items":
            raise AttributeError(name)
        return getattr(self.items[0], name)

    @property
    def truncated(self) -> bool:
        return any(item.truncated for item in self.items)


def group_items(items: list[Any]) -> list[GroupView]:
    """Runs of items with the same article and title become one group each, in order."""
    groups: list[list[Any]] = []
    for item in items:
        if groups and (groups[-1][-1].article, groups[-1][-1].title) == (item.article, item.title):
            groups[-1].append(item)
        else:
            groups.append([item])
    return [GroupView(run) for run in groups]
