"""Content: articles (front matter + Markdown) and the excerpts an issue takes from them."""

from .articles import Article, ArticleLibrary, Image, load_article
from .excerpts import Excerpt, ExcerptError, select
from .markdown import Block, render_html, render_text

__all__ = [
    "Article", "ArticleLibrary", "Block", "Excerpt", "ExcerptError", "Image",
    "load_article", "render_html", "render_text", "select",
]
