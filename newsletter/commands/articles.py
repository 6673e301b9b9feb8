"""``newsletter articles fetch``: a feed's new entries become articles."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..feeds import FetchReport, fetch_feed
from .schema import SCHEMA_NAME, write_schema


def fetch(source: str, settings: Settings) -> FetchReport:
    """Import the feed (a URL, or a file relative to the working folder); the issue schema, if
    the publication keeps one, learns the new article names."""
    report = fetch_feed(source, settings, base=Path.cwd())
    if report.added and (settings.root / SCHEMA_NAME).exists():
        write_schema(settings)
    return report
