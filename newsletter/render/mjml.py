"""MJML → HTML: lint the markup mjml-python would accept silently, compile it, inline the CSS.

mjml-python (MRML) does no validation: an unknown ``<mj-…>`` is copied into the email and invalid
nesting renders anyway, so :func:`lint` checks element names and nesting first (and paddings
with a unitless ``0``, which it silently ignores when it computes widths). It also writes
attribute values with Rust debug formatting (a newline becomes a literal ``\\n``, a soft hyphen
``\\u{ad}``), so :func:`single_line_attributes` folds white space and writes every other character
that is not plain ASCII as a character reference, which MRML copies through untouched.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from css_inline import CSSInliner
from mjml import mjml2html


# Element → the elements it may contain ("*": any mj- element, for mj-attributes).
_CONTENT = {
    "mj-accordion", "mj-button", "mj-carousel", "mj-divider", "mj-image", "mj-raw",
    "mj-social", "mj-spacer", "mj-table", "mj-text", "mj-navbar",
}
CHILDREN: dict[str, set[str]] = {
    "mjml": {"mj-head", "mj-body"},
    "mj-head": {"mj-attributes", "mj-breakpoint", "mj-font", "mj-preview", "mj-style", "mj-title", "mj-raw"},
    "mj-attributes": {"*"},
    "mj-body": {"mj-section", "mj-wrapper", "mj-hero", "mj-raw"},
    "mj-wrapper": {"mj-section", "mj-raw"},
    "mj-section": {"mj-column", "mj-group", "mj-raw"},
    "mj-group": {"mj-column", "mj-raw"},
    "mj-column": _CONTENT,
    "mj-hero": _CONTENT,
    "mj-accordion": {"mj-accordion-element", "mj-raw"},
    "mj-accordion-element": {"mj-accordion-title", "mj-accordion-text"},
    "mj-carousel": {"mj-carousel-image"},
    "mj-navbar": {"mj-navbar-link"},
    "mj-social": {"mj-social-element"},
}
# Elements whose content is HTML or text, not MJML.
ENDING = {
    "mj-text", "mj-button", "mj-table", "mj-raw", "mj-accordion-title", "mj-accordion-text",
    "mj-navbar-link", "mj-social-element", "mj-preview", "mj-title", "mj-style",
}
EMPTY = {"mj-image", "mj-divider", "mj-spacer", "mj-breakpoint", "mj-font", "mj-carousel-image", "mj-all", "mj-class"}
KNOWN = set(CHILDREN) | ENDING | EMPTY | {"mj-accordion-element"} | _CONTENT


_PADDING = re.compile(r"(?:inner-)?padding(?:-(?:top|right|bottom|left))?")
_BARE_ZERO = re.compile(r"(?<![\w.])0(?![\w.%])")


class _Linter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problems: list[tuple[int, str]] = []
        self.seen_root = False

    def _problem(self, message: str) -> None:
        self.problems.append((self.getpos()[0], message))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closes=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closes=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closes: bool) -> None:
        parent = self.stack[-1] if self.stack else None
        if parent in ENDING:
            if tag.startswith("mj-") or tag == "mjml":
                self._problem(f"<{tag}> inside <{parent}>, whose content is HTML: it would be copied into the email as is")
            return
        if not tag.startswith("mj-") and tag != "mjml":
            if parent != "mj-attributes":
                where = f"<{parent}>" if parent else "the top level"
                self._problem(f"HTML <{tag}> directly inside {where}: wrap it in <mj-text> or <mj-raw>")
            return
        if tag not in KNOWN and parent != "mj-attributes":
            self._problem(f"unknown MJML element <{tag}>: mjml-python would copy it into the email verbatim")
        elif parent is None:
            if tag != "mjml" or self.seen_root:
                self._problem(f"<{tag}> outside <mjml>")
            self.seen_root = True
        else:
            allowed = CHILDREN.get(parent, set())
            if "*" not in allowed and tag not in allowed:
                self._problem(f"<{tag}> is not allowed inside <{parent}>")
        for name, value in attrs:
            if value and ("\n" in value or "\t" in value):
                self._problem(f'attribute {name} of <{tag}> spans lines: keep attribute values on one line')
            if value and _PADDING.fullmatch(name) and _BARE_ZERO.search(value):
                self._problem(f'{name}="{value}" on <{tag}>: mjml-python drops a padding with a unitless 0 when it '
                              "computes widths, so Outlook gets the wrong size: write 0px")
        if not closes and tag not in EMPTY:
            self.stack.append(tag)
        elif not closes and tag in EMPTY:
            # MJML wants these self-closed or closed at once; accept an explicit end tag too.
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not tag.startswith("mj-") and tag != "mjml":
            return  # HTML inside an ending element
        if tag not in self.stack:
            self._problem(f"</{tag}> closes nothing")
            return
        while self.stack:
            open_tag = self.stack.pop()
            if open_tag == tag:
                break
            if open_tag not in EMPTY:
                self._problem(f"<{open_tag}> is not closed before </{tag}>")

    def close(self) -> None:
        super().close()
        for tag in self.stack:
            if tag not in EMPTY:
                self._problem(f"<{tag}> is never closed")


def lint(mjml: str) -> list[tuple[int, str]]:
    """(line, message) for every MJML mistake mjml-python would let through."""
    linter = _Linter()
    linter.feed(mjml)
    linter.close()
    if not linter.seen_root:
        linter.problems.append((1, "no <mjml> root element"))
    return linter.problems


_MJ_START_TAG = re.compile(r"<mj-[a-z-]+\b[^>]*>|<mjml\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\s[a-zA-Z_:][-a-zA-Z0-9_:.]*=)"([^"]*)"')


def _attribute_value(value: str) -> str:
    value = " ".join(value.split())
    return "".join(
        c if (32 <= ord(c) < 127 and c != "\\") else f"&#x{ord(c):x};"
        for c in value
    )


def single_line_attributes(mjml: str) -> str:
    """Fold white space in mj- attribute values; non-ASCII and ``\\`` become character references."""

    def tag(match: re.Match[str]) -> str:
        return _ATTRIBUTE.sub(lambda m: f'{m.group(1)}"{_attribute_value(m.group(2))}"', match.group(0))

    return _MJ_START_TAG.sub(tag, mjml)


def compile_mjml(mjml: str) -> str:
    """HTML from MJML; raises ValueError with MRML's position on a parse error."""
    return mjml2html(single_line_attributes(mjml), fonts={})


#: Set up for MJML output: its ``<style>`` blocks stay (their ``@media`` rules, ``!important``
#: and all, stack the columns on phones), nothing is fetched, and a ``<link>`` stays for ``check``
#: to report. css-inline leaves attribute values as written (premailer percent-encoded them).
_INLINER = CSSInliner(keep_style_tags=True, keep_link_tags=True, load_remote_stylesheets=False)


def inline_css(html: str) -> str:
    """Inline the CSS of the ``<style>`` blocks into ``style`` attributes (css-inline).

    css-inline, not premailer: premailer's import and first email were ~190 ms of the 0.4 s a
    ``check`` took; css-inline takes ~1 ms an email and loads in a few.
    """
    return _INLINER.inline(html)
