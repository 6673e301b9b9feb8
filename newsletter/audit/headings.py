"""Heading order: one ``h1``, first; no level skipped on the way down.

Screen readers list a message by its headings, and jump between them: the publication or issue
is the ``h1``, sections ``h2``, stories under them ``h3``. A story titled like its section, or an
``h3`` straight under the ``h1``, leaves that outline wrong.
"""

from __future__ import annotations

from html.parser import HTMLParser


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[list] = []  # [level, text]
        self._open: list | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self._open = [int(tag[1]), ""]
            self.found.append(self._open)

    def handle_endtag(self, tag: str) -> None:
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1] += data


def headings(html: str) -> list[tuple[int, str]]:
    """(level, text) of every heading, in order."""
    parser = _Headings()
    parser.feed(html)
    return [(level, " ".join(text.split())) for level, text in parser.found]


def heading_problems(html: str) -> list[str]:
    found = headings(html)
    ones = [text for level, text in found if level == 1]
    messages = []
    if not ones:
        messages.append("no h1: give the publication or the issue's title the one top-level heading")
    elif len(ones) > 1:
        messages.append(f"{len(ones)} h1 headings ({', '.join(ones)}): keep one")
    elif found[0][0] != 1:
        messages.append(f"the first heading is an h{found[0][0]} (“{found[0][1]}”), before the h1")
    for (above, _), (level, text) in zip(found, found[1:]):
        if level > above + 1:
            messages.append(f"heading h{level} “{text}” follows an h{above}: a level is skipped")
    return messages
