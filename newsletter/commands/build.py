"""``newsletter build``: render an issue and write its files."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import InputError
from ..issue import Issue
from ..render import RenderedIssue, html_links, render_named
from ..render.sample import local_images, sample_copy


def manifest(rendered: RenderedIssue, files: dict[str, str]) -> dict:
    """What an issue is made of, for review and for the send step."""
    issue: Issue = rendered.issue
    links = list(dict.fromkeys(rendered.links + [href for href, _ in html_links(rendered.web_html)]))
    return {
        "issue": issue.id,
        "subject": issue.subject,
        "preheader": issue.preheader,
        "template": issue.template,
        "send_at": issue.send_at.isoformat() if issue.send_at else None,
        "audience": {"lists": issue.audience.lists, "where": issue.audience.where},
        "articles": [
            {"slug": a.slug, "title": a.title, "url": a.url, "author": a.author} for a in issue.articles
        ],
        "items": [
            {
                "section": section.heading,
                "slot": item.slot,
                "article": item.article.slug,
                "layout": item.layout,
                "excerpt": {"kind": item.excerpt.kind, "selector": item.excerpt.selector},
            }
            for section in issue.sections
            for item in section.items
        ],
        "links": links,
        "files": {
            name: {
                "bytes": len(content.encode("utf-8")),
                "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(),
            }
            for name, content in files.items()
        },
    }


@dataclass
class BuildResult:
    rendered: RenderedIssue
    out: Path
    files: dict[str, Path]


def build(issue_name: str, settings: Settings, out: Path | None = None) -> BuildResult:
    """Write email.html and email.txt (with placeholders: what the sender fills), web.html,
    preview.html (a sample subscriber filled in, images copied beside it: open it from disk) and
    manifest.json; nothing is written on an error."""
    rendered = render_named(issue_name, settings)
    out = out or settings.root / "build" / rendered.issue.id
    contents = {"email.html": rendered.html, "email.txt": rendered.text, "web.html": rendered.web_html}
    contents["manifest.json"] = json.dumps(manifest(rendered, contents), indent=2, ensure_ascii=False) + "\n"
    contents["preview.html"] = sample_copy(rendered, image_prefix="")[0]
    written = {}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, content in contents.items():
            path = out / name
            path.write_text(content, encoding="utf-8")
            written[name] = path
        for relative, source in local_images(rendered).items():
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    except OSError as exc:
        raise InputError.at(out, None, f"cannot write the build: {exc.strerror or exc}") from None
    return BuildResult(rendered, out, written)
