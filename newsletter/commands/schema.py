"""``newsletter schema``: the JSON Schema of the issue format, with this publication's articles.

Issues made by ``newsletter new`` (and the example ``init`` writes) begin with a modeline that points
yaml-language-server at ``issue.schema.json`` in the publication folder; ``new`` writes that file
again each time, so the article names it completes are the current ones.
"""

from __future__ import annotations

import json
import zoneinfo
from pathlib import Path

from ..config import Settings
from ..content import ArticleLibrary
from ..errors import InputError
from ..issue.spec import json_schema

SCHEMA_NAME = "issue.schema.json"
#: The first line of an issue in ``issues/``: its schema, for editors that read the modeline.
MODELINE = f"# yaml-language-server: $schema=../{SCHEMA_NAME}"


def issue_schema(settings: Settings) -> dict:
    """The issue schema, naming the articles and templates the publication has."""
    articles = ArticleLibrary(settings.articles_dir, settings.base_url).slugs() if settings.articles_dir.is_dir() else []
    templates = sorted(p.stem for p in settings.templates_dir.glob("*.mjml")) if settings.templates_dir.is_dir() else []
    return json_schema(articles, templates, sorted(zoneinfo.available_timezones()))


def schema_text(settings: Settings) -> str:
    return json.dumps(issue_schema(settings), indent=2, ensure_ascii=False) + "\n"


def write_schema(settings: Settings) -> Path:
    """Write ``issue.schema.json`` in the publication folder; its path."""
    path = settings.root / SCHEMA_NAME
    try:
        path.write_text(schema_text(settings), encoding="utf-8")
    except OSError as exc:
        raise InputError.at(path, None, f"cannot write: {exc.strerror or exc}") from None
    return path
