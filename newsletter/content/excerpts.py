"""Excerpt selectors: which part of an article an issue shows.

=================  =========================================================================
``paragraphs``     ``"1-3"`` or ``2``: paragraphs in reading order (questions count; figures,
                   headings and lists do not, but figures between the chosen paragraphs come along)
``quote``          exactly the passage given, as the article writes it, for a pull quote; must
                   match once
``qa``             the question containing the text, with its whole answer (figures included);
                   must match once
``words``          the opening paragraphs, cut at the last sentence that fits in N words (figures
                   between them come along)
``text``           the editor's own Markdown
=================  =========================================================================

Matching ignores case and the difference between typographic and straight quotes and dashes.
A selector that matches nothing, or more than once, raises :class:`ExcerptError` with a message fit
to follow ``FILE:LINE: path:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .articles import Article
from .markdown import Block, cut_block, cut_block_at_word, mark_continued, parse_blocks

KINDS = ("paragraphs", "quote", "qa", "words", "text")
#: A ``paragraphs`` selector: one number, or a range.
PARAGRAPHS = r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?"  # ASCII digits: int() reads others too


class ExcerptError(ValueError):
    """The selector does not pick exactly one piece of the article."""


@dataclass
class Excerpt:
    """What an item shows of its article."""

    kind: str  # paragraphs | quote | qa | words | text
    selector: str  # as written, for the manifest
    blocks: list[Block] = field(default_factory=list)  # paragraphs, words, text, and the answer of qa
    question: Block | None = None  # qa
    quote: str = ""  # quote: the passage, as the article writes it
    by: str = ""  # quote: attribution
    in_question: bool = False  # quote: the passage is from an interview question (the author's words)
    truncated: bool = False  # words: something was left out


_FOLD = (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"), ("\u00a0", " "))


def _fold(text: str) -> str:
    """Case and punctuation folded, one character for one, so offsets map back to the original."""
    folded = text
    for typographic, plain in _FOLD:
        folded = folded.replace(typographic, plain)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)  # e.g. "İ"


def _needle(text: str) -> str:
    return _fold(" ".join(text.split()))


def _preview(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _paragraphs(article: Article) -> list[Block]:
    return [b for b in article.blocks if b.kind in ("paragraph", "question")]


def by_paragraphs(article: Article, spec: str) -> Excerpt:
    match = re.fullmatch(PARAGRAPHS, spec)
    if not match:
        raise ExcerptError(f'expected a paragraph number or range like "1-3", got "{spec}"')
    paragraphs = _paragraphs(article)
    if any(len(number or "") > 9 for number in match.groups()):  # int() refuses 4,300 digits
        raise ExcerptError(f'paragraphs "{spec[:30]}" out of range: {article.slug} has {len(paragraphs)} paragraphs')
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if first < 1 or last < first:
        raise ExcerptError(f'"{spec}" is not a range of paragraphs (they count from 1)')
    if last > len(paragraphs):
        raise ExcerptError(
            f'paragraphs "{spec}" out of range: {article.slug} has {len(paragraphs)} paragraphs'
        )
    return Excerpt("paragraphs", spec, blocks=_with_figures(article, paragraphs[first - 1 : last]))


def _with_figures(article: Article, chosen: list[Block]) -> list[Block]:
    """``chosen`` with the figures that sit between its first and last block in the article.

    Blocks start on distinct lines, and a cut copy keeps its line, so lines identify them."""
    if len(chosen) < 2:
        return chosen
    first, last = chosen[0].line, chosen[-1].line
    by_line = {block.line: block for block in chosen}
    return [by_line.get(block.line, block) for block in article.blocks
            if first <= block.line <= last and (block.kind == "figure" or block.line in by_line)]




def by_quote(article: Article, needle_text: str) -> Excerpt:
    needle = _needle(needle_text)
    if not needle:
        raise ExcerptError("the text to find is empty")
    hits = []
    for block in _paragraphs(article):
        text = block.text
        folded = _fold(text)
        for m in re.finditer(re.escape(needle), folded):
            hits.append((block, text, m.start(), m.end()))
    if not hits:
        raise ExcerptError(f'no paragraph of {article.slug} contains "{_preview(needle_text)}"')
    if len(hits) > 1:
        lines = ", ".join(f"line {b.line}" for b, *_ in hits)
        raise ExcerptError(f'"{_preview(needle_text)}" matches {len(hits)} places in {article.slug} ({lines}); quote more of it')
    block, text, start, end = hits[0]
    return Excerpt("quote", needle_text, quote=_as_pull_quote(text[start:end]), in_question=block.kind == "question")


def _as_pull_quote(passage: str) -> str:
    """Exactly the passage, ready to sit inside the template's own “…”: quotation marks around
    all of it are dropped, and double marks inside become single (a quotation within a quotation),
    so the closing marks never double up."""
    passage = passage.strip()
    if len(passage) > 1 and passage[0] in "“\"" and passage[-1] in "”\"":
        passage = passage[1:-1].strip()
    return passage.replace("“", "‘").replace("”", "’")


def by_question(article: Article, needle_text: str) -> Excerpt:
    needle = _needle(needle_text)
    if not needle:
        raise ExcerptError("the question to find is empty")
    blocks = article.blocks
    questions = [i for i, b in enumerate(blocks) if b.kind == "question" and needle in _fold(b.text)]
    if not questions:
        raise ExcerptError(f'no question of {article.slug} contains "{_preview(needle_text)}"')
    if len(questions) > 1:
        lines = ", ".join(f"line {blocks[i].line}" for i in questions)
        raise ExcerptError(f'"{_preview(needle_text)}" matches {len(questions)} questions in {article.slug} ({lines})')
    index = questions[0]
    answer = []
    for block in blocks[index + 1 :]:
        if block.kind in ("question", "heading", "rule"):
            break
        answer.append(block)
    if not any(block.kind != "figure" for block in answer):
        raise ExcerptError(f'the question at line {blocks[index].line} of {article.slug} has no answer')
    return Excerpt("qa", needle_text, blocks=answer, question=blocks[index])


def by_words(article: Article, limit: int) -> Excerpt:
    if limit < 1:
        raise ExcerptError("words must be at least 1")
    chosen: list[Block] = []
    used = 0
    paragraphs = [b for b in article.blocks if b.kind == "paragraph"]
    for block in paragraphs:
        if used + block.words <= limit:
            chosen.append(block)
            used += block.words
            continue
        cut = cut_block(block, limit - used)
        if cut is not None:
            chosen.append(cut)
        elif not chosen:
            chosen.append(cut_block_at_word(block, limit))
        else:
            chosen[-1] = mark_continued(chosen[-1])
        return Excerpt("words", str(limit), blocks=_with_figures(article, chosen), truncated=True)
    if not chosen:
        raise ExcerptError(f"{article.slug} has no paragraphs to summarize")
    return Excerpt("words", str(limit), blocks=_with_figures(article, chosen), truncated=False)


def by_text(article: Article, markdown: str, base_url: str) -> Excerpt:
    return Excerpt("text", markdown, blocks=parse_blocks(markdown, base_url))


def select(article: Article, kind: str, value: str | int, base_url: str) -> Excerpt:
    """Apply one selector to an article."""
    if kind == "paragraphs":
        return by_paragraphs(article, str(value))
    if kind == "quote":
        return by_quote(article, str(value))
    if kind == "qa":
        return by_question(article, str(value))
    if kind == "words":
        return by_words(article, int(value))
    if kind == "text":
        return by_text(article, str(value), base_url)
    raise ExcerptError(f"unknown excerpt kind '{kind}' (expected one of: {', '.join(KINDS)})")
