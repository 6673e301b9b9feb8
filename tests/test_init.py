"""``newsletter init``: a fresh folder becomes a publication that checks, sends and keeps its
generated files out of git; an existing one is never touched."""

from __future__ import annotations

import json
import mailbox
import os
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import jsonschema
import pytest
import yaml

BIN = Path(sys.executable).parent


def shell(command: str, cwd: Path, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """A command line as an editor types it, with the installed ``newsletter`` on the PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdin=stdin, capture_output=True, text=True,
                          timeout=120)


def test_init_then_check_then_send_in_a_fresh_folder(tmp_path):
    result = shell("newsletter init my-letter && cd my-letter && newsletter check issues/*.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok: no problems found")
    assert "next: cd my-letter && newsletter check issues/welcome.yaml" in result.stdout
    root = tmp_path / "my-letter"
    settings = tomllib.loads((root / "newsletter.toml").read_text())
    assert settings["name"] == "My Letter"
    assert settings["from"] == "My Letter <newsletter@example.com>"
    assert sorted(p.name for p in (root / "templates").glob("*")) == sorted(
        p.name for p in (Path(__file__).parent.parent / "templates").glob("*"))

    result = shell("newsletter subscribers import subscribers/example.csv && newsletter send issues/welcome.yaml",
                   cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(mailbox.Maildir(root / "outbox", create=False)) == 2

    (root / "articles" / "second.md").write_text('---\ntitle: "Second"\ndate: 2100-01-01\n---\nMore news.\n')
    result = shell("newsletter new --title Next && newsletter check issues/*.yaml", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines()[-2:]] == ["ok: no problems found"] * 2


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_gitignore_keeps_the_store_outbox_build_and_locks_out(tmp_path):
    assert shell("newsletter init pub", cwd=tmp_path).returncode == 0
    root = tmp_path / "pub"
    result = shell("newsletter subscribers import subscribers/example.csv && newsletter send welcome "
                   "&& newsletter build welcome", cwd=root)
    assert result.returncode == 0, result.stderr
    (root / "newsletter.db.send-welcome.lock").touch()  # left by a killed send
    git = shell("git init -q . && git add -A && git status --porcelain --ignored", cwd=root)
    assert git.returncode == 0, git.stderr
    added = {line[3:] for line in git.stdout.splitlines() if line.startswith("A ")}
    ignored = {line[3:].rstrip("/") for line in git.stdout.splitlines() if line.startswith("!!")}
    assert {"newsletter.db", "outbox", "build", ".secret_key", "newsletter.db.send-welcome.lock"} <= ignored
    assert {"newsletter.toml", "articles/welcome.md", "issues/welcome.yaml", "templates/weekly.mjml",
            "issue.schema.json", ".gitignore"} <= added


def test_flags_fill_the_settings_and_quotes_survive(tmp_path):
    result = shell("newsletter init gazette --name 'The \"Quoted\" Gazette' --from 'Desk <desk@gazette.example>' "
                   "--base-url https://gazette.example/ --timezone Europe/Paris", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "gazette"
    settings = tomllib.loads((root / "newsletter.toml").read_text())
    assert (settings["name"], settings["from"], settings["base_url"], settings["timezone"]) == (
        'The "Quoted" Gazette', "Desk <desk@gazette.example>", "https://gazette.example", "Europe/Paris")
    issue = yaml.safe_load((root / "issues" / "welcome.yaml").read_text())
    assert issue["subject"] == 'Welcome to The "Quoted" Gazette'
    result = shell("newsletter build welcome", cwd=root)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((root / "build" / "welcome" / "manifest.json").read_text())
    assert manifest["subject"] == 'Welcome to The "Quoted" Gazette'
    assert manifest["articles"][0]["url"] == "https://gazette.example/articles/welcome/"


def test_the_example_issue_names_its_schema_which_accepts_it(tmp_path):
    assert shell("newsletter init .", cwd=tmp_path).returncode == 0
    issue_text = (tmp_path / "issues" / "welcome.yaml").read_text()
    assert issue_text.splitlines()[0] == "# yaml-language-server: $schema=../issue.schema.json"
    schema = json.loads((tmp_path / "issue.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(issue_text))
    item = schema["properties"]["sections"]["items"]["properties"]["items"]["items"]
    assert item["properties"]["article"]["enum"] == ["welcome"]


def test_an_existing_publication_is_left_alone(tmp_path):
    assert shell("newsletter init pub", cwd=tmp_path).returncode == 0
    before = {p: p.read_bytes() for p in (tmp_path / "pub").rglob("*") if p.is_file()}
    (tmp_path / "pub" / "articles" / "welcome.md").write_text("edited")
    before[tmp_path / "pub" / "articles" / "welcome.md"] = b"edited"
    result = shell("newsletter init pub", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("pub: already holds newsletter.toml, ")
    assert result.stderr.strip().endswith("nothing was written")
    assert {p: p.read_bytes() for p in (tmp_path / "pub").rglob("*") if p.is_file()} == before


def test_bad_answers_are_one_line_each_and_nothing_is_written(tmp_path):
    result = shell("newsletter init pub --from nobody --base-url ftp://example.com --timezone Mars/Olympus",
                   cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["--from", "--base-url", "--timezone"], lines
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "pub").exists()


def test_on_a_terminal_init_asks(tmp_path):
    """With a terminal on stdin, each setting not given as a flag is asked for (Enter keeps the default)."""
    primary, secondary = os.openpty()
    try:
        os.write(primary, b"Night Shift\nhttps://night.example\n\n")
        result = shell("newsletter init ns", cwd=tmp_path, stdin=secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    assert result.returncode == 0, result.stdout + result.stderr
    settings = tomllib.loads((tmp_path / "ns" / "newsletter.toml").read_text())
    assert (settings["name"], settings["base_url"], settings["from"]) == (
        "Night Shift", "https://night.example", "Night Shift <newsletter@night.example>")


def test_version(tmp_path):
    result = shell("newsletter --version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"newsletter {version('newsletter')}"
