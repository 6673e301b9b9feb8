"""Audience mistakes are errors in ``check`` and stop ``send`` (issue 9 §5), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from newsletter.audience import audience_problems
from newsletter.errors import InputError
from newsletter.issue import find_issue, load_issue
from newsletter.send import send_issue
from newsletter.send.loop import ChecksFailed
from newsletter.subscribers import import_csv

from .conftest import EXAMPLE_ISSUE, run_cli
from .storefixtures import use_database

PEOPLE = ("email,lists,country,plan\n"
          "ann@example.com,WEEKLY,FR,pro\n"
          "bob@example.com,weekly;Festival,DE,team\n"
          "cy@example.com,festival,FR,pro\n")


def with_audience(settings, audience: str):
    path = settings.issues_dir / f"{EXAMPLE_ISSUE}.yaml"
    path.write_text(path.read_text().replace("audience: {lists: [weekly]}", audience))
    return path


def problems(settings, store) -> list[str]:
    issue = load_issue(find_issue(EXAMPLE_ISSUE, settings), settings)
    return [str(p) for p in audience_problems(issue, store)]


@pytest.fixture
def people(store, publication):
    """The store, with three people on two lists (named in several cases)."""
    (publication / "people.csv").write_text(PEOPLE)
    import_csv(publication / "people.csv", store)
    return store


def test_a_list_that_does_not_exist(store_settings, people):
    with_audience(store_settings, "audience:\n  lists: [weekly, weeky]")
    assert problems(store_settings, people) == [
        f"issues/{EXAMPLE_ISSUE}.yaml:6: audience.lists[1]: no list named 'weeky' (lists: festival, weekly)"]
    with pytest.raises(ChecksFailed) as stopped:
        send_issue(EXAMPLE_ISSUE, store_settings, sleep=lambda s: None)
    assert stopped.value.lines()[-1] == "send: nothing was sent: fix the problems above"
    with people.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 0


def test_lists_compare_case_insensitively_and_import_folds_case(store_settings, people):
    with_audience(store_settings, "audience: {lists: [Weekly]}")
    assert people.list_names() == ["festival", "weekly"]
    assert problems(store_settings, people) == []
    summary = send_issue(EXAMPLE_ISSUE, store_settings, sleep=lambda s: None)
    assert summary.sent == 2  # ann (WEEKLY) and bob (weekly)


def test_a_list_made_before_names_were_folded_is_still_found(store_settings, people):
    with people.engine.begin() as conn:
        conn.execute(text("UPDATE lists SET name = 'Festival' WHERE name = 'festival'"))
    with_audience(store_settings, "audience: {lists: [festival]}")
    assert problems(store_settings, people) == []
    assert send_issue(EXAMPLE_ISSUE, store_settings, sleep=lambda s: None).sent == 2
    import_csv(store_settings.root / "people.csv", people)  # joins the old list, makes no second one
    assert sorted(name.lower() for name in people.list_names()) == ["festival", "weekly"]


def test_a_condition_on_an_attribute_nobody_has(store_settings, people):
    with_audience(store_settings, "audience:\n  lists: [weekly]\n  where: {Country: FR, plan: pro, tier: gold}")
    assert problems(store_settings, people) == [
        f"issues/{EXAMPLE_ISSUE}.yaml:7: audience.where.Country: no subscriber has an attribute 'Country' "
        "(imported column names are lowercase: 'country'?)",
        f"issues/{EXAMPLE_ISSUE}.yaml:7: audience.where.tier: no subscriber has an attribute 'tier'",
    ]


@pytest.mark.parametrize("audience,expected", [
    ("audience: {lists: []}", "audience.lists: an empty list selects nobody; leave out 'lists' to send to every confirmed subscriber"),
    ("audience:\n  where: {country: []}", "audience.where.country: an empty list selects nobody"),
])
def test_an_empty_selection_is_an_error_in_the_issue(settings, audience, expected):
    with_audience(settings, audience)
    with pytest.raises(InputError) as err:
        load_issue(find_issue(EXAMPLE_ISSUE, settings), settings)
    (line,) = err.value.lines()
    assert line.split(": ", 1)[1] == expected and line.startswith(f"issues/{EXAMPLE_ISSUE}.yaml:")


def test_check_reports_audience_mistakes_as_a_user_sees_them(publication, database_url):
    use_database(publication, database_url)
    (publication / "people.csv").write_text(PEOPLE)
    assert run_cli("subscribers", "import", "people.csv", cwd=publication).returncode == 0
    assert run_cli("check", EXAMPLE_ISSUE, cwd=publication).returncode == 0
    path = publication / "issues" / f"{EXAMPLE_ISSUE}.yaml"
    path.write_text(path.read_text().replace("audience: {lists: [weekly]}", "audience: {lists: [weekley], where: {tier: gold}}"))
    result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"issues/{EXAMPLE_ISSUE}.yaml:5: audience.lists[0]: no list named 'weekley' (lists: festival, weekly)",
        f"issues/{EXAMPLE_ISSUE}.yaml:5: audience.where.tier: no subscriber has an attribute 'tier'",
        "2 problems",
    ]
    sent = run_cli("send", EXAMPLE_ISSUE, "--now", cwd=publication)
    assert sent.returncode == 1 and "nothing was sent" in sent.stderr and "Traceback" not in sent.stderr
