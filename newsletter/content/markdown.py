"""Article Markdown → a list of blocks that excerpts pick from and the renderers turn into HTML or text.

Markdown is parsed once (CommonMark, raw HTML off) into top-level blocks. Two conventions give an
article its structure:

* a paragraph that starts with ``**Q:**`` is an interview question; the paragraphs after it, up to
  the next question, heading, figure or rule, are its answer;
* an image alone in its paragraph is a figure, and its title is the caption:
  ``![alt](images/still.jpg "Caption")``.

Article text is untrusted: raw HTML is shown as text, links other than http(s)/mailto are dropped,
and the produced HTML is sanitized again with nh3 before it reaches a template.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urljoin

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("strikethrough")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "s", "del", "a", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "div", "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width"},
    "ol": {"start"},
    "*": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}

QUESTION_LABELS = ("Q:", "Q.")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "i.e.", "e.g.", "etc.", "no.", "jr.", "sr."}
_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*$")


def sanitize(fragment: str) -> str:
    """Allow only the tags, attributes and URL schemes an email body needs."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
    )


@dataclass
class Block:
    """One top-level piece of an article body."""

    kind: str  # paragraph | question | figure | heading | list | blockquote | code | rule
    tokens: list[Token]
    line: int  # 1-based line in the article file
    src: str = ""  # figure only
    alt: str = ""
    caption: str = ""
    truncated: bool = field(default=False)

    @property
    def inline(self) -> Token | None:
        for tok in self.tokens:
            if tok.type == "inline":
                return tok
        return None

    @cached_property
    def text(self) -> str:
        """Plain text with white space collapsed: what readers see, for matching and counting."""
        if self.kind == "figure":
            return self.caption
        parts: list[str] = []
        for tok in self.tokens:
            if tok.type == "inline":
                parts.append(_inline_plain(tok.children or []))
            elif tok.type in ("fence", "code_block"):
                parts.append(tok.content)
        return " ".join(" ".join(parts).split())

    @property
    def words(self) -> int:
        """Words as the trimming functions count them."""
        inline = self.inline
        if inline is None:
            return len(self.text.split())
        return len(_word_positions(inline.children or []))


def parse_blocks(body: str, base_url: str, first_line: int = 1) -> list[Block]:
    """Split Markdown into blocks; relative links and image sources resolve against ``base_url``."""
    tokens = _md.parse(body)
    blocks: list[Block] = []
    start = 0
    depth = 0
    for i, tok in enumerate(tokens):
        depth += tok.nesting
        if depth == 0:
            group = tokens[start : i + 1]
            start = i + 1
            line = first_line + (group[0].map[0] if group[0].map else 0)
            blocks.append(_classify(group, line))
    for block in blocks:
        _resolve_urls(block, base_url)
    return blocks


def _classify(group: list[Token], line: int) -> Block:
    head = group[0]
    if head.type == "paragraph_open":
        children = group[1].children or []
        if len(children) == 1 and children[0].type == "image":
            img = children[0]
            return Block(
                "figure", group, line,
                src=str(img.attrs.get("src", "")),
                alt=" ".join(_inline_plain(img.children or []).split()),
                caption=" ".join(str(img.attrs.get("title") or "").split()),
            )
        if _strip_question_label(group[1]):
            return Block("question", group, line)
        return Block("paragraph", group, line)
    kinds = {
        "heading_open": "heading", "bullet_list_open": "list", "ordered_list_open": "list",
        "blockquote_open": "blockquote", "fence": "code", "code_block": "code", "hr": "rule",
    }
    return Block(kinds.get(head.type, "paragraph"), group, line)


def _strip_question_label(inline: Token) -> bool:
    """Remove a leading ``**Q:**`` from a paragraph; True if it was there."""
    ch = [c for c in (inline.children or []) if not (c.type == "text" and not c.content)]
    if (
        len(ch) >= 3
        and ch[0].type == "strong_open"
        and ch[1].type == "text"
        and ch[1].content.strip() in QUESTION_LABELS
        and ch[2].type == "strong_close"
    ):
        rest = ch[3:]
        if rest and rest[0].type == "text":
            rest[0].content = rest[0].content.lstrip()
        inline.children = rest
        return True
    return False


def _resolve_urls(block: Block, base_url: str) -> None:
    base = base_url.rstrip("/") + "/"
    if block.kind == "figure":
        block.src = urljoin(base, block.src)
    for tok in block.tokens:
        for child in tok.children or []:
            if child.type == "link_open":
                child.attrSet("href", urljoin(base, str(child.attrs.get("href", ""))))
            elif child.type == "image":
                child.attrSet("src", urljoin(base, str(child.attrs.get("src", ""))))


def _inline_plain(children: Iterable[Token]) -> str:
    out = []
    for ch in children:
        if ch.type in ("text", "code_inline"):
            out.append(ch.content)
        elif ch.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif ch.type == "image":
            out.append(_inline_plain(ch.children or []))
    return "".join(out)


# --- HTML -------------------------------------------------------------------------------------


def render_html(blocks: Iterable[Block], image_width: int = 552) -> str:
    """Sanitized HTML for blocks, ready to sit inside an ``mj-text``; figures get ``width``
    ``image_width`` (the text column's width: Outlook sizes images by that attribute)."""
    parts = []
    for block in blocks:
        if block.kind == "figure":
            caption = f'<p class="caption">{html.escape(block.caption)}</p>' if block.caption else ""
            parts.append(
                f'<div class="figure"><img src="{html.escape(block.src)}" alt="{html.escape(block.alt)}"'
                f' width="{image_width}" class="figure-img">{caption}</div>'
            )
        else:
            rendered = _md.renderer.render(block.tokens, _md.options, {})
            if block.kind == "question":
                rendered = rendered.replace("<p>", '<p class="question">', 1)
            parts.append(rendered)
    return sanitize("".join(parts))


def render_inline_html(markdown: str, base_url: str) -> str:
    """An editor's Markdown (intro, summary text) as sanitized HTML."""
    return render_html(parse_blocks(markdown, base_url))


# --- plain text -------------------------------------------------------------------------------


def render_text(blocks: Iterable[Block], link: Callable[[str], str]) -> str:
    """Plain text for blocks; ``link(url)`` returns the reference to print after a link's text."""
    paragraphs = []
    for block in blocks:
        if block.kind == "figure":
            paragraphs.append(f"[Image: {block.alt}]" + (f" {block.caption}" if block.caption else ""))
            continue
        if block.kind == "rule":
            paragraphs.append("* * *")
            continue
        if block.kind == "code":
            paragraphs.append("\n".join("    " + ln for ln in block.tokens[0].content.rstrip("\n").split("\n")))
            continue
        lines = []
        bullets: list[str] = []
        counters: list[int] = []
        quote_depth = 0
        for tok in block.tokens:
            if tok.type == "bullet_list_open":
                bullets.append("-")
                counters.append(0)
            elif tok.type == "ordered_list_open":
                bullets.append("#")
                counters.append(int(tok.attrs.get("start", 1) or 1) - 1)
            elif tok.type in ("bullet_list_close", "ordered_list_close"):
                bullets.pop()
                counters.pop()
            elif tok.type == "blockquote_open":
                quote_depth += 1
            elif tok.type == "blockquote_close":
                quote_depth -= 1
            elif tok.type == "list_item_open":
                counters[-1] += 1
            elif tok.type == "inline":
                text = _inline_text(tok.children or [], link)
                if block.kind == "question":
                    text = "Q: " + text
                elif tok.level and bullets:
                    mark = "-" if bullets[-1] == "-" else f"{counters[-1]}."
                    text = "  " * (len(bullets) - 1) + f"{mark} {text}"
                if block.kind == "heading":
                    text = text.upper()
                if quote_depth:
                    text = "> " * quote_depth + text
                lines.append(text)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(p for p in paragraphs if p.strip())


def _inline_text(children: Iterable[Token], link: Callable[[str], str]) -> str:
    out = []
    href_stack: list[str] = []
    for ch in children:
        if ch.type in ("text", "code_inline"):
            out.append(ch.content)
        elif ch.type == "softbreak":
            out.append(" ")
        elif ch.type == "hardbreak":
            out.append("\n")
        elif ch.type == "link_open":
            href_stack.append(str(ch.attrs.get("href", "")))
        elif ch.type == "link_close" and href_stack:
            href = href_stack.pop()
            if href:
                out.append(f" {link(href)}")
        elif ch.type == "image":
            out.append(f"[Image: {_inline_plain(ch.children or [])}]")
    return "".join(out)


# --- trimming ---------------------------------------------------------------------------------


def _word_positions(children: list[Token]) -> list[tuple[int, int, str]]:
    """(child index, end offset in its content, word) for every word in the inline children."""
    found = []
    for index, ch in enumerate(children):
        if ch.type in ("text", "code_inline"):
            for m in re.finditer(r"\S+", ch.content):
                found.append((index, m.end(), m.group()))
    return found


def _ends_sentence(word: str, next_word: str | None) -> bool:
    if not _SENTENCE_END.search(word) or word.lower() in _ABBREVIATIONS:
        return False
    if next_word is None:
        return True
    return bool(re.match(r"[\"“‘'(\[]?[A-Z0-9À-Ý]", next_word))


def cut_block(block: Block, budget: int) -> Block | None:
    """The block cut after the last sentence that fits in ``budget`` words, or None if none fits.

    The cut never falls inside a tag: any element still open (emphasis, a link) is closed.
    """
    inline = block.inline
    if inline is None:
        return None
    children = inline.children or []
    words = _word_positions(children)
    cut = None
    for i, (_, _, word) in enumerate(words[:budget]):
        nxt = words[i + 1][2] if i + 1 < len(words) else None
        if _ends_sentence(word, nxt):
            cut = i
    if cut is None:
        return None
    return _cut_at(block, words[cut][0], words[cut][1])


def cut_block_at_word(block: Block, budget: int) -> Block:
    """The block cut after ``budget`` words: for a first paragraph with no sentence short enough."""
    inline = block.inline
    assert inline is not None
    words = _word_positions(inline.children or [])
    index, offset, _ = words[max(budget, 1) - 1]
    return _cut_at(block, index, offset)


def mark_continued(block: Block) -> Block:
    """The whole block with an ellipsis after its last word: more follows in the article."""
    return cut_block_at_word(block, block.words)


def _cut_at(block: Block, child_index: int, offset: int) -> Block:
    inline = block.inline
    assert inline is not None
    children = inline.children or []
    kept: list[Token] = []
    open_stack: list[Token] = []
    for ch in children[:child_index]:
        kept.append(ch)
        if ch.nesting == 1:
            open_stack.append(ch)
        elif ch.nesting == -1 and open_stack:
            open_stack.pop()
    last = children[child_index].copy()
    last.content = last.content[:offset]
    kept.append(last)
    for opened in reversed(open_stack):
        kept.append(Token(opened.type.replace("_open", "_close"), opened.tag, -1))
    kept.append(Token("text", "", 0, content=" …"))
    new_inline = inline.copy()
    new_inline.children = kept
    tokens = [new_inline if tok is inline else tok for tok in block.tokens]
    return Block(block.kind, tokens, block.line, truncated=True)
