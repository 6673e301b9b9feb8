"""Articles and their Markdown: structure, sanitizing, excerpts."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.content import load_article, render_html, render_text, select
from newsletter.content.excerpts import ExcerptError
from newsletter.content.markdown import parse_blocks
from newsletter.errors import InputError

BASE = "https://pub.example"
REPO = Path(__file__).resolve().parent.parent


def article(tmp_path: Path, body: str, front: str = 'title: "T"\nurl: "https://pub.example/t"') -> object:
    path = tmp_path / "a.md"
    path.write_text(f"---\n{front}\n---\n{body}", encoding="utf-8")
    return load_article(path, BASE)


# --- the seed interview -----------------------------------------------------------------------


def test_interview_has_questions_answers_and_captioned_figures():
    interview = load_article(REPO / "articles" / "balagov-beanpole.md", BASE)
    kinds = [b.kind for b in interview.blocks]
    assert kinds.count("question") >= 30
    figures = [b for b in interview.blocks if b.kind == "figure"]
    assert len(figures) == 3
    assert all(f.caption.endswith("courtesy Kino Lorber.") and f.alt for f in figures)
    assert figures[0].src == "https://pub.example/images/beanpole-1.jpg"
    assert interview.image is not None and interview.image.caption
    assert interview.author == "Godfrey Cheshire" and "film critic" in interview.author_bio
    text = " ".join(b.text for b in interview.blocks)
    assert "subscribe icon" not in text and "best movie reviews" not in text
    # Editorial insertions stay text, never links.
    assert "[Anton Yarush]" in text
    # Every question is followed by an answer.
    for i, block in enumerate(interview.blocks):
        if block.kind == "question":
            assert interview.blocks[i + 1].kind == "paragraph", block.text


# --- sanitizing -------------------------------------------------------------------------------


def test_untrusted_markdown_never_produces_script_or_javascript_links():
    blocks = parse_blocks(
        "Hello <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
        "[click](javascript:alert(1)) [data](data:text/html,hi) [ok](https://ok.example/)\n\n"
        "<iframe src=https://evil.example></iframe>\n",
        BASE,
    )
    out = render_html(blocks)
    assert "<script" not in out and "<iframe" not in out and "<img" not in out
    assert "javascript:" not in out.replace("[click](javascript:alert(1))", "")
    assert 'href="javascript' not in out and 'href="data' not in out
    assert '<a href="https://ok.example/">ok</a>' in out
    assert "&lt;script&gt;" in out  # shown as text, harmlessly


def test_relative_links_and_images_resolve_against_the_site():
    blocks = parse_blocks("[a review](/reviews/x) ![still](images/s.jpg \"Cap\")\n\n![alone](images/t.jpg \"Caption\")", BASE)
    out = render_html(blocks)
    assert 'href="https://pub.example/reviews/x"' in out
    assert 'src="https://pub.example/images/s.jpg"' in out
    assert blocks[1].kind == "figure" and blocks[1].caption == "Caption"


def test_text_rendering_numbers_links():
    refs: list[str] = []

    def link(url: str) -> str:
        refs.append(url)
        return f"[{len(refs)}]"

    blocks = parse_blocks("**Q:** Why *this*?\n\nSee [the site](https://x.example) and\n[more](https://y.example).", BASE)
    text = render_text(blocks, link)
    assert text == "Q: Why this?\n\nSee the site [1] and more [2]."
    assert refs == ["https://x.example", "https://y.example"]


# --- front matter -----------------------------------------------------------------------------


def test_front_matter_errors_name_the_line(tmp_path):
    with pytest.raises(InputError) as err:
        article(tmp_path, "Body.", front='title: "T"\nimage: {src: "a.jpg"}\ndate: "someday"\ncolour: red')
    lines = err.value.lines()
    assert any(line.endswith("a.md:3: image: missing required key 'alt'") for line in lines), lines
    assert any("a.md:4: date: not a date" in line for line in lines), lines
    assert any("a.md:5: colour: unknown key" in line for line in lines), lines


def test_multiline_front_matter_values_become_one_line(tmp_path):
    a = article(tmp_path, "Body.", front='title: "T"\nimage:\n  src: a.jpg\n  alt: >\n    two\n    lines\n')
    assert a.image.alt == "two lines"


# --- excerpts ---------------------------------------------------------------------------------

BODY = """First paragraph, with *emphasis*. It has two sentences.

Second paragraph says “cinema is a tool” once. And then more.

**Q:** What book impressed you the most?

I think it was “Chevengur”.

The answer goes on here.

**Q:** And the next question?

Another answer.
"""


def test_paragraph_ranges(tmp_path):
    a = article(tmp_path, BODY)
    ex = select(a, "paragraphs", "1-2", BASE)
    assert [b.text[:6] for b in ex.blocks] == ["First ", "Second"]
    assert select(a, "paragraphs", "3", BASE).blocks[0].kind == "question"
    with pytest.raises(ExcerptError, match="out of range: a has 7 paragraphs"):
        select(a, "paragraphs", "6-8", BASE)
    with pytest.raises(ExcerptError, match="expected a paragraph number"):
        select(a, "paragraphs", "one", BASE)


def test_quote_is_exactly_the_passage_and_folds_quotes_and_case(tmp_path):
    a = article(tmp_path, BODY)
    ex = select(a, "quote", 'says "Cinema is a tool"', BASE)
    assert ex.quote == "says ‘cinema is a tool’"  # as written; marks inside a quotation become single
    assert select(a, "quote", '"cinema is a tool"', BASE).quote == "cinema is a tool"  # the template adds “…”
    assert select(a, "quote", 'says "cinema is a tool" once', BASE).quote == "says ‘cinema is a tool’ once"
    assert select(a, "quote", "I think it was", BASE).in_question is False
    assert select(a, "quote", "What book impressed", BASE).in_question is True
    with pytest.raises(ExcerptError, match="no paragraph of a contains"):
        select(a, "quote", "not there at all", BASE)
    with pytest.raises(ExcerptError, match="matches 2 places"):
        select(a, "quote", "paragraph", BASE)


def test_qa_takes_the_whole_answer_up_to_the_next_question(tmp_path):
    a = article(tmp_path, BODY)
    ex = select(a, "qa", "what book impressed", BASE)
    assert ex.question.text == "What book impressed you the most?"
    assert [b.text for b in ex.blocks] == ["I think it was “Chevengur”.", "The answer goes on here."]
    with pytest.raises(ExcerptError, match="no question of a contains"):
        select(a, "qa", "nothing like this", BASE)
    with pytest.raises(ExcerptError, match="matches 2 questions"):
        select(a, "qa", "?", BASE)


FIGURES = """One.

![A still](still-1.jpg "Caption one")

Two.

**Q:** Any pictures?

Yes, this one.

![Another still](still-2.jpg)

**Q:** And next?

No.
"""


def test_figures_come_along_inside_paragraph_ranges_answers_and_words(tmp_path):
    a = article(tmp_path, FIGURES)
    assert [b.kind for b in select(a, "paragraphs", "1-2", BASE).blocks] == ["paragraph", "figure", "paragraph"]
    assert [b.kind for b in select(a, "paragraphs", "1", BASE).blocks] == ["paragraph"]
    qa = select(a, "qa", "any pictures", BASE)
    assert [b.kind for b in qa.blocks] == ["paragraph", "figure"]
    assert 'src="https://pub.example/still-2.jpg"' in render_html(qa.blocks)
    assert [b.kind for b in select(a, "words", 2, BASE).blocks] == ["paragraph", "figure", "paragraph"]


def test_words_cut_at_a_sentence_and_never_inside_a_tag(tmp_path):
    a = article(tmp_path, "One *two three. Four five* six. Seven eight nine ten.\n\nNext paragraph.")
    ex = select(a, "words", 5, BASE)
    html = render_html(ex.blocks)
    assert html == "<p>One <em>two three.</em> …</p>\n"
    assert ex.truncated
    whole = select(a, "words", 50, BASE)
    assert not whole.truncated and len(whole.blocks) == 2


def test_words_stop_before_a_paragraph_that_does_not_fit(tmp_path):
    a = article(tmp_path, "Short one here.\n\nA much longer second paragraph without any early stop at all")
    ex = select(a, "words", 6, BASE)
    assert render_html(ex.blocks) == "<p>Short one here. …</p>\n"


def test_words_fall_back_to_a_word_cut_for_one_long_sentence(tmp_path):
    a = article(tmp_path, "A [linked sentence that goes on](https://x.example) and on without end")
    html = render_html(select(a, "words", 3, BASE).blocks)
    assert html == '<p>A <a href="https://x.example">linked sentence</a> …</p>\n'


def test_text_excerpt_is_sanitized_markdown(tmp_path):
    a = article(tmp_path, BODY)
    ex = select(a, "text", "My *own* words <b>bold</b>", BASE)
    assert render_html(ex.blocks) == "<p>My <em>own</em> words &lt;b&gt;bold&lt;/b&gt;</p>\n"


def test_article_url_and_image_must_be_web_addresses(tmp_path):
    with pytest.raises(InputError) as err:
        article(tmp_path, "Body.", front='title: "T"\nurl: "javascript:alert(1)//"\nimage: {src: "data:image/png;base64,xx", alt: "a"}')
    assert [line.split("a.md:")[1] for line in err.value.lines()] == [
        "3: url: must be an http(s) address or a path on the site, not 'javascript:alert(1)//'",
        "4: image.src: must be an http(s) address or a path on the site, not 'data:image/png;base64,xx'",
    ]
