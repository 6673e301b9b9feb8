"""Text contrast of the rendered email in four schemes, computed without a browser.

The email's light colours are inlined (css-inline); its dark colours are ``!important`` rules in
``@media (prefers-color-scheme: dark)`` and their Outlook.com twins behind ``[data-ogsc]`` /
``[data-ogsb]``. A small cascade over the parsed HTML (lxml, cssselect, cssutils) gives each text
its colour and the background it sits on:

==============  ===============================================================================
``light``       the inlined colours and the style sheet's plain rules
``dark``        plus the rules for ``prefers-color-scheme: dark`` (Apple Mail, iOS, Thunderbird…)
``inverted``    the light colours as Gmail's apps, Outlook for Windows and Yahoo darken them
                (see :mod:`.colors`), with no help from the style sheet
``outlook.com`` inverted, then the ``[data-ogsc]``/``[data-ogsb]`` rules on top
==============  ===============================================================================

Text needs WCAG AA: 4.5:1, or 3:1 when large (24 px, or 18.66 px bold). Hidden text (the
preheader) is not read on screen, but SpamAssassin scores hidden text coloured like its background
(HTML_FONT_LOW_CONTRAST), so it needs 3:1 in the light scheme.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass

import cssutils
import cssutils.util
import lxml.html
from lxml.cssselect import CSSSelector

from .colors import RGB, client_inverted, contrast, hex_of, parse_color

SCHEMES = ("light", "dark", "inverted", "outlook.com")
DESCRIBED = {
    "light": "light mode",
    "dark": "dark mode (prefers-color-scheme)",
    "inverted": "dark mode as Gmail, Outlook and Yahoo invert it",
    "outlook.com": "Outlook.com dark mode",
}
_INVERTING = ("inverted", "outlook.com")
_PROPERTIES = ("color", "background-color", "background", "display", "font-size", "font-weight")
_UA_HEADING_EM = {"h1": 2.0, "h2": 1.5, "h3": 1.17, "h4": 1.0, "h5": 0.83, "h6": 0.67}
_BOLD_TAGS = {"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP = {"head", "style", "script", "title"}
cssutils.log.setLevel(logging.CRITICAL)


def _never_fetch(url: str) -> None:
    """cssutils fetches every ``@import`` of a style sheet it parses (over the network, or a local
    file), whatever it is told. Nothing is fetched: rendering stays offline; ``check`` reports the rule."""
    return None


cssutils.util._defaultFetcher = _never_fetch  # cssutils offers no other switch


@dataclass(frozen=True)
class Rule:
    selector: CSSSelector
    specificity: tuple[int, ...]
    order: int
    declarations: tuple[tuple[str, str, bool], ...]  # (property, value, important)


@dataclass(frozen=True)
class LowContrast:
    scheme: str
    text: RGB
    background: RGB
    ratio: float
    needed: float
    hidden: bool
    sample: str


def _rules(html: str) -> dict[str, list[Rule]]:
    """The style sheet's rules: ``plain``, ``dark`` (the media query) and ``outlook`` (data-ogs*)."""
    found: dict[str, list[Rule]] = {"plain": [], "dark": [], "outlook": []}
    order = 0
    for css in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S | re.I):
        sheet = cssutils.parseString(css, validate=False)
        for rule in sheet.cssRules:
            if rule.type == rule.MEDIA_RULE:
                if re.search(r"prefers-color-scheme\s*:\s*dark", rule.media.mediaText):
                    for inner in rule.cssRules:
                        order = _add(found["dark"], inner, order)
            elif rule.type == rule.STYLE_RULE:
                kind = "outlook" if "[data-ogs" in rule.selectorText else "plain"
                order = _add(found[kind], rule, order)
    return found


def _add(rules: list[Rule], rule, order: int) -> int:
    if rule.type != rule.STYLE_RULE:
        return order
    declarations = tuple(
        (prop.name.lower(), prop.value, prop.priority == "important")
        for prop in rule.style if prop.name.lower() in _PROPERTIES
    )
    if not declarations:
        return order
    for selector in rule.selectorList:
        if re.search(r"::?(?!first-child|last-child)[a-z-]+", selector.selectorText):
            continue  # :hover, ::before and the like do not colour text at rest
        try:
            compiled = CSSSelector(selector.selectorText)
        except Exception:  # a selector cssselect cannot read: a browser would skip it too
            continue
        order += 1
        rules.append(Rule(compiled, tuple(selector.specificity), order, declarations))
    return order


def _inline(style: str) -> list[tuple[str, str, bool]]:
    found = []
    for part in style.split(";"):
        name, _, value = part.partition(":")
        name = name.strip().lower()
        if name in _PROPERTIES and value.strip():
            important = "!important" in value
            found.append((name, value.replace("!important", "").strip(), important))
    return found


def _cascade(root, rules: list[Rule], inline: bool = True) -> dict:
    """element → {property: value}, by importance, then inline over rules, then specificity."""
    best: dict = defaultdict(dict)  # element → property → (priority, value)

    def offer(element, name: str, value: str, priority: tuple) -> None:
        names = ("background-color",) if name == "background" else (name,)
        for target in names:
            current = best[element].get(target)
            if current is None or priority >= current[0]:
                best[element][target] = (priority, value)

    for rule in rules:
        for element in rule.selector(root):
            for name, value, important in rule.declarations:
                offer(element, name, value, (important, False, rule.specificity, rule.order))
    if inline:
        for element in root.iter():
            style = element.get("style") if isinstance(element.tag, str) else None
            for name, value, important in _inline(style or ""):
                offer(element, name, value, (important, True, (0,), 0))
    return {element: {k: v for k, (_, v) in props.items()} for element, props in best.items()}


def _texts(root):
    """(element, text) for every run of visible characters, in document order."""
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in _SKIP:
            continue
        if element.text and element.text.strip():
            yield element, element.text
        for child in element:
            if child.tail and child.tail.strip():
                yield element, child.tail


def low_contrast(html: str) -> list[LowContrast]:
    """Every text whose contrast is too low in any scheme (one entry per text and scheme)."""
    root = lxml.html.document_fromstring(html)
    rules = _rules(html)
    root.set("data-ogsc", "")  # Outlook.com marks the message it recolours; the twins key on it
    root.set("data-ogsb", "")
    styles = {
        "light": _cascade(root, rules["plain"]),
        "dark": _cascade(root, rules["plain"] + rules["dark"]),
        "outlook.com": _cascade(root, rules["outlook"], inline=False),
    }
    found = []
    for element, text in _texts(root):
        if any(a.tag in _SKIP for a in element.iterancestors()):
            continue
        chain = [element, *element.iterancestors()]
        light = styles["light"]
        hidden = any(light.get(e, {}).get("display", "").strip() == "none" for e in chain)
        size, bold = _font(chain, light)
        needed = 3.0 if hidden or size >= 24 or (bold and size >= 18.66) else 4.5
        for scheme in (("light",) if hidden else SCHEMES):
            fg, bg = _colors(chain, lambda e, s=scheme: _declared(e, s, styles), inverts=scheme in _INVERTING)
            ratio = contrast(fg, bg)
            if ratio < needed - 0.005:
                found.append(LowContrast(scheme, fg, bg, ratio, needed, hidden, " ".join(text.split())))
    return found


def _declared(element, scheme: str, styles: dict) -> tuple[RGB | None, RGB | None]:
    """(colour, background) set on the element itself in a scheme; None where nothing is set."""
    if scheme in ("light", "dark"):
        props = styles[scheme].get(element, {})
        return (parse_color(props.get("color", "")),
                parse_color(props.get("background-color", "")) or parse_color(element.get("bgcolor") or ""))
    fg, bg = _declared(element, "light", styles)
    inverted = (fg and client_inverted(fg, background=False), bg and client_inverted(bg, background=True))
    if scheme == "inverted":
        return inverted
    props = styles["outlook.com"].get(element, {})  # our [data-ogs*] rules beat Outlook's guesses
    return (parse_color(props.get("color", "")) or inverted[0],
            parse_color(props.get("background-color", "")) or inverted[1])


def _colors(chain, declared, inverts: bool) -> tuple[RGB, RGB]:
    """(text colour, background) of ``chain[0]``: the nearest colour set on it or an ancestor, and
    the nearest opaque background; the page defaults (black on white, inverted where the scheme
    inverts) when none is set."""
    fg = bg = None
    for element in chain:
        own_fg, own_bg = declared(element)
        fg = fg or own_fg
        bg = bg or own_bg
        if fg is not None and bg is not None:
            return fg, bg
    if inverts:
        return fg or client_inverted((0, 0, 0), background=False), bg or client_inverted((255, 255, 255), background=True)
    return fg or (0, 0, 0), bg or (255, 255, 255)


def _font(chain, style: dict) -> tuple[float, bool]:
    """(size in px, bold) of the text of ``chain[0]``."""
    size = 16.0
    bold = False
    for element in reversed(chain):  # from the root down
        props = style.get(element, {})
        value = props.get("font-size", "").strip().lower()
        number = re.match(r"([\d.]+)(px|em|rem|%)?$", value)
        if number:
            amount, unit = float(number.group(1)), number.group(2) or "px"
            size = amount if unit == "px" else amount * 16 if unit == "rem" else size * amount / (100 if unit == "%" else 1)
        elif element.tag in _UA_HEADING_EM:
            size *= _UA_HEADING_EM[element.tag]
        weight = props.get("font-weight", "").strip().lower()
        if weight:
            bold = weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 600)
        elif element.tag in _BOLD_TAGS:
            bold = True
    return size, bold


def describe(problems: list[LowContrast]) -> list[str]:
    """One message per scheme and colour pair, with how many texts and an example."""
    grouped: dict[tuple, list[LowContrast]] = defaultdict(list)
    for problem in problems:
        grouped[(problem.scheme, problem.text, problem.background, problem.hidden)].append(problem)
    messages = []
    for (scheme, fg, bg, hidden), group in grouped.items():
        first = group[0]
        sample = first.sample if len(first.sample) <= 50 else first.sample[:49] + "…"
        places = f"{len(group)} texts, e.g." if len(group) > 1 else "in"
        if hidden:
            messages.append(
                f"{DESCRIBED[scheme]}: hidden text {hex_of(fg)} on {hex_of(bg)} has contrast {first.ratio:.1f}:1 "
                f"({places} “{sample}”): SpamAssassin scores text coloured like its background")
        else:
            messages.append(
                f"{DESCRIBED[scheme]}: text {hex_of(fg)} on {hex_of(bg)} has contrast {first.ratio:.1f}:1, "
                f"needs {first.needed:g}:1 ({places} “{sample}”)")
    return messages
