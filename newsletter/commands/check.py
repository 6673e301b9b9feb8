"""``newsletter check``: render an issue and list every problem the checks find."""

from __future__ import annotations

from ..checks import check_rendered
from ..config import Settings
from ..errors import Problem
from ..render import render_named


def check(issue_name: str, settings: Settings) -> list[Problem]:
    """The problems of the rendered issue; bad input raises before anything is checked."""
    return check_rendered(render_named(issue_name, settings))
