"""Render an issue once: Jinja2 → MJML → HTML → inlined CSS, the web version, and the text part.

The theme (``templates/<name>.mjml`` and ``templates/<name>.txt``) gets the same context for all
three. Per-recipient fields are placeholders (:mod:`.placeholders`); :class:`RenderedIssue` fills
them per recipient without rendering again.
"""

from __future__ import annotations

import re
import textwrap
import traceback
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from ..config import Settings
from ..content import render_html, render_text
from ..content.markdown import parse_blocks
from ..errors import Problem, RenderError, display_path
from ..issue import Issue, Item
from . import mjml as mjml_stage
from .links import LinkList, with_utm
from .placeholders import Personalizer, first_name, template_fields
from .views import group_items

TEXT_WIDTH = 76


@dataclass
class RenderedIssue:
    """An issue rendered once, with placeholders for the per-recipient fields."""

    issue: Issue
    html: str
    text: str
    web_html: str
    mjml: str
    settings: Settings = field(repr=False)

    @cached_property
    def _html(self) -> Personalizer:
        return Personalizer.compile(self.html, escape_html=True)

    @cached_property
    def _text(self) -> Personalizer:
        return Personalizer.compile(self.text, escape_html=False)

    def personalize(self, values: dict[str, str]) -> tuple[str, str]:
        """(html, text) for one recipient; ``values`` from :func:`recipient_values`."""
        return self._html.fill(values), self._text.fill(values)

    @cached_property
    def links(self) -> list[str]:
        """Every link target in the email HTML, in order, without repeats."""
        return list(dict.fromkeys(href for href, _ in html_links(self.html)))

    @cached_property
    def images(self) -> list[dict[str, str | None]]:
        return html_images(self.html)


def recipient_values(email: str, name: str, unsubscribe_url: str, preferences_url: str) -> dict[str, str]:
    """The per-recipient field values in the shape :meth:`RenderedIssue.personalize` takes."""
    name = " ".join(name.split())  # a stored name may hold line breaks; a greeting must not
    return {
        "subscriber.email": email,
        "subscriber.name": name,
        "subscriber.first_name": first_name(name),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
    }


# --- reading the rendered HTML ----------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, int]] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("a", "area") and attributes.get("href") is not None:
            self.links.append((attributes["href"] or "", self.getpos()[0]))
        elif tag == "img":
            self.images.append({"src": attributes.get("src"), "alt": attributes.get("alt"),
                                "width": attributes.get("width")})

    handle_startendtag = handle_starttag


def html_links(html: str) -> list[tuple[str, int]]:
    collector = _Collector()
    collector.feed(html)
    return collector.links


def html_images(html: str) -> list[dict[str, str | None]]:
    collector = _Collector()
    collector.feed(html)
    return collector.images


# --- the template context ---------------------------------------------------------------------


def wrap(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap each paragraph for the text part; URLs and long words are never broken."""
    return "\n\n".join(
        "\n".join(
            textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) if line.strip() else line
            for line in paragraph.split("\n")
        )
        for paragraph in text.split("\n\n")
    )


class ItemView:
    """One item as templates see it. ``text`` numbers its links when first read."""

    def __init__(self, item: Item, url: str, links: LinkList):
        self._item = item
        self._links = links
        article = item.article
        excerpt = item.excerpt
        self.kind = item.layout
        self.article = article.slug
        self.slot = item.slot
        self.title = item.title
        self.url = url
        self.author = article.author
        self.date = article.date
        self.image = article.image
        self.tags = article.tags
        self.quote = excerpt.quote
        self.by = excerpt.by
        self.truncated = excerpt.truncated

    @cached_property
    def html(self) -> Markup:
        return self.body()

    def body(self, image_width: int = 552) -> Markup:
        """The excerpt as HTML, figures sized for a text column ``image_width`` pixels wide."""
        return Markup(render_html(self._item.excerpt.blocks, image_width))

    @cached_property
    def question_html(self) -> Markup:
        question = self._item.excerpt.question
        return Markup(render_html([question])) if question else Markup("")

    @property
    def text(self) -> str:
        excerpt = self._item.excerpt
        if excerpt.kind == "quote":
            return wrap(f"“{excerpt.quote}”" + (f"\n— {excerpt.by}" if excerpt.by else ""))
        blocks = ([excerpt.question] if excerpt.question else []) + excerpt.blocks
        return wrap(render_text(blocks, self._links.ref))


def _context(issue: Issue, settings: Settings, links: LinkList, web: bool) -> dict[str, object]:
    sections = []
    for section in issue.sections:
        views = [
            ItemView(item, with_utm(item.article.url, settings.utm, issue.id, item.slot), links)
            for item in section.items
        ]
        sections.append(SimpleNamespace(heading=section.heading, items=views, groups=group_items(views)))
    intro_blocks = parse_blocks(issue.intro, settings.base_url) if issue.intro.strip() else []
    context: dict[str, object] = {
        "publication": SimpleNamespace(
            name=settings.name,
            base_url=settings.base_url,
            postal_address=settings.postal_address,
            language=settings.language,
        ),
        "issue": SimpleNamespace(
            id=issue.id,
            subject=issue.subject,
            preheader=issue.preheader,
            send_at=issue.send_at,
            intro_html=Markup(render_html(intro_blocks)) if intro_blocks else Markup(""),
            intro_text=_LazyText(intro_blocks, links),
            sections=sections,
            web_url=settings.web_url(issue.id),
        ),
        "web": web,
        "link": links.ref,
        "links": links,
        "wrap": wrap,
    }
    if web:
        base = settings.base_url.rstrip("/")
        context.update(
            subscriber=SimpleNamespace(email="", name="", first_name=""),
            unsubscribe_url=f"{base}/unsubscribe/",
            preferences_url=f"{base}/preferences/",
        )
    else:
        context.update(template_fields())
    return context


class _LazyText:
    """Intro text, rendered when the text template reaches it so its links number in order."""

    def __init__(self, blocks, links: LinkList):
        self._blocks = blocks
        self._links = links

    def __str__(self) -> str:
        return wrap(render_text(self._blocks, self._links.ref)) if self._blocks else ""

    def __bool__(self) -> bool:
        return bool(self._blocks)


# --- rendering --------------------------------------------------------------------------------


def _environment(settings: Settings, *, html: bool) -> jinja2.Environment:
    return _cached_environment(settings.templates_dir, html)


class ThemeLoader(jinja2.FileSystemLoader):
    """Templates from the theme folder only: a name or a symlink that leads outside it is refused
    before anything is read (a theme must not read ``~/.ssh`` into an email)."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.root = Path(folder).resolve()

    def get_source(self, environment, template):
        path = self.root.joinpath(*split_template_path(template))
        if path.exists() and not path.resolve().is_relative_to(self.root):
            raise SecurityError(f"template {template!r} leads outside the theme folder")
        return super().get_source(environment, template)


@lru_cache(maxsize=16)
def _cached_environment(templates_dir: Path, html: bool) -> jinja2.Environment:
    """One sandboxed environment per theme folder: a theme reaches only the values it is given
    (no attributes such as ``__class__``, no files outside the folder). Compiled templates are kept,
    and recompiled when a file changes (``auto_reload``), which the preview relies on."""
    env = SandboxedEnvironment(
        loader=ThemeLoader(templates_dir),
        auto_reload=True,
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["wrap"] = wrap
    env.filters["date"] = lambda value, fmt="%B %-d, %Y": value.strftime(fmt) if value else ""
    return env


def _template_error(exc: Exception, settings: Settings, name: str) -> RenderError:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        path = exc.filename or str(settings.templates_dir / (exc.name or name))
        return RenderError.at(path, exc.lineno, f"template syntax error: {exc.message}")
    if isinstance(exc, jinja2.TemplateNotFound):
        return RenderError.at(settings.templates_dir / name, None, f"template not found: {exc.name}")
    # An undefined variable or a failing filter: report the template line Jinja was on.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and Path(frame.filename).is_relative_to(settings.templates_dir):
            return RenderError.at(frame.filename, frame.lineno, f"template error: {exc}")
    return RenderError.at(settings.templates_dir / name, None, f"template error: {exc}")


def _render_template(env: jinja2.Environment, name: str, context: dict, settings: Settings) -> str:
    try:
        return env.get_template(name).render(context)
    except (jinja2.TemplateError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise _template_error(exc, settings, name) from None
    except RecursionError:
        raise RenderError.at(settings.templates_dir / name, None, "template error: includes or macros call "
                             "each other without end (does a template include itself?)") from None


def _mjml_to_html(mjml: str, template_path: Path) -> str:
    problems = mjml_stage.lint(mjml)
    if problems:
        raise RenderError([
            Problem(display_path(template_path), None, f"rendered MJML line {line}: {message}")
            for line, message in problems
        ])
    try:
        html = mjml_stage.compile_mjml(mjml)
    except ValueError as exc:
        raise RenderError.at(template_path, None, f"MJML error: {exc}") from None
    return mjml_stage.inline_css(html)


def render_issue(issue: Issue, settings: Settings) -> RenderedIssue:
    """Render the email, its web version and its text part, once."""
    html_env = _environment(settings, html=True)
    text_env = _environment(settings, html=False)
    mjml_name = f"{issue.template}.mjml"
    text_name = f"{issue.template}.txt"
    template_path = settings.templates_dir / mjml_name
    if not template_path.is_file():
        raise RenderError.at(template_path, None, f'template "{issue.template}" not found')

    mjml = _render_template(html_env, mjml_name, _context(issue, settings, LinkList(), web=False), settings)
    html = _mjml_to_html(mjml, template_path)
    web_mjml = _render_template(html_env, mjml_name, _context(issue, settings, LinkList(), web=True), settings)
    web_html = _mjml_to_html(web_mjml, template_path)
    text = _render_template(text_env, text_name, _context(issue, settings, LinkList(), web=False), settings)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return RenderedIssue(issue=issue, html=html, text=text, web_html=web_html, mjml=mjml, settings=settings)


def render_named(issue_name: str, settings: Settings) -> RenderedIssue:
    """Find, load, validate and render an issue: what build, check, preview and send share."""
    from ..issue import find_issue, load_issue

    return render_issue(load_issue(find_issue(issue_name, settings), settings), settings)


__all__ = ["RenderedIssue", "render_named", "recipient_values", "render_issue", "html_links", "html_images"]
