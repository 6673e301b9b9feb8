"""What a ``check`` must not cost: modules it has no use for (``bench/render.py`` measures the
whole process)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import EXAMPLE_ISSUE, run_cli

#: Heavy modules that checking and building an issue have no use for.
NOT_FOR_CHECK = ("pydantic", "premailer", "requests", "sqlalchemy", "alembic", "apscheduler", "feedparser", "sendgrid", "psycopg")


def loaded_by_check(publication) -> set[str]:
    code = ("import sys\nfrom newsletter.cli import main\nsys.argv = ['newsletter', 'check', %r]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))" % EXAMPLE_ISSUE)
    result = subprocess.run([sys.executable, "-c", code], cwd=publication, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return set(eval(result.stdout.splitlines()[-1]))


def test_check_loads_no_module_it_does_not_need(publication):
    loaded = loaded_by_check(publication)
    assert "mjml" in loaded  # it did render
    assert loaded.isdisjoint(NOT_FOR_CHECK), loaded & set(NOT_FOR_CHECK)


def test_comparing_the_audience_with_a_sqlite_store_loads_no_sqlalchemy(publication):
    """The example issue names a list: with a SQLite store there, ``check`` reads its list names
    read-only through the standard library (a wrong name is still found: ``test_audience``)."""
    (publication / "people.csv").write_text("email,lists\nann@example.com,weekly\n")
    assert run_cli("subscribers", "import", "people.csv", cwd=publication).returncode == 0
    before = (publication / "newsletter.db").read_bytes()
    loaded = loaded_by_check(publication)
    assert loaded.isdisjoint(NOT_FOR_CHECK), loaded & set(NOT_FOR_CHECK)
    assert (publication / "newsletter.db").read_bytes() == before  # read-only
