"""The ``newsletter`` command line: parse flags, load settings, call one function in ``commands``.

Exit codes: 0 done, 1 checks failed, 2 bad input or usage. Errors are one line each, never a
traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import NewsletterError

app = typer.Typer(
    help="Email newsletters from YAML issues: build, check, preview and send.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Settings file (default: newsletter.toml here or in a parent folder)."),
]
IssueArg = Annotated[str, typer.Argument(help="Issue file, or its id in issues/.", show_default=False)]


def _settings(config: Path | None):
    from .config import load_settings

    return load_settings(config)


@app.command()
def build(
    issue: IssueArg,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default: build/<issue id>).")] = None,
    config: ConfigOption = None,
) -> None:
    """Render an issue to email.html, email.txt, web.html and manifest.json."""
    from .commands.build import build as run

    result = run(issue, _settings(config), out_dir)
    for name, path in result.files.items():
        out.print(f"{path}  ({path.stat().st_size / 1024:.1f} KB)", markup=False)
    out.print(f"built {result.rendered.issue.id}: open {result.files['email.html']} in a browser", markup=False)


@app.command()
def check(issue: IssueArg, config: ConfigOption = None) -> None:
    """Validate an issue and lint the rendered email; exit 1 listing each problem."""
    from .commands.check import check as run

    problems = run(issue, _settings(config))
    for problem in problems:
        out.print(str(problem), markup=False)
    if problems:
        out.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}", markup=False)
        raise typer.Exit(1)
    out.print("ok: no problems found", markup=False)


@app.command()
def preview(
    issue: IssueArg,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8025,
    config: ConfigOption = None,
) -> None:
    """Serve the issue at 600 px and 375 px side by side with its text part, re-rendered on save."""
    from .commands.preview import serve

    server = serve(issue, _settings(config), host, port)
    out.print(f"previewing on http://{server.server_address[0]}:{server.server_address[1]}/ (Ctrl-C to stop)", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


subscribers_app = typer.Typer(help="The subscriber store: import, add, remove, list, export.", no_args_is_help=True)
db_app = typer.Typer(help="The database behind the subscriber store.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(db_app, name="db")

ListOption = Annotated[Optional[list[str]], typer.Option("--list", "-l", help="List name (repeatable).")]


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV file (header row, an email column).", show_default=False)],
    lists: ListOption = None,
    status: Annotated[str, typer.Option(help="Status of new subscribers: confirmed | pending.")] = "confirmed",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Also resubscribe unsubscribed, bounced, complained.")] = False,
    config: ConfigOption = None,
) -> None:
    """Import subscribers from CSV; exit 1 when some rows were bad (the good ones are imported)."""
    from .commands.subscribers import import_file

    report = import_file(file, _settings(config), lists=lists or [], status=status, force=force, dry_run=dry_run)
    for problem in [*report.problems, *report.notes]:
        out.print(str(problem), markup=False, soft_wrap=True)
    out.print(report.summary(), markup=False, soft_wrap=True)
    if report.bad:
        raise typer.Exit(1)


@subscribers_app.command("add")
def subscribers_add(
    email: Annotated[str, typer.Argument(help="Email address.", show_default=False)],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    lists: ListOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a confirmed subscriber (or update one); unsubscribed addresses are kept out."""
    from .commands.subscribers import add

    counts = add(email, _settings(config), name=name, lists=lists or [])
    if counts.kept_out:
        out.print(f"kept out: {email.strip()} has unsubscribed, bounced or complained", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"{'added' if counts.added else 'updated' if counts.updated else 'unchanged'}: {email.strip()}", markup=False, soft_wrap=True)


@subscribers_app.command("remove")
def subscribers_remove(
    email: Annotated[str, typer.Argument(help="Email address.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Erase a subscriber: row and memberships deleted, address removed from the delivery ledger."""
    from .commands.subscribers import remove

    if not remove(email, _settings(config)):
        out.print(f"not found: {email.strip()}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"removed: {email.strip()}", markup=False, soft_wrap=True)


@subscribers_app.command("list")
def subscribers_list(
    list_name: Annotated[Optional[str], typer.Option("--list", "-l", help="Only this list.")] = None,
    status: Annotated[Optional[str], typer.Option(help="Only this status.")] = None,
    config: ConfigOption = None,
) -> None:
    """Print subscribers: email, name, status, lists (tab-separated)."""
    from .commands.subscribers import list_subscribers

    for row in list_subscribers(_settings(config), list_name=list_name, status=status):
        # typer.echo, not rich: tabs stay tabs, so the output can be piped into cut or a spreadsheet
        typer.echo("\t".join([row.email, row.name, row.status, ";".join(row.lists)]))


@subscribers_app.command("export")
def subscribers_export(
    file: Annotated[Path, typer.Argument(help="CSV file to write.", show_default=False)],
    list_name: Annotated[Optional[str], typer.Option("--list", "-l", help="Only this list.")] = None,
    config: ConfigOption = None,
) -> None:
    """Write subscribers to CSV (email,name,status,lists + attributes), safe for spreadsheets."""
    from .commands.subscribers import export

    count = export(file, _settings(config), list_name=list_name)
    out.print(f"{file}: {count} subscriber{'s' if count != 1 else ''}", markup=False, soft_wrap=True)


@app.command("lists")
def lists_command(config: ConfigOption = None) -> None:
    """Lists with their subscribers counted by status."""
    from .commands.lists import lists

    for name, counts in lists(_settings(config)).items():
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "empty"
        out.print(f"{name}: {sum(counts.values())} ({detail})", markup=False, soft_wrap=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the store's tables to the newest schema."""
    from .commands.db import upgrade

    out.print(f"database up to date: {upgrade(_settings(config))}", markup=False, soft_wrap=True)


def main() -> None:
    """Entry point. Usage errors exit 2 through Typer; our errors print one line each and exit 2."""
    try:
        app()
    except NewsletterError as exc:
        for line in exc.lines():
            err.print(line, markup=False)
        sys.exit(exc.exit_code)
