"""Golden output: the example issues' text parts (one per theme), compared line by line.

After an intended change to the theme or the example content, regenerate with
``NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.issue import load_issue
from newsletter.render import render_issue

from .conftest import EXAMPLE_ISSUE

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", [EXAMPLE_ISSUE, "2026-12-03-wings"])
def test_text_part_matches_golden(settings, publication, name):
    text = render_issue(load_issue(publication / "issues" / f"{name}.yaml", settings), settings).text
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text.splitlines() == golden.read_text(encoding="utf-8").splitlines()
