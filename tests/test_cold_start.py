"""What a ``check`` must not cost: modules it has no use for (``bench/render.py`` measures the
whole process)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import EXAMPLE_ISSUE

#: Heavy modules that checking and building an issue have no use for.
NOT_FOR_CHECK = ("pydantic", "premailer", "requests", "sqlalchemy", "alembic", "apscheduler", "feedparser", "sendgrid", "psycopg")


def test_check_loads_no_module_it_does_not_need(publication):
    code = ("import sys\nfrom newsletter.cli import main\nsys.argv = ['newsletter', 'check', %r]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))" % EXAMPLE_ISSUE)
    result = subprocess.run([sys.executable, "-c", code], cwd=publication, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(eval(result.stdout.splitlines()[-1]))
    assert "mjml" in loaded  # it did render
    assert loaded.isdisjoint(NOT_FOR_CHECK), loaded & set(NOT_FOR_CHECK)

