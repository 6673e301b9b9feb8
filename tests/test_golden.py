"""Golden output: the example issue's text part, compared line by line.

After an intended change to the theme or the example content, regenerate with
``NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

from newsletter.issue import load_issue
from newsletter.render import render_issue

from .conftest import EXAMPLE_ISSUE

GOLDEN = Path(__file__).parent / "golden" / f"{EXAMPLE_ISSUE}.txt"


def test_text_part_matches_golden(settings, publication):
    text = render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings).text
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text.splitlines() == GOLDEN.read_text(encoding="utf-8").splitlines()
