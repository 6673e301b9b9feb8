"""``newsletter check``: render an issue and list every problem the checks find."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..audience import audience_problems
from ..checks import check_rendered
from ..config import Settings
from ..errors import Problem
from ..issue import Issue
from ..render import render_named
from ..store.peek import SqlitePeek, sqlite_path


def check(issue_name: str, settings: Settings) -> list[Problem]:
    """The problems of the rendered issue and of its audience (compared with the store, when there
    is one); bad input raises before anything is checked."""
    rendered = render_named(issue_name, settings)
    return check_rendered(rendered) + _audience(rendered.issue, settings)


def _audience(issue: Issue, settings: Settings) -> list[Problem]:
    if not issue.audience.lists and not issue.audience.where:
        return []
    path = sqlite_path(settings)
    if path is not None:
        if not path.exists():
            return []  # no store yet (a fresh checkout, CI): nothing to compare with, and none is created
        try:
            with SqlitePeek(path) as peek:  # the standard library's sqlite3: no SQLAlchemy to load
                return audience_problems(issue, peek)
        except sqlite3.Error:
            pass  # a store this cannot read (an old schema, say): the store itself says what is wrong
    from ..store import database_url, open_store

    url = database_url(settings)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return []  # none is created by a check
    with open_store(settings, migrate=False) as store:  # a check changes nothing, not even the schema
        return audience_problems(issue, store)
