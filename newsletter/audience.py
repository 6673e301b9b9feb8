"""Checking an issue's audience against the store: the lists it names exist, and the attributes its
conditions test are ones some subscriber has. A mistake there would send to nobody (or to fewer
people than meant) without a word, so ``check`` reports it and ``send`` refuses the issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Problem, display_path
from .issue import Issue

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when there is one to compare with
    from .store import Store

#: List names shown in a message, at most.
SHOWN = 20


def audience_problems(issue: Issue, store: "Store") -> list[Problem]:
    """Every audience mistake of ``issue`` that the store shows."""
    from .store.names import fold_list_name

    audience = issue.audience
    where = display_path(issue.path)
    problems = []
    if audience.lists:
        names = store.list_names()
        known = {fold_list_name(name) for name in names}  # a store made before names were folded
        if names:
            hint = f"lists: {', '.join(names[:SHOWN])}{', …' if len(names) > SHOWN else ''}"
        else:
            hint = "the store has no lists yet: import subscribers with a lists column or --list"
        for index, name in enumerate(audience.lists):
            if fold_list_name(name) not in known:
                problems.append(Problem(where, audience.lines.get(f"lists[{index}]"),
                                        f"audience.lists[{index}]: no list named {name!r} ({hint})"))
    for key in audience.where:
        if not store.has_attribute(key):
            hint = ""
            if key != key.lower() and store.has_attribute(key.lower()):
                hint = f" (imported column names are lowercase: {key.lower()!r}?)"
            problems.append(Problem(where, audience.lines.get(f"where.{key}"),
                                    f"audience.where.{key}: no subscriber has an attribute {key!r}{hint}"))
    return problems
