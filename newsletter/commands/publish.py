"""``newsletter publish``: the static web archive, the same pages ``serve``'s archive shows.

The folder mirrors the site's paths below ``base_url`` (``archive/``, ``archive/<issue>/``,
``archive/feed.xml``, and the images of ``articles/`` at the paths the pages link to), so any
static host serving it at ``base_url`` gives the same archive as ``newsletter serve``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..errors import InputError
from ..store.engine import connect
from ..web import Archive, archive_page, publication, site_environment, site_file

#: The site's root sends readers to the archive, as ``serve`` does.
_INDEX = """<!doctype html>
<meta charset="utf-8"><meta http-equiv="refresh" content="0; url=archive/">
<title>Archive</title><a href="archive/">Archive</a>
"""


@dataclass
class Published:
    out: Path
    issues: list[str] = field(default_factory=list)
    images: int = 0


def publish(settings: Settings, out: Path | None = None) -> Published:
    """Write every sent issue's web version, the index and the feed, and copy the images."""
    out = out or settings.root / "build" / "site"
    engine = connect(settings)
    try:
        archive = Archive(settings, engine)
        issues = archive.issues()
        pages = {
            "index.html": _INDEX,
            "archive/index.html": archive_page(site_environment(), publication(settings), issues),
            "archive/feed.xml": archive.feed(),
        }
        for item in issues:
            pages[f"archive/{item.id}/index.html"] = archive.web_html(item.id) or ""
    finally:
        engine.dispose()
    result = Published(out, [item.id for item in issues])
    try:
        for relative, content in pages.items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        articles = settings.articles_dir
        for source in sorted(articles.rglob("*")) if articles.is_dir() else []:
            relative = source.relative_to(articles).as_posix()
            if source.is_file() and site_file(articles, relative):
                target = out / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                result.images += 1
    except OSError as exc:
        raise InputError.at(out, None, f"cannot write the archive: {exc.strerror or exc}") from None
    return result
