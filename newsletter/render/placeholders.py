"""Per-recipient fields: placeholders in the rendered issue, filled cheaply for each recipient.

The issue is rendered once with a token in place of each per-recipient field. Tokens are made of
capital letters and underscores only, so they pass MJML, CSS inlining and URL quoting unchanged
(``{{ x }}`` inside an ``href`` would come out as ``{{%20x%20}}``). A :class:`Personalizer` splits a
rendered part at its tokens once; filling it for one recipient is a list copy and a join.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from types import SimpleNamespace

#: The fields that vary per recipient (DESIGN.md), in a fixed order.
FIELDS = (
    "subscriber.email",
    "subscriber.name",
    "subscriber.first_name",
    "unsubscribe_url",
    "preferences_url",
)


def token(field: str) -> str:
    """The placeholder for a field, e.g. ``__NL_UNSUBSCRIBE_URL__``."""
    return "__NL_" + field.replace("subscriber.", "SUBSCRIBER_").upper() + "__"


TOKENS = {field: token(field) for field in FIELDS}
_TOKEN_RE = re.compile("|".join(re.escape(t) for t in TOKENS.values()))
_FIELD_OF = {t: f for f, t in TOKENS.items()}
#: Anything shaped like a token, known or not: a leftover the checks report.
TOKEN_SHAPE = re.compile(r"__NL_[A-Z_]+__")


def template_fields() -> dict[str, object]:
    """What templates see for the per-recipient fields: the tokens."""
    return {
        "subscriber": SimpleNamespace(
            email=TOKENS["subscriber.email"],
            name=TOKENS["subscriber.name"],
            first_name=TOKENS["subscriber.first_name"],
        ),
        "unsubscribe_url": TOKENS["unsubscribe_url"],
        "preferences_url": TOKENS["preferences_url"],
    }


def first_name(name: str) -> str:
    return name.split()[0] if name and name.split() else ""


@dataclass(frozen=True)
class Personalizer:
    """A rendered part split at its tokens; :meth:`fill` makes one recipient's copy."""

    pieces: tuple[str, ...]
    slots: tuple[tuple[int, str], ...]  # (index in pieces, field)
    escape: bool

    @classmethod
    def compile(cls, text: str, *, escape_html: bool) -> "Personalizer":
        pieces: list[str] = []
        slots: list[tuple[int, str]] = []
        last = 0
        for match in _TOKEN_RE.finditer(text):
            pieces.append(text[last : match.start()])
            slots.append((len(pieces), _FIELD_OF[match.group()]))
            pieces.append("")
            last = match.end()
        pieces.append(text[last:])
        return cls(tuple(pieces), tuple(slots), escape_html)

    @property
    def fields(self) -> set[str]:
        return {field for _, field in self.slots}

    def fill(self, values: dict[str, str]) -> str:
        """The part for one recipient. ``values`` maps every field in :data:`FIELDS` to text."""
        parts = list(self.pieces)
        if self.escape:
            for index, field in self.slots:
                parts[index] = html.escape(values[field])
        else:
            for index, field in self.slots:
                parts[index] = values[field]
        return "".join(parts)
