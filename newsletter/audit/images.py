"""Images of the email: the site's files exist, and each is sharp at the size it is shown.

An image on the publication's site is published from the articles folder (see
:func:`newsletter.render.sample.site_file`), so a missing file is known before anyone opens the
email. Outlook and most clients show an image at its ``width`` attribute; high-density screens
need twice as many pixels to look sharp. Images on other hosts cannot be checked offline.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import display_path
from ..render import RenderedIssue
from ..render.sample import site_file

DENSITY = 2  # "retina": two device pixels per CSS pixel


def intrinsic_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels, from the file's header; None when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


def image_problems(rendered: RenderedIssue) -> list[str]:
    """Missing or unreadable image files, and images too small for the width they are shown at."""
    messages = []
    seen: set[tuple[str, int | None]] = set()
    for image in rendered.images:
        src = image["src"] or ""
        path = site_file(src, rendered.settings)
        shown = _width(image.get("width"))
        if path is None or (src, shown) in seen:
            continue
        seen.add((src, shown))
        if not path.is_file():
            messages.append(f"image file missing: {display_path(path)} (for {src})")
            continue
        size = intrinsic_size(path)
        if size is None:
            messages.append(f"image file is not an image a mail client can show: {display_path(path)}")
        elif shown and size[0] < shown * DENSITY:
            messages.append(
                f"image {display_path(path)} is {size[0]} px wide but shown {shown} px wide: give it at "
                f"least {shown * DENSITY} px, or it looks blurred on high-density screens")
    return messages


def _width(value: str | None) -> int | None:
    value = (value or "").strip().removesuffix("px")
    return int(value) if value.isdigit() else None
