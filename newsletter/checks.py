"""Pre-send checks on a rendered issue: what would clip, break, leak or lose readers.

Each check returns messages; :func:`check_rendered` runs them all, with the audits of
:mod:`newsletter.audit` (contrast in light and dark, image files, headings, header-bound
settings). ``newsletter check`` prints one line per problem and exits 1; sending refuses an issue
with problems.
"""

from __future__ import annotations

import html as html_module
import re

from .audit.contrast import describe, low_contrast
from .audit.headings import heading_problems
from .audit.images import image_problems
from .audit.sender import sender_problems
from .errors import Problem, display_path
from .render import TOKENS, RenderedIssue, html_links
from .render.placeholders import TOKEN_SHAPE

MAX_HTML_BYTES = 100 * 1024  # Gmail clips at ~102 KB
MAX_STYLE_BYTES = 16 * 1024  # Gmail drops larger <style> blocks
MAX_SUBJECT = 100
_PLACEHOLDER_URLS = {TOKENS["unsubscribe_url"], TOKENS["preferences_url"]}
_LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|</?mj-[a-z-]*|</?mjml\b")
_RUST_ESCAPES = re.compile(r"\\u\{[0-9a-f]+\}|\\[nt]")
_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_REMOTE_CSS = re.compile(r"<link\b[^>]*rel=\"?stylesheet[^>]*href=\"([^\"]+)\"|@import\s+(?:url\(\s*)?['\"]?([^'\")\s;]+)", re.I)


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def check_rendered(rendered: RenderedIssue) -> list[Problem]:
    """Every problem found in the rendered email, its text part and its web version."""
    where = display_path(rendered.issue.path)
    messages: list[str] = []
    html, text, issue = rendered.html, rendered.text, rendered.issue

    size = len(html.encode("utf-8"))
    if size > MAX_HTML_BYTES:
        messages.append(f"email HTML is {_kb(size)}: Gmail clips messages over ~102 KB (keep it under 100 KB)")
    for number, style in enumerate(re.findall(r"<style[^>]*>(.*?)</style>", html, re.S | re.I), 1):
        style_size = len(style.encode("utf-8"))
        if style_size > MAX_STYLE_BYTES:
            messages.append(f"<style> block {number} is {_kb(style_size)}: Gmail drops style blocks over 16 KB")

    if not issue.preheader.strip():
        messages.append("no preheader: inboxes will show the first words of the email instead")
    if len(issue.subject) > MAX_SUBJECT:
        messages.append(f"subject is {len(issue.subject)} characters: keep it to {MAX_SUBJECT} or fewer")
    if not re.search(r"<html[^>]*\slang=\"[^\"]+\"", html):
        messages.append("no lang attribute on <html>: screen readers will guess the language")

    found = list(_REMOTE_CSS.finditer(_without_comments(html)))
    for sheet in sorted({m.group(1) for m in found if m.group(1)}):
        messages.append(f"email HTML loads a remote stylesheet, which most email clients ignore: {sheet}")
    for sheet in sorted({m.group(2) for m in found if m.group(2)}):
        messages.append(f"@import {sheet} in a style block: never fetched (rendering stays offline) and ignored by "
                        "most email clients; put the rules in <mj-style>")

    for image in rendered.images:
        if image["alt"] is None:
            messages.append(f"image without alt text: {image['src']}")
        src = image["src"] or ""
        if not src.startswith(("https://", "http://")):
            messages.append(f"image source is not an absolute http(s) URL: {src or '(empty)'}")

    for part, content in (("email HTML", html), ("web version", rendered.web_html)):
        for href, line in html_links(content):
            if href in _PLACEHOLDER_URLS and part == "email HTML":
                continue
            if not re.match(r"^(https?://[^\s/]+|mailto:\S+@)", href):
                messages.append(f"{part}: link is not an absolute http(s) URL: {href or '(empty)'} (line {line})")

    for part, content in (("email HTML", html), ("text part", text), ("web version", rendered.web_html)):
        for leftover in sorted(set(_LEFTOVERS.findall(_without_comments(content)))):
            messages.append(f"{part}: leftover template or MJML markup: {leftover!r}")
        for token in sorted(set(TOKEN_SHAPE.findall(content)) - set(TOKENS.values())):
            messages.append(f"{part}: unknown placeholder {token}")
    if TOKEN_SHAPE.search(rendered.web_html):
        messages.append("web version: contains a per-recipient placeholder")
    escapes = {e for tag in _TAG.findall(html) for e in _RUST_ESCAPES.findall(tag)}
    for escape in sorted(escapes):
        messages.append(f"email HTML: attribute escaped by mjml-python: {escape!r}")

    for href in rendered.links:
        if href not in text:
            messages.append(f"text part is missing a link: {href}")
    for part, content in (("email HTML", html), ("text part", text)):
        if TOKENS["unsubscribe_url"] not in content:
            messages.append(f"{part}: no unsubscribe link")
        if rendered.settings.postal_address and rendered.settings.postal_address not in html_module.unescape(content):
            messages.append(f"{part}: no postal address (required in commercial email, e.g. CAN-SPAM)")
    if issue.preheader and issue.preheader not in html_module.unescape(html):
        messages.append("email HTML: the preheader is missing: the theme must show issue.preheader (hidden)")

    messages += image_problems(rendered)
    messages += heading_problems(html)
    messages += describe(low_contrast(html))
    settings = rendered.settings
    shown = display_path(settings.config_path) if settings.config_path else "settings"
    return [Problem(where, None, message) for message in messages] + [
        Problem(shown, None, message) for message in sender_problems(settings)
    ]


def _without_comments(html: str) -> str:
    """MSO conditional comments legitimately hold markup that looks like leftovers."""
    return re.sub(r"<!--.*?-->", "", html, flags=re.S)
