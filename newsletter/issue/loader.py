"""Read ``issues/<id>.yaml`` into an :class:`Issue`, reporting every problem with its line."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from yaml.nodes import MappingNode, SequenceNode

from ..config import Settings
from ..content import ArticleLibrary, ExcerptError, select
from ..errors import InputError, Problem
from ..yamlnodes import YamlReader
from .model import Audience, Issue, Item, Occurrence, Section
from .spec import AUDIENCE, EXCERPT, EXCERPT_KINDS, ISSUE, ITEM, LATEST_EXCERPTS, SECTION, SELF_LAID_OUT
from .times import cron_problem, parse_send_at

_ID = re.compile(ISSUE["id"].pattern or "")
DEFAULT_SUMMARY_WORDS = 60


def find_issue(name: str, settings: Settings) -> Path:
    """An issue given as a path, a file name, or an id in ``issues/``."""
    candidates = [Path(name), settings.issues_dir / name, settings.issues_dir / f"{name}.yaml"]
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte
            pass
    shown = name if len(name) <= 100 else name[:100] + "…"
    raise InputError.at(shown, None, f"no such issue (looked in {settings.issues_dir})")


def load_issue(path: str | Path, settings: Settings, library: ArticleLibrary | None = None,
               occurrence: Occurrence | None = None) -> Issue:
    """Validate the issue and resolve its articles and excerpts; raise every problem at once.

    For one occurrence of a recurring issue, ``occurrence`` gives its id and the articles earlier
    occurrences carried, which ``{latest: N}`` passes over.
    """
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
    keys = reader.mapping(root, "", ISSUE.names, required=ISSUE.required)
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

    repeat = None
    if "repeat" in keys:
        repeat = reader.string(keys["repeat"], "repeat")
        if repeat is not None:
            problem = cron_problem(repeat, settings.timezone)
            if problem:
                reader.error(keys["repeat"], "repeat", problem)
            if "send_at" in keys:
                reader.error(keys["send_at"], "send_at", "a recurring issue takes its times from repeat, not send_at")

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
        akeys = reader.mapping(keys["audience"], "audience", AUDIENCE.names) or {}
        if "lists" in akeys:
            audience.lists = reader.strings(akeys["lists"], "audience.lists") or []
            if isinstance(akeys["lists"], SequenceNode) and not akeys["lists"].value:
                reader.error(akeys["lists"], "audience.lists", "an empty list selects nobody; leave out "
                             "'lists' to send to every confirmed subscriber")
            items = akeys["lists"].value if isinstance(akeys["lists"], SequenceNode) else [akeys["lists"]]
            audience.lines.update({f"lists[{i}]": reader.line(n) for i, n in enumerate(items)})
        if "where" in akeys:
            where = reader.mapping(akeys["where"], "audience.where", allowed=None) or {}
            for attr, node in where.items():
                values = node.value if isinstance(node, SequenceNode) else [node]
                if not values:
                    reader.error(node, f"audience.where.{attr}", "an empty list selects nobody")
                picked = [reader.scalar(v, f"audience.where.{attr}") for v in values]
                if values and all(p is not None for p in picked):
                    audience.where[attr] = picked
                    audience.lines[f"where.{attr}"] = reader.line(node)

    picker = _LatestPicker(library, occurrence, article_problems)
    sections: list[Section] = []
    section_nodes = reader.sequence(keys["sections"], "sections") if "sections" in keys else None
    if section_nodes is not None and not section_nodes:
        reader.error(keys["sections"], "sections", "an issue needs at least one section")
    for s_index, s_node in enumerate(section_nodes or []):
        where = f"sections[{s_index}]"
        skeys = reader.mapping(s_node, where, SECTION.names, required=SECTION.required)
        if skeys is None:
            continue
        heading = " ".join((reader.string(skeys["heading"], f"{where}.heading") or "").split()) if "heading" in skeys else ""
        items: list[Item] = []
        item_nodes = reader.sequence(skeys["items"], f"{where}.items") if "items" in skeys else None
        if item_nodes is not None and not item_nodes:
            reader.error(skeys["items"], f"{where}.items", "a section needs at least one item")
        for i_index, i_node in enumerate(item_nodes or []):
            items.extend(_load_items(reader, i_node, f"{where}.items[{i_index}]", library, settings,
                                     section=s_index + 1, first=len(items) + 1, picker=picker,
                                     article_problems=article_problems))
        if items or not picker.used:  # a section of {latest: N} with nothing new is left out
            sections.append(Section(heading=heading, items=items))

    problems = list(dict.fromkeys(reader.problems + article_problems))  # a {latest: N} item may repeat one
    if problems:
        raise InputError(problems)
    if picker.used and not any(section.items for section in sections):
        sections = []  # nothing new: the scheduler skips this occurrence; check says why
    items = [item for section in sections for item in section.items]
    if items and not any(item.layout == "lead" for item in items) and items[0].layout == "card":
        items[0].layout = "lead"
    return Issue(
        id=occurrence.id if occurrence else issue_id, path=path, subject=subject, preheader=preheader,
        template=template, sections=sections, intro=intro, send_at=send_at, audience=audience,
        repeat=repeat, uses_latest=picker.used, new_articles=picker.picked,
    )


class _LatestPicker:
    """Hands out the newest articles for ``{latest: N}`` items, each at most once per issue."""

    def __init__(self, library: ArticleLibrary, occurrence: Occurrence | None, problems: list[Problem]):
        self.library = library
        self.occurrence = occurrence
        self.problems = problems
        self.used = False
        self.picked: list[str] = []
        self._queue: list[str] | None = None

    def take(self, n: int) -> list[str]:
        self.used = True
        if self._queue is None:
            self._queue = self._candidates()
        chosen, self._queue = self._queue[:n], self._queue[n:]
        self.picked.extend(chosen)
        return chosen

    def _candidates(self) -> list[str]:
        if self.occurrence is not None and self.occurrence.pinned is not None:
            return [slug for slug in self.occurrence.pinned if self.library.exists(slug)]
        exclude = self.occurrence.exclude if self.occurrence else frozenset()
        dated = []
        for slug in self.library.slugs():
            if slug in exclude:
                continue
            try:
                article = self.library.get(slug)
            except InputError as exc:
                self.problems.extend(p for p in exc.problems if p not in self.problems)
                continue
            dated.append((article.date or dt.date.min, slug))
        return [slug for _, slug in sorted(dated, reverse=True)]


def _load_items(reader: YamlReader, node, where: str, library: ArticleLibrary, settings: Settings, section: int,
                first: int, picker: _LatestPicker, article_problems: list[Problem]) -> list[Item]:
    """One item, or the articles a ``{latest: N}`` item stands for."""
    keys = reader.mapping(node, where, ITEM.names)
    if keys is None:
        return []
    if "latest" not in keys:
        if "article" not in keys:
            reader.error(node, where, "missing required key 'article' (or 'latest: N' for the newest articles)")
            return []
        item = _load_item(reader, keys, node, where, library, settings, slot=f"{section}-{first}",
                          article_problems=article_problems)
        return [item] if item is not None else []
    if "article" in keys or "title" in keys:
        clash = "article" if "article" in keys else "title"
        reader.error(keys[clash], f"{where}.{clash}", "an item names an article or takes the latest, not both")
        return []
    n = reader.integer(keys["latest"], f"{where}.latest", minimum=ITEM["latest"].minimum)
    if n is None:
        return []
    excerpt = keys.get("excerpt")
    if isinstance(excerpt, MappingNode):
        kinds = [k.value for k, _ in excerpt.value if k.value in EXCERPT_KINDS and k.value not in LATEST_EXCERPTS]
        if kinds:
            reader.error(excerpt, f"{where}.excerpt",
                         f"{kinds[0]} fits one article only; the latest articles take {', '.join(LATEST_EXCERPTS)}")
            return []
    items = []
    for slug in picker.take(n):
        item = _load_item(reader, keys, node, where, library, settings, slot=f"{section}-{first + len(items)}",
                          article_problems=article_problems, slug=slug)
        if item is not None:
            items.append(item)
    return items


def _load_item(reader: YamlReader, keys: dict, node, where: str, library: ArticleLibrary, settings: Settings,
               slot: str, article_problems: list[Problem], slug: str | None = None) -> Item | None:
    """One item naming its article (or, for ``{latest: N}``, given the ``slug`` picked for it)."""
    slug = slug or reader.string(keys["article"], f"{where}.article")
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
        layouts = ITEM["layout"].choices
        if layout is not None and layout not in layouts:
            reader.error(keys["layout"], f"{where}.layout", f'"{layout}" is not one of: {", ".join(layouts)}')
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

    if excerpt.kind in SELF_LAID_OUT:
        if layout is not None:
            reader.error(keys["layout"], f"{where}.layout", f"a {excerpt.kind} excerpt has its own layout")
            return None
        layout = excerpt.kind
    return Item(
        article=article, excerpt=excerpt, layout=layout or "card",
        slot=f"{slug}-{slot}", title=title, line=reader.line(node),
    )


def _load_excerpt(reader: YamlReader, node, where: str, article, settings: Settings):
    ekeys = reader.mapping(node, where, EXCERPT.names)
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
        value = reader.integer(value_node, f"{where}.words", minimum=EXCERPT["words"].minimum)
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
        if excerpt.in_question and article.author and excerpt.by != article.author:
            reader.error(ekeys["by"], f"{where}.by",
                         f"the passage is from a question, in {article.author}'s words, not {excerpt.by}'s")
            return None
    return excerpt
