"""Colours: CSS colour values, WCAG contrast, and the inversion that Gmail and Outlook apply.

Gmail's apps, Outlook for Windows and Yahoo ignore ``prefers-color-scheme`` and darken a message
themselves. None documents the algorithm; what they are seen to do is a partial inversion: light
backgrounds become dark and dark text becomes light, each keeping its hue, while dark backgrounds
and light text stay. :func:`invert` models that by mirroring HSL lightness; a palette whose text
keeps its contrast under it survives those clients.
"""

from __future__ import annotations

import colorsys
import re

RGB = tuple[int, int, int]

NAMED = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0), "green": (0, 128, 0),
    "blue": (0, 0, 255), "gray": (128, 128, 128), "grey": (128, 128, 128), "silver": (192, 192, 192),
    "navy": (0, 0, 128), "maroon": (128, 0, 0), "yellow": (255, 255, 0), "orange": (255, 165, 0),
}
_HEX = re.compile(r"#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})\b", re.I)
_RGB_FUNCTION = re.compile(r"rgba?\(\s*([\d.]+%?)[\s,]+([\d.]+%?)[\s,]+([\d.]+%?)(?:[\s,/]+([\d.]+%?))?\s*\)", re.I)
_WORD = re.compile(r"[a-z]+", re.I)


def parse_color(value: str) -> RGB | None:
    """The first colour in a CSS value (``#1d1d1b``, ``rgb(…)``, a name; ``background``'s
    shorthand too); None for none, ``transparent`` or a colour mostly see-through."""
    value = value.strip().lower()
    if not value or value.startswith(("transparent", "inherit", "initial", "unset", "currentcolor", "none")):
        return None
    hexa = _HEX.search(value)
    function = _RGB_FUNCTION.search(value)
    if hexa and (not function or hexa.start() < function.start()):
        digits = hexa.group(1)
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        if len(digits) == 8 and int(digits[6:], 16) < 128:
            return None
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    if function:
        channels = [_channel(function.group(i)) for i in (1, 2, 3)]
        alpha = function.group(4)
        if alpha is not None and (float(alpha.rstrip("%")) / (100 if alpha.endswith("%") else 1)) < 0.5:
            return None
        return channels[0], channels[1], channels[2]
    for word in _WORD.findall(value):
        if word in NAMED:
            return NAMED[word]
        if word == "transparent":
            return None
    return None


def _channel(text: str) -> int:
    if text.endswith("%"):
        return round(float(text[:-1]) * 2.55)
    return max(0, min(255, round(float(text))))


def hex_of(color: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def luminance(color: RGB) -> float:
    """WCAG 2 relative luminance."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def lightness(color: RGB) -> float:
    return colorsys.rgb_to_hls(*(c / 255 for c in color))[1]


def invert(color: RGB) -> RGB:
    """The colour with its HSL lightness mirrored (hue and saturation kept)."""
    h, l, s = colorsys.rgb_to_hls(*(c / 255 for c in color))
    r, g, b = colorsys.hls_to_rgb(h, 1 - l, s)
    return round(r * 255), round(g * 255), round(b * 255)


def client_inverted(color: RGB, background: bool) -> RGB:
    """How an inverting client shows a colour: light backgrounds and dark text are inverted."""
    light = lightness(color) > 0.5
    return invert(color) if light == background else color
