"""The issue format, declared once.

The loader (:mod:`.loader`) validates an issue against these definitions and says on which line
each mistake is; :func:`json_schema` turns the same definitions into a JSON Schema, so that editors
(VS Code's YAML extension and the others built on yaml-language-server) complete keys and flag
mistakes while the editor types. What depends on the publication — its articles, its templates —
is passed in by whoever asks, read from the same folders the loader reads.

A JSON Schema cannot know what an article says: an excerpt that matches no paragraph, or two, is
found by the loader (``newsletter check``), not by the editor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..content.excerpts import KINDS as EXCERPT_KINDS
from ..content.excerpts import PARAGRAPHS
from .model import LAYOUTS

TEXT = "text"  # a non-empty value; numbers and dates are taken as written
TIME = "time"  # ISO 8601 with an offset, or followed by a zone name (issue/times.py reads it)
INTEGER = "integer"
TEXTS = "texts"  # text, or a list of texts
VALUES = "values"  # name → a value, or a list of values (attribute conditions)
MAPPING = "mapping"
LIST = "list"  # of mappings


@dataclass(frozen=True)
class Key:
    """One key of a mapping: its kind of value and the constraints the loader checks."""

    name: str
    doc: str
    kind: str = TEXT
    required: bool = False
    #: Text that may be empty (``intro: ""``).
    empty_ok: bool = False
    #: Integers: the smallest allowed; lists: the fewest items.
    minimum: int | None = None
    #: The only values allowed (``layout``).
    choices: tuple[str, ...] = ()
    #: A regular expression the value must match (``id``); JSON Schema and Python read it alike.
    pattern: str | None = None
    #: The mapping a ``mapping`` key holds, or the items of a ``list`` key.
    shape: "Shape | None" = None


@dataclass(frozen=True)
class Shape:
    """A mapping: its keys in the order they are documented (and listed in error messages)."""

    title: str
    keys: tuple[Key, ...]
    doc: str = ""

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    @cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys if key.required)

    def __getitem__(self, name: str) -> Key:
        return next(key for key in self.keys if key.name == name)


#: Excerpts that make sense for whichever article ``{latest: N}`` picks.
LATEST_EXCERPTS = ("paragraphs", "words", "text")
#: Excerpts that come with their own layout.
SELF_LAID_OUT = ("quote", "qa")

EXCERPT = Shape("excerpt", (
    Key("paragraphs", 'Paragraphs in reading order, e.g. "1-2" or 3 (questions count; figures, headings '
                      "and lists do not).", pattern=f"^{PARAGRAPHS}$"),
    Key("quote", "A pull quote: the sentence(s) containing this text; must match exactly once."),
    Key("qa", "An interview question containing this text, with its whole answer; must match once."),
    Key("words", "The opening paragraphs, cut at the last sentence that fits in this many words.",
        kind=INTEGER, minimum=1),
    Key("text", "The editor's own summary, in Markdown."),
    Key("by", "Who said the quote (only with quote)."),
), doc="Which part of the article the item shows: exactly one of paragraphs, quote, qa, words, text.")

ITEM = Shape("item", (
    Key("article", "The article's slug: its file name in articles/ without .md."),
    Key("latest", "Instead of an article: the N newest articles that no earlier occurrence carried "
                  "(for recurring issues).", kind=INTEGER, minimum=1),
    Key("excerpt", "What to show of the article (default: its summary, or its first 60 words).",
        kind=MAPPING, shape=EXCERPT),
    Key("layout", "How the theme draws the item (default: the first item leads).", choices=LAYOUTS),
    Key("title", "A title to show instead of the article's."),
), doc="One article in a section: article (or latest), and optionally excerpt, layout, title.")

SECTION = Shape("section", (
    Key("heading", "The section's heading."),
    Key("items", "The articles of the section.", kind=LIST, required=True, minimum=1, shape=ITEM),
))

AUDIENCE = Shape("audience", (
    Key("lists", "Only subscribers on these lists.", kind=TEXTS),
    Key("where", "Only subscribers whose attributes have these values (a value, or a list of "
                 "allowed values).", kind=VALUES),
), doc="Who receives the issue (default: every confirmed subscriber).")

ISSUE = Shape("issue", (
    Key("id", "The issue's id (default: the file name without .yaml): letters, digits, . _ -",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"),
    Key("subject", "The email's subject line.", required=True),
    Key("preheader", "The preview text inboxes show after the subject.", empty_ok=True),
    Key("send_at", 'When to send: ISO 8601 with an offset (2026-11-26T08:00:00-05:00) or followed by a '
                   'zone name ("2026-11-26 08:00 America/New_York"); plain: the publication\'s zone.', kind=TIME),
    Key("repeat", 'A recurring issue: a cron expression in the publication\'s zone, e.g. "0 8 * * MON".'),
    Key("audience", "Who receives the issue (default: every confirmed subscriber).", kind=MAPPING,
        shape=AUDIENCE),
    Key("template", "The theme's template (default: from newsletter.toml)."),
    Key("intro", "Markdown from the editor, shown before the first section.", empty_ok=True),
    Key("sections", "The issue's sections, in order.", kind=LIST, required=True, minimum=1, shape=SECTION),
), doc="An issue of the newsletter: subject, sections of items that pick articles and excerpts.")


# --- JSON Schema ------------------------------------------------------------------------------

_SCALAR = {"type": ["string", "number", "boolean"]}
_DATE = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)?"


def _time_pattern(zones: list[str] | None) -> str:
    """ISO 8601 with an optional offset, or a date and time followed by a zone name.

    Zone names are spelled out when known, so a misspelt zone is flagged like the loader flags it;
    ``+`` is the only character in them that a regular expression needs escaped.
    """
    zone = "|".join(name.replace("+", r"\+") for name in zones) if zones else r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)*"
    return rf"^\s*{_DATE}({_OFFSET}| ({zone}))\s*$"


def _value(key: Key, choices: dict[str, list[str]], zones: list[str] | None) -> dict:
    schema: dict = {"description": key.doc}
    known = list(key.choices) or choices.get(key.name)
    if key.kind == TEXT:
        if known:
            schema["enum"] = known
        else:
            schema["type"] = ["string", "number"]
            if not key.empty_ok:
                schema["minLength"] = 1
                schema["pattern"] = key.pattern or r"\S"
            elif key.pattern:
                schema["pattern"] = key.pattern
    elif key.kind == TIME:
        schema.update(type="string", pattern=_time_pattern(zones))
    elif key.kind == INTEGER:
        schema["type"] = "integer"
        if key.minimum is not None:
            schema["minimum"] = key.minimum
    elif key.kind == TEXTS:
        one = {"type": ["string", "number"], "minLength": 1, "pattern": r"\S"}
        schema["anyOf"] = [one, {"type": "array", "items": one}]
    elif key.kind == VALUES:
        schema.update(type="object", additionalProperties={"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]})
    elif key.kind == MAPPING:
        assert key.shape is not None
        schema.update(_mapping(key.shape, choices, zones))
        schema["description"] = key.doc
    elif key.kind == LIST:
        assert key.shape is not None
        schema.update(type="array", items=_mapping(key.shape, choices, zones))
        if key.minimum:
            schema["minItems"] = key.minimum
    return schema


def _mapping(shape: Shape, choices: dict[str, list[str]], zones: list[str] | None) -> dict:
    schema: dict = {
        "type": "object",
        "properties": {key.name: _value(key, choices, zones) for key in shape.keys},
        "additionalProperties": False,
    }
    if shape.doc:
        schema["description"] = shape.doc
    if shape.required:
        schema["required"] = list(shape.required)
    schema.update(_RULES.get(shape.title, {}))
    return schema


def _has(*names: str) -> dict:
    return {"required": list(names)}


# What a key list cannot say: the loader's rules between keys, in JSON Schema.
_RULES: dict[str, dict] = {
    "issue": {"dependencies": {"repeat": {"not": _has("send_at")}}},
    "excerpt": {
        "oneOf": [_has(kind) for kind in EXCERPT_KINDS],
        "dependencies": {"by": _has("quote")},
    },
    "item": {
        "oneOf": [_has("article"), _has("latest")],
        "dependencies": {"title": {"not": _has("latest")}},
        "allOf": [
            {"if": _has("latest"),
             "then": {"properties": {"excerpt": {"propertyNames": {"enum": list(LATEST_EXCERPTS)}}}}},
            {"if": {**_has("excerpt"), "properties": {"excerpt": {"anyOf": [_has(k) for k in SELF_LAID_OUT]}}},
             "then": {"not": _has("layout")}},
        ],
    },
}


def json_schema(articles: list[str] | None = None, templates: list[str] | None = None,
                zones: list[str] | None = None) -> dict:
    """The issue format as a JSON Schema (draft-07, which every YAML language server reads).

    ``articles`` and ``templates`` (slugs and names the publication has) become the only values
    ``article`` and ``template`` may take, and ``zones`` the zone names ``send_at`` may end with;
    without them any text is accepted there.
    """
    choices = {name: sorted(values) for name, values in (("article", articles), ("template", templates)) if values}
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "newsletter issue",
        **_mapping(ISSUE, choices, sorted(zones) if zones else None),
    }
    return schema
