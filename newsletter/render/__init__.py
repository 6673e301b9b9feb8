"""Render: the issue through the theme to email HTML, web HTML and the text part, once per issue."""

from .pipeline import RenderedIssue, html_images, html_links, recipient_values, render_issue, render_named
from .placeholders import FIELDS, TOKENS, Personalizer

__all__ = [
    "FIELDS", "TOKENS", "Personalizer", "RenderedIssue",
    "html_images", "html_links", "recipient_values", "render_issue", "render_named",
]
