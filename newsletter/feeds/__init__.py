"""Feeds: RSS and Atom entries become Markdown articles (``articles fetch``, ``sources``)."""

from .importer import FetchReport, fetch_feed, refresh_sources

__all__ = ["FetchReport", "fetch_feed", "refresh_sources"]
