"""Feed HTML → article Markdown.

A feed entry's HTML is untrusted: it is sanitized first (nh3, with the tags an article may have),
then written as Markdown whose text is escaped, so nothing in it can turn into markup it did not
have. The article is then read like any hand-written one (raw HTML off, sanitized again).

Structure that the article format gives meaning to is kept: paragraphs, headings, lists, quotes,
code, figures (an image alone in its paragraph, the caption as its title) and the ``**Q:**``
questions of interviews.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import nh3

from ..content.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES

_TAGS = ALLOWED_TAGS | {"figure", "figcaption", "table", "thead", "tbody", "tr", "td", "th", "section", "article"}
_ATTRIBUTES = {**ALLOWED_ATTRIBUTES, "img": {"src", "alt", "title"}, "*": set()}
_BLOCKS = {"p", "div", "section", "article", "figure", "blockquote", "ul", "ol", "li", "pre", "table", "tr",
           "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
_ESCAPE = re.compile(r"([\\`*_\[\]<>&!|~])")
_LINE_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))")


def sanitize(html: str) -> str:
    """What an article may hold; scripts, styles, handlers and other URL schemes are gone."""
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=None)


def escape(text: str) -> str:
    """Plain text that Markdown shows as it is."""
    return _ESCAPE.sub(r"\\\1", text)


def _block_start(text: str) -> str:
    # A paragraph that begins like a heading, list or quote must not become one.
    return _LINE_START.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"),
                           text, count=1)


def _url(value: str | None) -> str:
    return (value or "").strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _title(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "s": "~~", "del": "~~", "code": "`"}


class _Open(str):
    """An emphasis marker just opened (a ``str``, so a paragraph joins as text)."""


class _Writer(HTMLParser):
    """Walks sanitized HTML and writes Markdown blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        #: (Markdown, quote level, whether it is a list item)
        self.blocks: list[tuple[str, int, bool]] = []
        self.line: list[str] = []
        self.lists: list[list] = []  # [kind, counter]
        self.quote = 0
        self.pre = False
        self.links: list[str | None] = []
        self.figure: dict[str, str] | None = None
        self.caption: list[str] | None = None
        self.heading = 0
        self.code = False

    # --- blocks ----------------------------------------------------------------------------

    def flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        if self.pre:
            code = text.strip("\n")
            if code:
                fence = "~~~~" if "```" in code else "```"
                self._add(f"{fence}\n{code}\n{fence}")
            return
        text = re.sub(r" *\n *", "\n", re.sub(r" +", " ", text)).strip().removesuffix("\\")
        if not text:
            return
        if self.heading:
            text = "#" * self.heading + " " + text.replace("\n", " ")
        elif self.lists:
            kind, number = self.lists[-1]
            marker = f"{number}." if kind == "ol" else "-"
            indent = "    " * (len(self.lists) - 1)
            text = indent + marker + " " + text.replace("\n", "\n" + indent + "   ")
        else:
            text = _block_start(text)
        self._add(text, item=bool(self.lists) and not self.heading)

    def _add(self, text: str, item: bool = False) -> None:
        prefix = "> " * self.quote
        quoted = "\n".join((prefix + line).rstrip() for line in text.split("\n")) if prefix else text
        self.blocks.append((quoted, self.quote, item))

    def markdown(self) -> str:
        """The blocks joined: items of one list stay together, as do paragraphs of one quote."""
        parts: list[str] = []
        previous = None
        for text, quote, item in self.blocks:
            if previous is not None:
                if item and previous[2] and quote == previous[1]:
                    parts.append("\n")  # the next item of the same list
                elif quote and quote == previous[1]:
                    parts.append("\n" + ">" * quote + "\n")  # the next paragraph of the same quote
                else:
                    parts.append("\n\n")
            parts.append(text)
            previous = (text, quote, item)
        return "".join(parts) + "\n" if parts else ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _BLOCKS and tag != "li":
            self.flush()
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = min(6, int(tag[1]) + 1)  # the article's title is the only h1
        elif tag == "blockquote":
            self.quote += 1
        elif tag in ("ul", "ol"):
            self.lists.append([tag, 0])
        elif tag == "li":
            self.flush()
            if self.lists:
                self.lists[-1][1] += 1
        elif tag == "pre":
            self.pre = True
        elif tag == "hr":
            self._add("* * *")
        elif tag == "br":
            self.line.append("\n" if self.pre else "\\\n")
        elif tag == "figure":
            self.figure = {}
        elif tag == "figcaption":
            self.caption = []
        elif tag == "img":
            self._image(attributes)
        elif tag == "a":
            href = _url(attributes.get("href"))
            self.links.append(href if re.match(r"^(https?://|mailto:)", href) else None)
            if self.links[-1]:
                self.line.append("[")
        elif tag in _MARKS and not self.pre:
            self.line.append(_Open(_MARKS[tag]))
            self.code = self.code or tag == "code"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.flush()
            self.heading = 0
        elif tag == "blockquote":
            self.flush()
            self.quote = max(0, self.quote - 1)
        elif tag in ("ul", "ol"):
            self.flush()
            if self.lists:
                self.lists.pop()
        elif tag == "pre":
            self.flush()
            self.pre = False
        elif tag == "figcaption":
            if self.figure is not None and self.caption is not None:
                self.figure["caption"] = " ".join("".join(self.caption).split())
            self.caption = None
        elif tag == "figure":
            figure, self.figure = self.figure, None
            if figure and figure.get("src"):
                self.flush()
                caption = figure.get("caption") or figure.get("title", "")
                title = f' "{_title(caption)}"' if caption else ""
                self._add(f"![{escape(figure.get('alt', ''))}]({figure['src']}{title})")
        elif tag == "a":
            href = self.links.pop() if self.links else None
            if href:
                self.line.append(f"]({href})")
        elif tag in _MARKS and not self.pre:
            self._close(_MARKS[tag])
            self.code = self.code and tag != "code"
        elif tag in _BLOCKS:
            self.flush()

    def _close(self, mark: str) -> None:
        """Close an emphasis; spaces move outside it (``** Q: **`` is not bold in Markdown)."""
        last = self.line[-1] if self.line else None
        if isinstance(last, _Open) and last == mark:
            self.line.pop()  # nothing inside: no markers at all
            return
        trailing = ""
        if isinstance(last, str) and last.endswith(" ") and not isinstance(last, _Open):
            self.line[-1] = last.rstrip(" ")
            trailing = " "
        self.line.append(mark + trailing)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def _image(self, attributes: dict[str, str | None]) -> None:
        src = _url(attributes.get("src"))
        if not re.match(r"^https?://", src):
            return
        alt = " ".join((attributes.get("alt") or "").split())
        title = " ".join((attributes.get("title") or "").split())
        if self.figure is not None:
            self.figure.update(src=src, alt=alt, title=title)
            return
        quoted = f' "{_title(title)}"' if title else ""
        self.line.append(f"![{escape(alt)}]({src}{quoted})")

    def handle_data(self, data: str) -> None:
        if self.caption is not None:
            self.caption.append(data)
            return
        if self.pre:
            self.line.append(data)
            return
        text = re.sub(r"\s+", " ", data)
        # backslashes do not escape inside a code span: only its own delimiter must go
        text = text.replace("`", "'") if self.code else escape(text)
        if text.startswith(" ") and self.line and isinstance(self.line[-1], _Open):
            self.line.insert(len(self.line) - 1, " ")
            text = text.lstrip(" ")
        self.line.append(text)

    def close(self) -> None:
        super().close()
        self.flush()


def to_markdown(html: str) -> str:
    """Markdown for an entry's HTML, sanitized first."""
    writer = _Writer()
    writer.feed(sanitize(html))
    writer.close()
    return writer.markdown()


def to_text(html: str) -> str:
    """The plain text of a fragment on one line (titles, summaries), entities decoded."""
    spaced = re.sub(r"<(br|/p|/div|/li|/h[1-6]|/blockquote)\b[^>]*>", " ", html, flags=re.I)
    return " ".join(unescape(nh3.clean(spaced, tags=set())).split())


def shorten(text: str, limit: int) -> str:
    """Text on one line, cut at the last word that fits in ``limit`` characters, with ``…``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:—–- ") + "…"
