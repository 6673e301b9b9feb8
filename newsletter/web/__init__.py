"""The web side of a publication (``newsletter serve``): readers' pages, provider webhooks, the archive."""

from .app import create_app

__all__ = ["create_app"]
