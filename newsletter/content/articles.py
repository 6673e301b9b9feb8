"""Articles: ``articles/<slug>.md``, YAML front matter between ``---`` lines, then a Markdown body."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from ..errors import InputError, display_path
from ..yamlnodes import YamlReader
from .markdown import Block, parse_blocks

FRONT_MATTER_KEYS = ("title", "author", "author_bio", "date", "url", "summary", "image", "tags", "source")
IMAGE_KEYS = ("src", "alt", "caption")
#: Where an article fetched from a feed came from: the feed, and the entry's id (fetched once).
SOURCE_KEYS = ("feed", "id")
_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass
class Image:
    src: str  # absolute URL
    alt: str
    caption: str = ""


@dataclass
class Article:
    slug: str
    path: Path
    title: str
    url: str  # canonical, absolute
    blocks: list[Block]
    author: str = ""
    author_bio: str = ""
    date: dt.date | None = None
    summary: str = ""
    image: Image | None = None
    tags: list[str] = field(default_factory=list)


def _one_line(value: str) -> str:
    """Front-matter text shown in attributes and headings: white space folded to single spaces."""
    return " ".join(value.split())


def load_article(path: Path, base_url: str) -> Article:
    """Read and validate one article; every problem in it is raised at once."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError.at(path, None, "not UTF-8 text") from None
    text = text.replace("\r\n", "\n")
    if not text.startswith("---"):
        raise InputError.at(path, 1, "no front matter: an article starts with a YAML block between '---' lines")
    closing = _FENCE.search(text, 3)
    if not closing or not _FENCE.match(text, 0):
        raise InputError.at(path, 1, "front matter is not closed by a '---' line")
    front = text[text.index("\n") + 1 : closing.start()]
    body = text[closing.end() + 1 :]
    body_first_line = text[: closing.end()].count("\n") + 2

    reader = YamlReader(path, front, first_line=2)
    root = reader.root()
    fields_: dict = {}
    keys: dict = {}
    if root is not None:
        keys = reader.mapping(root, "", FRONT_MATTER_KEYS, required=("title",)) or {}
        for key in ("title", "author", "author_bio", "summary", "url"):
            if key in keys:
                value = reader.string(keys[key], key)
                if value is not None:
                    fields_[key] = _one_line(value)
        if "date" in keys:
            raw = keys["date"].value if hasattr(keys["date"], "value") else None
            try:
                fields_["date"] = dt.date.fromisoformat(str(raw))
            except (TypeError, ValueError):
                reader.error(keys["date"], "date", f"not a date (YYYY-MM-DD): {raw!r}")
        if "tags" in keys:
            tags = reader.strings(keys["tags"], "tags")
            if tags is not None:
                fields_["tags"] = tags
        if "image" in keys:
            image = reader.mapping(keys["image"], "image", IMAGE_KEYS, required=("src", "alt"))
            if image:
                values = {k: reader.string(v, f"image.{k}") for k, v in image.items()}
                if all(v is not None for v in values.values()) and "src" in values and "alt" in values:
                    fields_["image"] = Image(
                        src=urljoin(base_url.rstrip("/") + "/", values["src"].strip()),
                        alt=_one_line(values["alt"]),
                        caption=_one_line(values.get("caption") or ""),
                    )
        if "source" in keys:
            source = reader.mapping(keys["source"], "source", SOURCE_KEYS, required=("id",)) or {}
            for skey, node in source.items():
                reader.string(node, f"source.{skey}")
    for key, where in (("url", "url"), ("image", "image.src")):
        value = fields_.get(key)
        target = value.src if isinstance(value, Image) else value
        if target and not urljoin(base_url.rstrip("/") + "/", target).startswith(("https://", "http://")):
            reader.error(keys.get(key), where, f"must be an http(s) address or a path on the site, not {target!r}")
    if reader.problems:
        raise InputError(reader.problems)

    slug = path.stem
    url = fields_.pop("url", None) or f"{base_url.rstrip('/')}/articles/{slug}/"
    return Article(
        slug=slug,
        path=path,
        url=urljoin(base_url.rstrip("/") + "/", url),
        blocks=parse_blocks(body, base_url, first_line=body_first_line),
        **fields_,
    )


def read_front_matter(path: Path) -> dict:
    """An article's front matter as plain values, or ``{}`` when it has none that parses (for
    tools that only look: :func:`load_article` reports what is wrong)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return {}
    closing = _FENCE.search(text, 3) if _FENCE.match(text, 0) else None
    if not closing:
        return {}
    try:
        data = yaml.safe_load(text[text.index("\n") + 1 : closing.start()])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


class ArticleLibrary:
    """The articles of a publication, loaded on first use by slug."""

    def __init__(self, folder: Path, base_url: str):
        self.folder = folder
        self.base_url = base_url
        self._cache: dict[str, Article] = {}

    def path_for(self, slug: str) -> Path:
        return self.folder / f"{slug}.md"

    def exists(self, slug: str) -> bool:
        return "/" not in slug and "\\" not in slug and self.path_for(slug).is_file()

    def slugs(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.md"))

    def get(self, slug: str) -> Article:
        if slug not in self._cache:
            self._cache[slug] = load_article(self.path_for(slug), self.base_url)
        return self._cache[slug]

    def describe(self) -> str:
        return display_path(self.folder)
