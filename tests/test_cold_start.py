"""What a ``check`` costs before it renders anything: the modules it must not load, and the
cssutils validation premailer cannot turn off (``bench/render.py`` measures the whole process)."""

from __future__ import annotations

import subprocess
import sys

from newsletter.issue import find_issue, load_issue
from newsletter.render import render_issue

from .conftest import EXAMPLE_ISSUE

#: Heavy modules that checking and building an issue have no use for.
NOT_FOR_CHECK = ("pydantic", "sqlalchemy", "alembic", "apscheduler", "feedparser", "sendgrid", "psycopg")


def test_check_loads_no_module_it_does_not_need(publication):
    code = ("import sys\nfrom newsletter.cli import main\nsys.argv = ['newsletter', 'check', %r]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))" % EXAMPLE_ISSUE)
    result = subprocess.run([sys.executable, "-c", code], cwd=publication, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(eval(result.stdout.splitlines()[-1]))
    assert "mjml" in loaded  # it did render
    assert loaded.isdisjoint(NOT_FOR_CHECK), loaded & set(NOT_FOR_CHECK)


def test_inlining_without_css_validation_changes_nothing(settings):
    import cssutils

    issue = load_issue(find_issue(EXAMPLE_ISSUE, settings), settings)
    fast = render_issue(issue, settings)
    for profile in (cssutils.profile.CSS_LEVEL_2, cssutils.profile.CSS3_BASIC_USER_INTERFACE,
                    cssutils.profile.CSS3_BOX, cssutils.profile.CSS3_COLOR, cssutils.profile.CSS3_PAGED_MEDIA,
                    cssutils.profile.CSS3_BACKGROUNDS_AND_BORDERS):
        cssutils.profile.addProfile(profile, cssutils.profiles.properties[profile], cssutils.profiles.macros[profile])
    try:
        validated = render_issue(issue, settings)
    finally:
        cssutils.profile.removeProfile(all=True)
    assert (fast.html, fast.web_html) == (validated.html, validated.web_html)
