"""Issue YAML: the example loads; every kind of bad input is one line naming file and line."""

from __future__ import annotations

import pytest

from newsletter.errors import InputError
from newsletter.issue import load_issue

from .conftest import EXAMPLE_ISSUE, run_cli, write_issue

GOOD_ITEM = """sections:
  - heading: H
    items:
      - article: balagov-beanpole
        excerpt: {paragraphs: "1"}
"""


def test_the_example_issue_uses_every_excerpt_kind(settings, publication):
    issue = load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings)
    assert issue.id == EXAMPLE_ISSUE
    assert {item.excerpt.kind for item in issue.items} == {"paragraphs", "quote", "qa", "words", "text"}
    assert issue.items[0].layout == "lead"
    assert issue.send_at.isoformat() == "2026-11-26T08:00:00-05:00"
    assert issue.audience.lists == ["weekly"]


def test_send_at_with_a_zone_name(settings, publication):
    path = write_issue(publication, 'subject: S\nsend_at: "2026-11-26 08:00 Europe/Paris"\n' + GOOD_ITEM)
    issue = load_issue(path, settings)
    assert issue.send_at.utcoffset().total_seconds() == 3600


def errors_of(settings, publication, text: str) -> list[str]:
    path = write_issue(publication, text)
    with pytest.raises(InputError) as err:
        load_issue(path, settings)
    return err.value.lines()


BAD = [
    ("yaml syntax", "subject: S\npreheader: [unclosed\n" + GOOD_ITEM,
     "issues/test-issue.yaml:3: YAML syntax error:"),
    ("unknown key", "subject: S\nsubjet: typo\n" + GOOD_ITEM, "issues/test-issue.yaml:2: subjet: unknown key"),
    ("wrong type", "subject: [a, list]\n" + GOOD_ITEM, "issues/test-issue.yaml:1: subject: expected text, got a list"),
    ("missing article", "subject: S\n" + GOOD_ITEM.replace("balagov-beanpole", "no-such-film"),
     'issues/test-issue.yaml:5: sections[0].items[0].article: no article "no-such-film"'),
    ("excerpt matches nothing", "subject: S\n" + GOOD_ITEM.replace('{paragraphs: "1"}', '{quote: "zebra crossing"}'),
     'issues/test-issue.yaml:6: sections[0].items[0].excerpt: no paragraph of balagov-beanpole contains "zebra crossing"'),
    ("excerpt matches twice", "subject: S\n" + GOOD_ITEM.replace('{paragraphs: "1"}', '{quote: "Sokurov"}'),
     'issues/test-issue.yaml:6: sections[0].items[0].excerpt: "Sokurov" matches'),
    ("quote from a question attributed to another", "subject: S\n" + GOOD_ITEM.replace(
        '{paragraphs: "1"}', '{quote: "What book impressed you", by: Kantemir Balagov}'),
     "issues/test-issue.yaml:6: sections[0].items[0].excerpt.by: the passage is from a question, in Godfrey Cheshire's words, not Kantemir Balagov's"),
    ("question matches nothing", "subject: S\n" + GOOD_ITEM.replace('{paragraphs: "1"}', '{qa: "favourite colour"}'),
     "issues/test-issue.yaml:6: sections[0].items[0].excerpt: no question of balagov-beanpole contains"),
    ("range out of bounds", "subject: S\n" + GOOD_ITEM.replace('"1"', '"1-500"'),
     'issues/test-issue.yaml:6: sections[0].items[0].excerpt: paragraphs "1-500" out of range'),
    ("unknown template", "subject: S\ntemplate: monthly\n" + GOOD_ITEM,
     'issues/test-issue.yaml:2: template: unknown template "monthly" (available: letter, weekly)'),
    ("unparseable send_at", "subject: S\nsend_at: next tuesday\n" + GOOD_ITEM,
     "issues/test-issue.yaml:2: send_at: \"next tuesday\" is not an ISO 8601 date"),
    ("unknown zone", "subject: S\nsend_at: 2026-11-26T08:00 Mars/Olympus\n" + GOOD_ITEM,
     'issues/test-issue.yaml:2: send_at: unknown time zone "Mars/Olympus"'),
    ("two excerpt kinds", "subject: S\n" + GOOD_ITEM.replace('{paragraphs: "1"}', '{paragraphs: "1", words: 3}'),
     "issues/test-issue.yaml:6: sections[0].items[0].excerpt: give exactly one of"),
    ("words not a number", "subject: S\n" + GOOD_ITEM.replace('{paragraphs: "1"}', "{words: many}"),
     "issues/test-issue.yaml:6: sections[0].items[0].excerpt.words: expected a whole number"),
    ("missing subject", GOOD_ITEM, "issues/test-issue.yaml:1: missing required key 'subject'"),
    ("no sections", "subject: S\nsections: []\n", "issues/test-issue.yaml:2: sections: an issue needs at least one section"),
    ("bad layout", "subject: S\n" + GOOD_ITEM + "        layout: hero\n",
     'issues/test-issue.yaml:7: sections[0].items[0].layout: "hero" is not one of: lead, card'),
    ("empty file", "", "issues/test-issue.yaml:1: the document is empty"),
    ("not a mapping", "- just\n- a list\n", "issues/test-issue.yaml:1: expected a mapping, got a list"),
]


@pytest.mark.parametrize("text,expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_issue_is_one_line_with_file_and_line(settings, publication, text, expected):
    lines = errors_of(settings, publication, text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]


def test_yaml_syntax_error_says_where_the_construct_began(settings, publication):
    lines = errors_of(settings, publication, "subject: S\npreheader: [unclosed\n" + GOOD_ITEM)
    assert lines[0].endswith("(while parsing a flow sequence that starts at line 2)"), lines


def test_every_problem_is_reported_at_once(settings, publication):
    lines = errors_of(settings, publication, """subject: S
colour: blue
send_at: whenever
sections:
  - items:
      - article: missing-one
      - article: balagov-beanpole
        excerpt: {qa: "no such question"}
""")
    assert [line.split(":")[1] for line in lines] == ["2", "3", "6", "8"], lines


def test_article_problems_name_the_article_file(settings, publication):
    (publication / "articles" / "no-front.md").write_text("Just a body.\n")
    (publication / "articles" / "no-title.md").write_text("---\nauthor: X\n---\nBody.\n")
    lines = errors_of(settings, publication, """subject: S
sections:
  - items:
      - article: no-front
      - article: no-title
""")
    assert lines == [
        "articles/no-front.md:1: no front matter: an article starts with a YAML block between '---' lines",
        "articles/no-title.md:2: missing required key 'title'",
    ]


def test_cli_reports_bad_input_with_exit_2_and_no_traceback(publication):
    write_issue(publication, "subject: S\nsubjet: typo\n" + GOOD_ITEM)
    for command in ("build", "check"):
        result = run_cli(command, "test-issue", cwd=publication)
        assert result.returncode == 2, result
        assert result.stderr.strip() == "issues/test-issue.yaml:2: subjet: unknown key (expected one of: id, subject, preheader, send_at, repeat, audience, template, intro, sections)"
        assert "Traceback" not in result.stderr + result.stdout
    assert not (publication / "build").exists()


def test_template_syntax_error_names_the_template_line(publication):
    (publication / "templates" / "partials" / "group-card.mjml").write_text(
        "<mj-section>\n<mj-column>\n<mj-text>{{ item.title }</mj-text>\n</mj-column>\n</mj-section>\n"
    )
    result = run_cli("build", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 2
    assert result.stderr.startswith("templates/partials/group-card.mjml:3: template syntax error:"), result.stderr
    assert "Traceback" not in result.stderr
