"""A faithful local copy of a rendered issue: a sample subscriber filled in, images from disk.

The email itself keeps its placeholders and points its images at ``base_url``, where they will be
published; opened from disk it would show ``__NL_SUBSCRIBER_EMAIL__`` and alt text only. The
site's images live in the articles folder (``{base_url}/images/x.jpg`` is ``articles/images/x.jpg``),
which :func:`site_file` maps, for ``build``'s preview copy, the ``preview`` server and the checks.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config import Settings
from .pipeline import RenderedIssue, recipient_values

SAMPLE = {"email": "reader@example.com", "name": "Sample Reader"}


def site_file(url: str, settings: Settings) -> Path | None:
    """The file in the articles folder that ``url`` will be published from, or None when the url
    is not on the site (or tries to leave the folder)."""
    base = settings.base_url.rstrip("/") + "/"
    if not url.startswith(base):
        return None
    relative = url[len(base):].split("?", 1)[0].split("#", 1)[0]
    folder = settings.articles_dir.resolve()
    try:
        target = (folder / relative).resolve()
    except (ValueError, OSError):  # a NUL byte, a name too long
        return None
    return target if relative and target.is_relative_to(folder) else None


def sample_copy(rendered: RenderedIssue, image_prefix: str) -> tuple[str, str]:
    """(html, text) for the sample subscriber, the site's image sources rewritten to
    ``image_prefix`` + their path under the site (e.g. ``images/x.jpg``)."""
    base = rendered.settings.base_url.rstrip("/")
    values = recipient_values(
        SAMPLE["email"], SAMPLE["name"], f"{base}/unsubscribe/preview", f"{base}/preferences/preview"
    )
    html, text = rendered.personalize(values)
    html = re.sub(r'(<img\b[^>]*\bsrc=")' + re.escape(base) + "/", lambda m: m.group(1) + image_prefix, html)
    return html, text


def local_images(rendered: RenderedIssue) -> dict[str, Path]:
    """Path under the site → file on disk, for every image of the email that the site holds."""
    base = rendered.settings.base_url.rstrip("/") + "/"
    found = {}
    for image in rendered.images:
        src = image["src"] or ""
        path = site_file(src, rendered.settings)
        if path is not None and path.is_file():
            found[src[len(base):]] = path
    return found
