"""The web side of a publication (``newsletter serve``): readers' pages, provider webhooks, the archive."""

from .app import archive_page, create_app, publication, site_environment
from .archive import Archive, site_file

__all__ = ["Archive", "archive_page", "create_app", "publication", "site_environment", "site_file"]
