"""The JSON Schema of issues: generated from the loader's definitions, it accepts every good issue
and rejects the bad ones the loader rejects, except what only the articles' text can tell."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from newsletter.commands.schema import issue_schema
from newsletter.errors import InputError
from newsletter.issue import load_issue

from .conftest import REPO, run_cli, write_issue
from .test_issue import BAD, GOOD_ITEM

#: Bad issues whose fault is in what an article says: a schema cannot know it; the loader (check) does.
CONTENT_CASES = {"excerpt matches nothing", "excerpt matches twice", "quote from a question attributed to another",
                 "question matches nothing", "range out of bounds"}

#: Rules between keys, beyond the cases test_issue.py lists.
MORE_BAD = [
    ("bad id", "id: -x\nsubject: S\n" + GOOD_ITEM),
    ("article and latest", "subject: S\nsections:\n  - items:\n      - {article: wings-shepitko, latest: 2}\n"),
    ("title with latest", "subject: S\nsections:\n  - items:\n      - {latest: 2, title: T}\n"),
    ("neither article nor latest", "subject: S\nsections:\n  - items:\n      - {layout: card}\n"),
    ("quote for latest", 'subject: S\nsections:\n  - items:\n      - {latest: 2, excerpt: {quote: "a"}}\n'),
    ("paragraphs not a range", "subject: S\n" + GOOD_ITEM.replace('"1"', '"first two"')),
    ("latest zero", "subject: S\nsections:\n  - items:\n      - {latest: 0}\n"),
    ("by without quote", 'subject: S\n' + GOOD_ITEM.replace('{paragraphs: "1"}', '{paragraphs: "1", by: X}')),
    ("layout of a quote", "subject: S\n" + GOOD_ITEM.replace('{paragraphs: "1"}', '{quote: "cinema is a tool of immortality"}')
     + "        layout: card\n"),
    ("repeat and send_at", 'subject: S\nrepeat: "0 8 * * MON"\nsend_at: 2026-11-26T08:00:00-05:00\n' + GOOD_ITEM),
    ("empty subject", 'subject: "  "\n' + GOOD_ITEM),
    ("no items", "subject: S\nsections:\n  - heading: H\n    items: []\n"),
    ("audience list of lists", "subject: S\naudience: {lists: [[a]]}\n" + GOOD_ITEM),
    ("null preheader", "subject: S\npreheader:\n" + GOOD_ITEM),
]

GOOD = [
    ("recurring digest", 'subject: Weekly\nrepeat: "0 8 * * MON"\nsections:\n  - heading: New\n    items:\n'
                         "      - latest: 3\n        excerpt: {words: 60}\n"),
    ("zone name", 'subject: S\nsend_at: "2026-11-26 08:00 America/New_York"\n' + GOOD_ITEM),
    ("numbers as text", "subject: 1917\nid: 2026-48\n" + GOOD_ITEM),
    ("audience", "subject: S\naudience: {lists: weekly, where: {city: [Paris, Lyon], vip: true}}\n" + GOOD_ITEM),
    ("quote with attribution", "subject: S\n" + GOOD_ITEM.replace(
        '{paragraphs: "1"}', '{quote: "cinema is a tool of immortality", by: Kantemir Balagov}')),
    ("empty intro", 'subject: S\nintro: ""\n' + GOOD_ITEM),
]


class _Yaml12(yaml.SafeLoader):
    """Reads YAML as yaml-language-server does (YAML 1.2 core schema): a date stays text."""


_Yaml12.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.fixture
def validator(settings):
    schema = issue_schema(settings)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(validator, text: str) -> list[str]:
    """What an editor would flag: a YAML syntax error, or the schema's complaints."""
    try:
        data = yaml.load(text, Loader=_Yaml12)
    except yaml.YAMLError as exc:
        return [f"YAML: {exc}"]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def loader_errors(settings, publication, text: str) -> list[str]:
    path = write_issue(publication, text)
    try:
        load_issue(path, settings)
    except InputError as exc:
        return exc.lines()
    return []


@pytest.mark.parametrize("text", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_schema_rejects_what_the_loader_rejects(validator, text, request):
    case = request.node.callspec.id
    if case in CONTENT_CASES:
        assert schema_errors(validator, text) == []  # the limit of a schema: check finds these
    else:
        assert schema_errors(validator, text), f"the schema accepts: {case}"


@pytest.mark.parametrize("text", [b[1] for b in MORE_BAD], ids=[b[0] for b in MORE_BAD])
def test_both_reject_rules_between_keys(settings, publication, validator, text):
    assert loader_errors(settings, publication, text)
    assert schema_errors(validator, text)


@pytest.mark.parametrize("text", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_both_accept_good_issues(settings, publication, validator, text):
    assert loader_errors(settings, publication, text) == []
    assert schema_errors(validator, text) == []


def test_schema_validates_every_issue_in_issues(settings, validator):
    paths = sorted((REPO / "issues").glob("*.yaml"))
    assert paths
    for path in paths:
        load_issue(path, settings)
        assert schema_errors(validator, path.read_text(encoding="utf-8")) == [], path


def test_articles_and_templates_are_the_publications(settings):
    schema = issue_schema(settings)
    item = schema["properties"]["sections"]["items"]["properties"]["items"]["items"]
    assert item["properties"]["article"]["enum"] == sorted(p.stem for p in settings.articles_dir.glob("*.md"))
    assert schema["properties"]["template"]["enum"] == sorted(p.stem for p in settings.templates_dir.glob("*.mjml"))
    assert item["properties"]["layout"]["enum"] == ["lead", "card"]
    assert "description" in item["properties"]["excerpt"]["properties"]["qa"]


def test_schema_command_prints_the_schema(publication, settings):
    result = run_cli("schema", cwd=publication)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == issue_schema(settings)
