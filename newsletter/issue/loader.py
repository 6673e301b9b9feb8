"""Read ``issues/<id>.yaml`` into an :class:`Issue`, reporting every problem with its line."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import SequenceNode

from ..config import Settings
from ..content import ArticleLibrary, ExcerptError, select
from ..content.excerpts import KINDS as EXCERPT_KINDS
from ..errors import InputError, Problem
from ..yamlnodes import YamlReader
from .model import LAYOUTS, Audience, Issue, Item, Section

ISSUE_KEYS = ("id", "subject", "preheader", "send_at", "audience", "template", "intro", "sections")
SECTION_KEYS = ("heading", "items")
ITEM_KEYS = ("article", "excerpt", "layout", "title")
EXCERPT_KEYS = (*EXCERPT_KINDS, "by")
AUDIENCE_KEYS = ("lists", "where")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEFAULT_SUMMARY_WORDS = 60


def find_issue(name: str, settings: Settings) -> Path:
    """An issue given as a path, a file name, or an id in ``issues/``."""
    candidates = [Path(name), settings.issues_dir / name, settings.issues_dir / f"{name}.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InputError.at(name, None, f"no such issue (looked in {settings.issues_dir})")


def parse_send_at(text: str, default_zone: str) -> dt.datetime:
    """ISO 8601 with an offset, or followed by a zone name; plain times use the publication's zone."""
    original = text = text.strip()
    zone_name = None
    if " " in text and re.search(r"[A-Za-z]$", text):
        text, zone_name = text.rsplit(" ", 1)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f'"{original}" is not an ISO 8601 date and time like 2026-11-26T08:00:00-05:00') from None
    if zone_name:
        if when.tzinfo is not None:
            raise ValueError("give an offset or a zone name, not both")
        try:
            when = when.replace(tzinfo=ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{zone_name}"') from None
    elif when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(default_zone))
    return when


def load_issue(path: str | Path, settings: Settings, library: ArticleLibrary | None = None) -> Issue:
    """Validate the issue and resolve its articles and excerpts; raise every problem at once."""
    path = Path(path)
    library = library or ArticleLibrary(settings.articles_dir, settings.base_url)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError.at(path, None, "no such file") from None
    except UnicodeDecodeError:
        raise InputError.at(path, None, "not UTF-8 text") from None
    reader = YamlReader(path, text)
    root = reader.root()
    if root is None:
        raise InputError(reader.problems)
    keys = reader.mapping(root, "", ISSUE_KEYS, required=("subject", "sections"))
    if keys is None:
        raise InputError(reader.problems)
    article_problems: list[Problem] = []

    def text_of(key: str, default: str = "", **kw) -> str:
        if key not in keys:
            return default
        value = reader.string(keys[key], key, **kw)
        return default if value is None else value

    issue_id = text_of("id", path.stem)
    if not _ID.match(issue_id):
        reader.error(keys.get("id", root), "id", f'"{issue_id}" is not a usable id (letters, digits, . _ -)')
    subject = " ".join(text_of("subject").split())
    preheader = " ".join(text_of("preheader", empty_ok=True).split())
    intro = text_of("intro", empty_ok=True)

    template = settings.template
    if "template" in keys:
        template = text_of("template", settings.template)
        if not (settings.templates_dir / f"{template}.mjml").is_file():
            available = sorted(p.stem for p in settings.templates_dir.glob("*.mjml"))
            reader.error(keys["template"], "template",
                         f'unknown template "{template}" (available: {", ".join(available) or "none"})')

    send_at = None
    if "send_at" in keys:
        raw = reader.string(keys["send_at"], "send_at")
        if raw is not None:
            try:
                send_at = parse_send_at(raw, settings.timezone)
            except ValueError as exc:
                reader.error(keys["send_at"], "send_at", str(exc))

    audience = Audience()
    if "audience" in keys:
        akeys = reader.mapping(keys["audience"], "audience", AUDIENCE_KEYS) or {}
        if "lists" in akeys:
            audience.lists = reader.strings(akeys["lists"], "audience.lists") or []
        if "where" in akeys:
            where = reader.mapping(akeys["where"], "audience.where", allowed=None) or {}
            for attr, node in where.items():
                values = node.value if isinstance(node, SequenceNode) else [node]
                picked = [reader.scalar(v, f"audience.where.{attr}") for v in values]
                if all(p is not None for p in picked):
                    audience.where[attr] = picked

    sections: list[Section] = []
    section_nodes = reader.sequence(keys["sections"], "sections") if "sections" in keys else None
    if section_nodes is not None and not section_nodes:
        reader.error(keys["sections"], "sections", "an issue needs at least one section")
    for s_index, s_node in enumerate(section_nodes or []):
        where = f"sections[{s_index}]"
        skeys = reader.mapping(s_node, where, SECTION_KEYS, required=("items",))
        if skeys is None:
            continue
        heading = " ".join((reader.string(skeys["heading"], f"{where}.heading") or "").split()) if "heading" in skeys else ""
        items: list[Item] = []
        item_nodes = reader.sequence(skeys["items"], f"{where}.items") if "items" in skeys else None
        if item_nodes is not None and not item_nodes:
            reader.error(skeys["items"], f"{where}.items", "a section needs at least one item")
        for i_index, i_node in enumerate(item_nodes or []):
            item = _load_item(reader, i_node, f"{where}.items[{i_index}]", library, settings,
                              slot=f"{s_index + 1}-{i_index + 1}", article_problems=article_problems)
            if item is not None:
                items.append(item)
        sections.append(Section(heading=heading, items=items))

    problems = reader.problems + article_problems
    if problems:
        raise InputError(problems)
    items = [item for section in sections for item in section.items]
    if items and not any(item.layout == "lead" for item in items) and items[0].layout == "card":
        items[0].layout = "lead"
    return Issue(
        id=issue_id, path=path, subject=subject, preheader=preheader, template=template,
        sections=sections, intro=intro, send_at=send_at, audience=audience,
    )


def _load_item(reader: YamlReader, node, where: str, library: ArticleLibrary, settings: Settings,
               slot: str, article_problems: list[Problem]) -> Item | None:
    keys = reader.mapping(node, where, ITEM_KEYS, required=("article",))
    if keys is None or "article" not in keys:
        return None
    slug = reader.string(keys["article"], f"{where}.article")
    if slug is None:
        return None
    if not library.exists(slug):
        known = library.slugs()
        hint = f" (articles: {', '.join(known)})" if known and len(known) <= 12 else ""
        reader.error(keys["article"], f"{where}.article", f'no article "{slug}" in {library.describe()}/{hint}')
        return None
    try:
        article = library.get(slug)
    except InputError as exc:
        for problem in exc.problems:
            if problem not in article_problems:
                article_problems.append(problem)
        return None

    layout = None
    if "layout" in keys:
        layout = reader.string(keys["layout"], f"{where}.layout")
        if layout is not None and layout not in LAYOUTS:
            reader.error(keys["layout"], f"{where}.layout", f'"{layout}" is not one of: {", ".join(LAYOUTS)}')
            return None
    title = article.title
    if "title" in keys:
        title = " ".join((reader.string(keys["title"], f"{where}.title") or title).split())

    excerpt_node = keys.get("excerpt")
    try:
        if excerpt_node is None:
            if article.summary:
                excerpt = select(article, "text", article.summary, settings.base_url)
            else:
                excerpt = select(article, "words", DEFAULT_SUMMARY_WORDS, settings.base_url)
        else:
            excerpt = _load_excerpt(reader, excerpt_node, f"{where}.excerpt", article, settings)
            if excerpt is None:
                return None
    except ExcerptError as exc:
        reader.error(excerpt_node, f"{where}.excerpt", str(exc))
        return None

    if excerpt.kind in ("quote", "qa"):
        if layout is not None:
            reader.error(keys["layout"], f"{where}.layout", f"a {excerpt.kind} excerpt has its own layout")
            return None
        layout = excerpt.kind
    return Item(
        article=article, excerpt=excerpt, layout=layout or "card",
        slot=f"{slug}-{slot}", title=title, line=reader.line(node),
    )


def _load_excerpt(reader: YamlReader, node, where: str, article, settings: Settings):
    ekeys = reader.mapping(node, where, EXCERPT_KEYS)
    if ekeys is None:
        return None
    kinds = [k for k in ekeys if k in EXCERPT_KINDS]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        reader.error(node, where, f"give exactly one of {', '.join(EXCERPT_KINDS)} (found: {found})")
        return None
    kind = kinds[0]
    value_node = ekeys[kind]
    if kind == "words":
        value = reader.integer(value_node, f"{where}.words", minimum=1)
    else:
        value = reader.string(value_node, f"{where}.{kind}")
    if value is None:
        return None
    by = None
    if "by" in ekeys:
        if kind != "quote":
            reader.error(ekeys["by"], f"{where}.by", "only a quote has an attribution")
            return None
        by = reader.string(ekeys["by"], f"{where}.by")
    try:
        excerpt = select(article, kind, value, settings.base_url)
    except ExcerptError as exc:
        reader.error(value_node, where, str(exc))
        return None
    if by:
        excerpt.by = " ".join(by.split())
    return excerpt
