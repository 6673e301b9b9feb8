"""CSV import and export against the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from newsletter.errors import InputError
from newsletter.subscribers import export_csv, import_csv

HAPPY = (
    "email,name,lists,country,plan\n"
    "ann@example.com,Ann Lee,weekly;festival,DE,pro\n"
    "bob@example.org,Bob Ray,weekly,FR,\n"
    "cy@example.com,,,,\n"
)


def write(tmp_path, content: str | bytes, name: str = "subs.csv"):
    path = Path.cwd() / name  # the publication folder: messages show the path relative to it
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def people(store) -> dict[str, tuple]:
    return {r.email: (r.name, r.status, r.lists, r.attributes) for r in store.subscribers()}


def lines(report) -> list[str]:
    return [f"{p.line}: {p.message}" for p in report.problems]


def test_import_with_lists_and_attributes(store, tmp_path):
    report = import_csv(write(tmp_path, HAPPY), store, lists=["all"])
    assert (report.counts.added, report.bad, report.problems) == (3, 0, [])
    assert people(store) == {
        "ann@example.com": ("Ann Lee", "confirmed", ["all", "festival", "weekly"], {"country": "DE", "plan": "pro"}),
        "bob@example.org": ("Bob Ray", "confirmed", ["all", "weekly"], {"country": "FR"}),
        "cy@example.com": ("", "confirmed", ["all"], {}),
    }


def test_reimport_changes_nothing(store, tmp_path):
    path = write(tmp_path, HAPPY)
    import_csv(path, store, lists=["all"])
    before = people(store)
    again = import_csv(path, store, lists=["all"])
    c = again.counts
    assert (c.added, c.updated, c.unchanged) == (0, 0, 3)
    assert people(store) == before


def test_batches_commit_and_count_like_one(store, tmp_path):
    report = import_csv(write(tmp_path, HAPPY), store, batch_size=2)
    assert report.counts.added == 3


def test_suppression_is_sticky_unless_forced(store, tmp_path):
    path = write(tmp_path, HAPPY)
    import_csv(path, store)
    store.set_status("ann@example.com", "unsubscribed")
    store.set_status("bob@example.org", "bounced")
    changed = write(tmp_path, HAPPY.replace("Ann Lee", "Ann L.").replace("FR", "BE"), "changed.csv")
    report = import_csv(changed, store, lists=["extra"])
    assert report.counts.kept_out == 2 and report.counts.updated == 1
    now = people(store)
    assert now["ann@example.com"][:3] == ("Ann Lee", "unsubscribed", ["festival", "weekly"])
    assert now["bob@example.org"][1] == "bounced"
    forced = import_csv(changed, store, force=True)
    assert forced.counts.kept_out == 0
    now = people(store)
    assert now["ann@example.com"][:2] == ("Ann L.", "pending")  # mailed again only after a new opt-in
    assert now["bob@example.org"][1:] == ("pending", ["weekly"], {"country": "BE"})


@pytest.mark.parametrize("content", [
    b"\xef\xbb\xbf" + HAPPY.encode(),
    HAPPY.replace(",", ";").replace("weekly;festival", '"weekly;festival"').encode(),
    HAPPY.replace(",", "\t").replace("weekly;festival", "weekly;festival").encode(),
    HAPPY.replace("\n", "\r\n").encode(),
    HAPPY.replace("email,name,lists,country,plan", "EMAIL , Name,Lists,COUNTRY,plan").encode(),
], ids=["bom", "semicolon", "tab", "crlf", "header-case"])
def test_file_variants(store, tmp_path, content):
    report = import_csv(write(tmp_path, content), store)
    assert (report.counts.added, report.problems) == (3, [])
    assert people(store)["ann@example.com"] == (
        "Ann Lee", "confirmed", ["festival", "weekly"], {"country": "DE", "plan": "pro"}
    )


def test_missing_email_column(store, tmp_path):
    with pytest.raises(InputError) as caught:
        import_csv(write(tmp_path, "mail,name\nann@example.com,Ann\n"), store)
    assert caught.value.lines() == ["subs.csv:1: no 'email' column in the header (mail, name)"]


def test_not_utf8_names_the_line_and_imports_nothing(store, tmp_path):
    path = write(tmp_path, HAPPY.encode() + "dé@example.com,Dé\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        import_csv(path, store)
    (line,) = caught.value.lines()
    assert line.startswith("subs.csv:5: not UTF-8 text (byte 0xe9 at column 2)")
    assert people(store) == {}


def test_bad_rows_are_reported_good_rows_imported(store, tmp_path):
    content = (
        "email,name,lists\n"
        "ann@example.com,Ann,\n"
        "\n"
        "not-an-address,X,\n"
        "long@example.com," + "x" * 1001 + ",\n"
        "extra@example.com,E,weekly,surplus\n"
        ",no address,\n"
        '"multi@example.com","Multi\nLine",\n'
        "after@example.com,After,\n"
    )
    report = import_csv(write(tmp_path, content), store)
    assert lines(report) == [
        "3: empty row",
        "4: invalid email address 'not-an-address': An email address must have an @-sign.",
        "5: name: longer than 1000 characters",
        "6: 4 fields, but the header has 3",
        "7: no email address",
    ]
    assert report.bad == 5
    assert sorted(people(store)) == ["after@example.com", "ann@example.com", "multi@example.com"]


def test_duplicates_in_one_file(store, tmp_path):
    content = "email,name\nann@example.com,First\nANN@example.com,Second\n  ann@example.com ,Third\n"
    report = import_csv(write(tmp_path, content), store)
    assert report.counts.added == 1 and report.duplicates == 2 and report.bad == 0
    assert [f"{p.line}: {p.message}" for p in report.notes] == [
        "3: ANN@example.com already on line 2; skipped",
        "4: ann@example.com already on line 2; skipped",
    ]
    assert people(store)["ann@example.com"][0] == "First"


def test_spaces_and_unicode_domains_are_normalized(store, tmp_path):
    content = "email,name\n   zoe@example.com  ,Zoe\nbob@bücher.example,Bob\nMixed@EXAMPLE.org,M\nzoë@example.com,Z\n"
    report = import_csv(write(tmp_path, content), store)
    # A non-ASCII local part needs SMTPUTF8, which few providers deliver: refused, with the reason.
    assert [(p.line, p.message) for p in report.problems] == [
        (5, "invalid email address 'zoë@example.com': Internationalized characters before the @-sign "
            "are not supported: 'ë'.")]
    assert sorted(people(store)) == ["Mixed@example.org", "bob@xn--bcher-kva.example", "zoe@example.com"]
    assert store.get_subscriber("mixed@example.org").email == "Mixed@example.org"
    again = import_csv(write(tmp_path, "email\nBOB@xn--bcher-kva.example\n", "b.csv"), store)
    assert again.counts.added == 0


def test_dry_run_writes_nothing(store, tmp_path):
    report = import_csv(write(tmp_path, HAPPY), store, lists=["all"], dry_run=True)
    assert report.counts.added == 3 and report.dry_run
    assert people(store) == {}
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM lists")) == 0


def test_export_neutralizes_formulas_and_imports_back(store, tmp_path):
    content = (
        "email,name,lists,note\n"
        '=danger@example.com,"=HYPERLINK(""http://evil"")",weekly,+1\n'
        "safe@example.com,-minus,weekly,@at\n"
    )
    import_csv(write(tmp_path, content), store)
    out = tmp_path / "out.csv"
    assert export_csv(store, out, list_name="weekly") == 2
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert all(row[5] == "" for row in rows[1:]) and all(row[4][:2] == "20" for row in rows[1:])
    rows = [row[:4] + row[6:] for row in rows]  # without the consent times
    assert rows == [
        ["email", "name", "status", "lists", "note"],
        ["'=danger@example.com", "'=HYPERLINK(\"http://evil\")", "confirmed", "weekly", "'+1"],
        ["safe@example.com", "'-minus", "confirmed", "weekly", "'@at"],
    ]
    again = import_csv(out, store)
    assert (again.counts.unchanged, again.problems) == (2, [])


def test_duplicates_are_found_however_far_apart_in_bounded_memory():
    from newsletter.subscribers.seen import SeenKeys

    seen = SeenKeys(capacity=3)
    assert seen.first_lines([(f"k{i}@example.com", i + 2) for i in range(4)]) == [None] * 4
    assert seen.recent == {}  # spilled to disk
    assert seen.first_lines([("k5@example.com", 7), ("k0@example.com", 8), ("k5@example.com", 9)]) == [None, 2, 7]
    assert seen.first_lines([(f"k{i}@example.com", 20 + i) for i in range(6)]) == [2, 3, 4, 5, None, 7]
    assert seen.first_lines([("never@example.com", 30)]) == [None]
    seen.close()


def test_duplicates_across_batches_keep_the_first_row(store, tmp_path, monkeypatch):
    from newsletter.subscribers import csvfile
    from newsletter.subscribers.seen import SeenKeys

    monkeypatch.setattr(csvfile, "SeenKeys", lambda: SeenKeys(capacity=2))  # most of the file on disk
    content = "email,name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(7)) + "P1@example.com,again\np6@example.com,again\n"
    report = import_csv(write(tmp_path, content), store, batch_size=3)
    assert (report.counts.added, report.duplicates) == (7, 2)
    assert [f"{p.line}: {p.message}" for p in report.notes] == [
        "9: P1@example.com already on line 3; skipped", "10: p6@example.com already on line 8; skipped"]
    assert people(store)["p1@example.com"][0] == "P1"


@pytest.mark.parametrize("raw", [
    "Ann.Lee@Example.COM", "a+tag@sub.example.org", "x@localhost", "x@example", "x@test.local",
    "a..b@example.com", ".a@example.com", "a.@example.com", "a b@example.com", "\"quoted\"@example.com",
    "ann@exa_mple.com", "ann@-example.com", "ann@example..com", "ann@münchen.example", "ännä@example.com",
    "a" * 65 + "@example.com", "ann@" + "d" * 64 + ".com", "ann@123.123.123.123", "ann@[127.0.0.1]",
    "ann@example.com.", "ann@xn--mnchen-3ya.example", "o'brien@example.ie", "ann@ex ample.com",
])
def test_fast_address_path_agrees_with_email_validator(raw):
    from email_validator import EmailNotValidError, validate_email

    from newsletter.subscribers.address import BadAddress, normalize

    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
        expected = result.ascii_email or result.normalized
    except EmailNotValidError:
        expected = None
    try:
        got = normalize(raw)[0]
    except BadAddress:
        got = None
    assert got == expected


# --- hostile files: one line each, never stuck (issue 9 §5) ------------------------------------

def test_a_cell_over_128_kb_is_one_bad_row(store, tmp_path):
    huge = "x" * 200_000
    content = f'email,name\nann@example.com,Ann\nbig@example.com,{huge}\nq@example.com,"{huge}"\nbob@example.com,Bob\n'
    report = import_csv(write(tmp_path, content), store)
    assert lines(report) == [
        "3: a cell is longer than 131,072 characters (at most 1,000)",
        "4: a cell is longer than 131,072 characters (at most 1,000)",
    ]
    assert sorted(people(store)) == ["ann@example.com", "bob@example.com"]


def test_old_mac_line_endings(store, tmp_path):
    content = HAPPY.replace("cy@example.com", "not an address").replace("\n", "\r")
    report = import_csv(write(tmp_path, content), store)
    assert [p.line for p in report.problems] == [4]
    assert people(store)["ann@example.com"] == ("Ann Lee", "confirmed", ["festival", "weekly"], {"country": "DE", "plan": "pro"})
    assert sorted(people(store)) == ["ann@example.com", "bob@example.org"]


@pytest.mark.parametrize("cell", ["An\x00n", "\x00", "A\x07nn"])
def test_nul_and_control_characters_are_bad_rows_not_a_database_error(store, tmp_path, cell):
    content = f"email,name,note\nann@example.com,Ann,\nnul@example.com,{cell},\nbob@example.com,Bob,x\x00y\n"
    report = import_csv(write(tmp_path, content), store)
    code = f"U+{ord(next(c for c in cell if c < ' ')):04X}"
    assert lines(report) == [f"3: name: holds a control character ({code}), which the store cannot keep",
                             "4: note: holds a control character (U+0000), which the store cannot keep"]
    assert sorted(people(store)) == ["ann@example.com"]


def test_a_list_name_over_200_characters_is_a_bad_row_and_lists_fold_case(store, tmp_path):
    content = f"email,lists\nann@example.com,Weekly\nlong@example.com,{'l' * 300}\nbob@example.com,WEEKLY;Festival\n"
    report = import_csv(write(tmp_path, content), store, lists=["All"])
    assert lines(report) == ["3: lists: a list name of 300 characters (at most 200)"]
    assert store.list_names() == ["all", "festival", "weekly"]
    assert people(store)["bob@example.com"][2] == ["all", "festival", "weekly"]


def test_a_header_of_100000_columns_is_refused_at_once(store, tmp_path):
    import time

    header = "email," + ",".join(f"c{i}" for i in range(100_000))
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        import_csv(write(tmp_path, header + "\nann@example.com\n"), store)
    assert caught.value.lines() == ["subs.csv:1: the header has 100,001 columns, at most 1,000 are supported"]
    assert time.monotonic() - started < 60  # it once compared every name with every other: hours


def test_a_row_of_100000_fields_and_a_line_over_4_mb_are_bad_rows(store, tmp_path):
    wide = "wide@example.com," + ",".join("v" for _ in range(100_000))
    long_line = "long@example.com," + '"' + "y" * 5_000_000 + '"'
    content = f"email,name\nann@example.com,Ann\n{wide}\n{long_line}\nbob@example.com,Bob\n"
    report = import_csv(write(tmp_path, content), store)
    assert lines(report) == ["3: 100001 fields, but the header has 2", "4: line 4 is longer than 4 MB"]
    assert sorted(people(store)) == ["ann@example.com", "bob@example.com"]


def test_physical_lines_split_every_way_and_bound_memory():
    import io

    from newsletter.subscribers.csvfile import physical_lines

    def split(data: bytes, limit: int = 10) -> list:
        return list(physical_lines(io.BytesIO(data), limit))

    assert split(b"a\nb\r\nc") == [b"a\n", b"b\r\n", b"c"]
    assert split(b"a\rb\rc\r") == [b"a\r", b"b\r", b"c\r"]
    assert split(b"a\n" + b"x" * 25 + b"\nb\n") == [b"a\n", None, b"b\n"]
    assert split(b"a\r" + b"x" * 25 + b"\rb") == [b"a\r", None, b"b"]
    assert split(b"a\r" + b"x" * 25) == [b"a\r", None]


def test_consent_times_with_an_offset_are_kept_as_the_same_instant(store, tmp_path):
    import datetime as dt

    content = "email,status,confirmed_at\nann@example.com,confirmed,2026-01-31T10:00:00+02:00\nbob@example.com,,\n"
    report = import_csv(write(tmp_path, content), store)
    assert report.counts.added == 2
    assert store.get_subscriber("ann@example.com").confirmed_at == dt.datetime(2026, 1, 31, 8, 0, tzinfo=dt.timezone.utc)
    assert store.get_subscriber("bob@example.com").confirmed_at is not None  # confirmed now, by the import


def test_a_batch_of_known_and_new_addresses_joins_lists_in_bulk(store, tmp_path):
    first = "email,lists\n" + "".join(f"p{i}@example.com,weekly\n" for i in range(5))
    import_csv(write(tmp_path, first), store, batch_size=2)
    second = "email,lists\n" + "".join(f"p{i}@example.com,weekly;festival\n" for i in range(3, 8))
    report = import_csv(write(tmp_path, second, "second.csv"), store, lists=["all"], batch_size=2)
    c = report.counts
    assert (c.added, c.updated, c.unchanged) == (3, 2, 0)
    lists = {email: row[2] for email, row in people(store).items()}
    assert lists == {**{f"p{i}@example.com": ["weekly"] for i in range(3)},
                     **{f"p{i}@example.com": ["all", "festival", "weekly"] for i in range(3, 8)}}
    again = import_csv(write(tmp_path, second, "second.csv"), store, lists=["all"], batch_size=2)
    assert (again.counts.added, again.counts.updated, again.counts.unchanged) == (0, 0, 5)
