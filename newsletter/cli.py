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
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Settings file (default: newsletter.toml here or in a parent folder)."),
]
IssueArg = Annotated[str, typer.Argument(help="Issue file, or its id in issues/.", show_default=False)]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"newsletter {version('newsletter')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


def _settings(config: Path | None):
    from .config import load_settings

    return load_settings(config)


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder of the new publication (created if needed).")] = Path("."),
    name: Annotated[Optional[str], typer.Option(help="The publication's name (default: from the folder's).")] = None,
    from_address: Annotated[Optional[str], typer.Option("--from", help='From address, e.g. "Name <letters@example.com>".')] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="The public site (default: https://example.com).")] = None,
    timezone: Annotated[Optional[str], typer.Option(help="Zone of send times (default: this machine's).")] = None,
) -> None:
    """Start a publication: settings, the theme, an example article and issue, a .gitignore.

    On a terminal it asks for what the flags do not give."""
    from .commands.init import Answers, defaults
    from .commands.init import init as run
    from .errors import display_path

    if sys.stdin.isatty():  # each default follows from the answers before it
        name = name or typer.prompt("Name of the publication", default=defaults(folder).name)
        base_url = base_url or typer.prompt("Its web site (base_url)", default=defaults(folder, name).base_url)
        from_address = from_address or typer.prompt("From address", default=defaults(folder, name, base_url).from_address)
    base = defaults(folder, name, base_url)
    written = run(folder, Answers(name=base.name, from_address=from_address or base.from_address,
                                  base_url=base.base_url, timezone=timezone or base.timezone))
    for path in written:
        out.print(f"wrote {display_path(path)}", markup=False)
    go = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    out.print(f"next: {go}newsletter check issues/welcome.yaml && newsletter preview issues/welcome.yaml", markup=False)


@app.command()
def new(
    latest: Annotated[int, typer.Option("--latest", min=1, help="How many of the newest articles not sent yet.")] = 5,
    title: Annotated[Optional[str], typer.Option(help="Subject and file name (default: the lead article's title).")] = None,
    edit: Annotated[Optional[bool], typer.Option("--edit/--no-edit", help="Open it in $VISUAL or $EDITOR "
                                                 "(default: when on a terminal).")] = None,
    config: ConfigOption = None,
) -> None:
    """Draft the next issue from the newest articles not sent yet (feeds in sources fetched first)."""
    from .commands.new import edit as open_in_editor
    from .commands.new import new_issue
    from .errors import display_path

    settings = _settings(config)
    draft = new_issue(settings, latest, title, warn=lambda line: err.print(line, markup=False))
    shown = display_path(draft.path)
    out.print(f"wrote {shown} with {len(draft.articles)} article{'s' if len(draft.articles) != 1 else ''}: "
              f"{', '.join(a.slug for a in draft.articles)}", markup=False)
    if edit if edit is not None else (sys.stdin.isatty() and sys.stdout.isatty()):
        open_in_editor(draft, settings)
    out.print(f"next: newsletter check {shown} && newsletter preview {shown}", markup=False)


@app.command()
def build(
    issue: IssueArg,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default: build/<issue id>).")] = None,
    config: ConfigOption = None,
) -> None:
    """Render an issue to email.html, email.txt, web.html, manifest.json and preview.html."""
    from .commands.build import build as run

    result = run(issue, _settings(config), out_dir)
    for name, path in result.files.items():
        out.print(f"{path}  ({path.stat().st_size / 1024:.1f} KB)", markup=False)
    out.print(f"built {result.rendered.issue.id}: open {result.files['preview.html']} in a browser", markup=False)


@app.command()
def check(
    issues: Annotated[list[str], typer.Argument(help="Issue files, or ids in issues/.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Validate issues and lint the rendered emails; exit 1 listing each problem (2 on bad input)."""
    from .commands.check import check as run

    settings = _settings(config)
    code = 0
    for issue in issues:
        try:
            problems = run(issue, settings)
        except NewsletterError as exc:  # one bad issue does not keep the others from being checked
            for line in exc.lines():
                err.print(line, markup=False)
            code = max(code, exc.exit_code)
            continue
        for problem in problems:
            out.print(str(problem), markup=False)
        name = f"{issue}: " if len(issues) > 1 else ""
        if problems:
            out.print(f"{name}{len(problems)} problem{'s' if len(problems) != 1 else ''}", markup=False)
            code = max(code, 1)
        else:
            out.print(f"{name}ok: no problems found", markup=False)
    if code:
        raise typer.Exit(code)


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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).", min=0, max=65535)] = 8000,
    config: ConfigOption = None,
) -> None:
    """The web side: subscribe, confirm, unsubscribe, preferences, the SendGrid webhook, the archive."""
    from .commands.serve import serve as run

    settings = _settings(config)
    code = run(settings, host, port, ready=lambda url: out.print(
        f"serving {settings.name} on {url} for {settings.base_url} (Ctrl-C to stop)", markup=False))
    if code:
        out.print(f"stopped by {'Ctrl-C' if code == 130 else 'SIGTERM'}; the requests in flight were answered",
                  markup=False)
        raise typer.Exit(code)


@app.command()
def schema(config: ConfigOption = None) -> None:
    """Print the JSON Schema of issues (with this publication's articles and templates)."""
    from .commands.schema import schema_text

    typer.echo(schema_text(_settings(config)), nl=False)


articles_app = typer.Typer(help="Articles from RSS and Atom feeds.", no_args_is_help=True)
app.add_typer(articles_app, name="articles")


@articles_app.command("fetch")
def articles_fetch(
    feed: Annotated[str, typer.Argument(help="Feed URL (RSS or Atom), or a feed file.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Import the feed's new entries as Markdown articles; entries fetched before are left alone."""
    from .commands.articles import fetch
    from .errors import display_path

    report = fetch(feed, _settings(config))
    for path in report.added:
        out.print(f"new: {display_path(path)}", markup=False)
    out.print(report.summary(), markup=False)


subscribers_app = typer.Typer(help="The subscriber store: import, add, remove, list, export.", no_args_is_help=True)
db_app = typer.Typer(help="The database behind the subscriber store.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(db_app, name="db")

ListOption = Annotated[Optional[list[str]], typer.Option("--list", "-l", help="List name (repeatable).")]


@app.command()
def send(
    issue: IssueArg,
    to: Annotated[Optional[list[str]], typer.Option("--to", help="Send a test copy to this address instead, not "
                                                    "recorded (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and count; send nothing.")] = False,
    now: Annotated[bool, typer.Option("--now", help="Send even though the issue's send_at is still ahead.")] = False,
    provider: Annotated[Optional[str], typer.Option(help="outbox | smtp | sendgrid (default: from settings).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Send again to those whose delivery failed.")] = False,
    retry_in_doubt: Annotated[bool, typer.Option("--retry-in-doubt", help="Send again to those left in doubt by a crash.")] = False,
    workers: Annotated[bool, typer.Option("--workers", help="Plan here; 'newsletter worker' processes (PostgreSQL) "
                                          "send it. Waits, showing progress.")] = False,
    config: ConfigOption = None,
) -> None:
    """Send the issue to its audience, once per subscriber; run again to continue where it stopped.

    SIGTERM or Ctrl-C stops gracefully (the batches in flight are finished and recorded; exit 143 or
    130); a second signal stops at once."""
    import threading

    from .commands.send import SendInterrupted, SendOptions, send_test
    from .commands.send import send as run
    from .commands.signals import exit_code, graceful

    settings = _settings(config)
    if to:
        results = send_test(issue, settings, to, provider)
        for result in results:
            if result.ok:
                out.print(f"test copy sent to {result.recipient.email} ({result.message_id or 'no message id'}); "
                          "not recorded in the ledger", markup=False)
            else:
                err.print(f"{result.recipient.email}: not sent: {result.error}", markup=False)
        if not all(result.ok for result in results):
            raise typer.Exit(1)
        return
    options = SendOptions(provider=provider, retry_failed=retry_failed, retry_in_doubt=retry_in_doubt, dry_run=dry_run,
                          respect_send_at=not now, max_attempts=settings.max_attempts, pause_after=settings.pause_after,
                          in_doubt_grace=settings.in_doubt_grace)
    stop = threading.Event()

    def first(signum: int) -> None:
        # Plainly written: the handler may run in the middle of a rich print, even of the module
        # rich imports on its first print, which a second rich print here would find half made.
        sys.stderr.write("stopping: no new batch is claimed; the batches in flight finish and are recorded "
                         "(a second signal stops at once)\n")
        sys.stderr.flush()

    with graceful(stop, on_first=first) as received, _progress() as progress:
        try:
            summary = run(issue, settings, options, progress=progress, stop=stop, workers=workers)
        except SendInterrupted as exc:
            summary = exc.summary
            _print_summary(summary, settings)
            again = f"newsletter send {issue}{' --workers' if workers else ''}"
            err.print(f"{summary.issue_id}: {exc.problems[0].message}; run '{again}' to continue",
                      markup=False)
            raise typer.Exit(exit_code(received.get("signal", 2))) from None
    _print_summary(summary, settings)
    if summary.failed or summary.counts.get("in_doubt"):
        raise typer.Exit(1)


class _progress:
    """A rich progress bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self.bar = None
        self.last = 0.0

    def __enter__(self):
        if out.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]:,.0f}/s"), TimeRemainingColumn(), console=out)
            self.bar.start()
            self.task = self.bar.add_task("send", total=None, rate=0.0)
        return self

    def __call__(self, p) -> None:
        rate = p.sent / p.elapsed if p.elapsed else 0.0
        if self.bar is not None:
            self.bar.update(self.task, completed=p.done, total=p.total, rate=rate)
        elif p.elapsed - self.last >= 2 or p.done == p.total:
            self.last = p.elapsed
            out.print(f"{p.done}/{p.total} done: {p.sent} sent, {p.failed} failed, {p.skipped} skipped, "
                      f"{rate:,.0f}/s", markup=False)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_summary(summary, settings) -> None:
    if summary.nothing_left:
        out.print(f"{summary.issue_id}: nothing left to send (0 sent); ledger: {_counts(summary.counts)}", markup=False)
        return
    if summary.in_doubt_found:
        out.print(f"{summary.in_doubt_found} deliveries were interrupted by an earlier crash and are in doubt: "
                  "see 'newsletter report'; resend them with --retry-in-doubt", markup=False)
    if summary.dry_run:
        out.print(f"dry run of {summary.issue_id}: would send {summary.would_send}; {summary.audience} subscribers "
                  f"in the audience; ledger now: {_counts(summary.counts)}; nothing sent", markup=False)
        return
    if summary.requeued:
        out.print(f"{summary.requeued} deliveries put back in the queue on request", markup=False)
    if summary.held_back:
        out.print(f"{summary.held_back} deliveries in doubt are held back until {summary.held_until:%Y-%m-%d %H:%M:%S} UTC: "
                  f"SendGrid's event webhook may still show they were sent (in_doubt_grace = {settings.in_doubt_grace:g} s "
                  "after their batch); run --retry-in-doubt again after that", markup=False)
    if summary.in_doubt:
        out.print(f"{summary.in_doubt} deliveries are in doubt: the provider's answer was lost after they "
                  "were handed over; see 'newsletter report'", markup=False)
    out.print(f"{summary.issue_id} via {summary.provider}: {summary.sent} sent, {summary.failed} failed, "
              f"{summary.skipped} skipped in {summary.elapsed:.1f} s ({summary.rate:,.0f}/s, "
              f"{summary.provider_calls} provider calls); ledger: {_counts(summary.counts)}", markup=False)
    earlier = summary.counts.get("in_doubt", 0) - summary.in_doubt - summary.in_doubt_found - summary.held_back
    if earlier > 0:
        out.print(f"{earlier} deliveries are still in doubt from earlier runs: see 'newsletter report "
                  f"{summary.issue_id}'; resend them with --retry-in-doubt", markup=False)
    if summary.provider == "outbox" and summary.sent:
        from pathlib import Path

        folder = Path(settings.outbox)
        folder = folder if folder.is_absolute() else settings.root / folder
        out.print(f"messages are in the Maildir {folder}/new (open them with any mail client)", markup=False)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "empty"


@app.command()
def schedule(
    issue: IssueArg,
    at: Annotated[Optional[str], typer.Option("--at", help="When, instead of the issue's send_at: ISO 8601 with an offset, "
                                                "'2026-11-26 08:00 America/New_York', or plain (the publication's zone).")] = None,
    config: ConfigOption = None,
) -> None:
    """Check the issue and register its send at send_at (or --at); again, to move it."""
    from .commands.schedule import schedule as run
    from .issue.times import shown

    settings = _settings(config)
    row = run(issue, settings, at)
    repeat = f' (repeats "{row.repeat}")' if row.repeat else ""
    out.print(f"scheduled {row.issue_id} for {shown(row.due_at, settings.timezone)}{repeat}; "
              "'newsletter scheduler' sends it", markup=False)


@app.command()
def unschedule(issue: IssueArg, config: ConfigOption = None) -> None:
    """Cancel an issue's scheduled send (a recurring issue: its next occurrence and those after)."""
    from .commands.schedule import unschedule as run

    rows = run(issue, _settings(config))
    if not rows:
        out.print(f"not scheduled: {issue}", markup=False)
        raise typer.Exit(1)
    for row in rows:
        out.print(f"unscheduled {row.issue_id}", markup=False)


@app.command()
def scheduled(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
) -> None:
    """Every scheduled, running, sent, missed and refused send, with its times and reasons."""
    import json

    from .commands.schedule import scheduled as run

    rows = run(_settings(config))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("nothing scheduled", markup=False)
    for row in rows:
        line = f"{row['issue_id']}  {row['state']}  {row['due']}"
        if row["repeat"]:
            line += f'  repeats "{row["repeat"]}"'
        if row["claimed_by"]:
            line += f"  by {row['claimed_by']}"
        if row["reason"]:
            line += f"  — {row['reason']}"
        out.print(line, markup=False)


@app.command()
def scheduler(config: ConfigOption = None) -> None:
    """Run the scheduled sends, in the foreground (one log line per step). SIGTERM or Ctrl-C stops
    gracefully: sends in progress finish their batches in flight and resume at the next start."""
    from .commands.schedule import run_scheduler

    code = run_scheduler(_settings(config))
    if code:
        raise typer.Exit(code)


@app.command()
def worker(
    in_flight: Annotated[Optional[int], typer.Option("--in-flight", min=1, help="Batches in flight at once "
                                                     "(default: worker_in_flight, 2).")] = None,
    config: ConfigOption = None,
) -> None:
    """A send worker (PostgreSQL): sends the batches of every issue 'send ISSUE --workers' planned, beside
    workers on other machines. SIGTERM or Ctrl-C stops gracefully (batches in flight are recorded)."""
    from .commands.worker import run_worker

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    code = run_worker(_settings(config), in_flight, log)
    if code:
        raise typer.Exit(code)


@app.command()
def workers(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
) -> None:
    """The send workers: id, host, pid, started, lease, current issue, messages sent and rate."""
    import json

    from .commands.worker import workers as run

    rows = run(_settings(config))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("no send workers running", markup=False)
    for r in rows:
        state = "" if r["alive"] else "  (lease expired: dead)"
        out.print(f"{r['id']}  {r['host']}  pid {r['pid']}  started {r['started']}  lease until {r['lease_until']}  "
                  f"{r['issue'] or 'idle'}  {r['in_flight']} in flight  {r['sent']:,} sent  {r['rate']:,.0f}/s{state}",
                  markup=False)


@app.command()
def publish(
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default: build/site).")] = None,
    config: ConfigOption = None,
) -> None:
    """Write the static web archive: every sent issue's web version, an index, an Atom feed, the images."""
    from .commands.publish import publish as run

    result = run(_settings(config), out_dir)
    out.print(f"{result.out}: {len(result.issues)} issue{'s' if len(result.issues) != 1 else ''}, "
              f"{result.images} image{'s' if result.images != 1 else ''}; serve the folder at base_url "
              f"({result.out}/archive/index.html is the index)", markup=False)


@app.command()
def report(
    issue: IssueArg,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (always complete).")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List every failed and in-doubt delivery.")] = False,
    config: ConfigOption = None,
) -> None:
    """Delivery results by status; failures and in-doubt deliveries listed (the first 20 of each
    unless --all)."""
    import json

    from .send.report import report as run

    data = run(issue, _settings(config), limit=None if as_json or show_all else REPORT_PAGE)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    out.print(f"{data['issue']}: {data['total']} deliveries: {_counts(data['counts'])}", markup=False)
    if data["started"]:
        rate = f", {data['rate_per_second']:,}/s" if data["rate_per_second"] else ""
        out.print(f"queued from {data['started']}, last sent {data['finished'] or '-'}{rate}", markup=False)
    for row in data["failures"]:
        out.print(f"failed: {row['email']}: {row['error']} ({row['attempts']} attempts)", markup=False)
    _more(data["counts"].get("failed", 0) - len(data["failures"]), "failed")
    for row in data["in_doubt"]:
        out.print(f"in doubt: {row['email']}: {row['note']}", markup=False)
    _more(data["counts"].get("in_doubt", 0) - len(data["in_doubt"]), "in doubt")
    engagement = data["engagement"]
    if any(e["events"] for e in engagement.values()):
        opened, clicked = engagement["opened"], engagement["clicked"]
        out.print(f"events: {engagement['delivered']['deliveries']} delivered, {engagement['bounced']['deliveries']} bounced, "
                  f"{engagement['dropped']['deliveries']} dropped, {engagement['complained']['deliveries']} complained, "
                  f"{opened['deliveries']} opened ({opened['events']} opens), "
                  f"{clicked['deliveries']} clicked ({clicked['events']} clicks), "
                  f"{engagement['unsubscribed']['deliveries']} unsubscribed at the provider", markup=False)
        for slot in data["clicks_by_slot"]:
            out.print(f"  {slot['clicks']:>6} clicks ({slot['readers']} readers)  {slot['slot'] or '-'}  {slot['title']}",
                      markup=False)


REPORT_PAGE = 20


def _more(hidden: int, what: str) -> None:
    if hidden > 0:
        out.print(f"and {hidden:,} more {what} (--all lists them, --json too)", markup=False)


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV file (header row, an email column).", show_default=False)],
    lists: ListOption = None,
    status: Annotated[str, typer.Option(help="Status of new subscribers: confirmed | pending.")] = "confirmed",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Bring back unsubscribed, bounced, complained or removed addresses as pending (mailed only after they confirm again).")] = False,
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
        out.print(f"kept out: {email.strip()} has unsubscribed, bounced, complained or was removed; only a new "
                  "double opt-in (the subscribe page of 'newsletter serve') brings them back", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"{'added' if counts.added else 'updated' if counts.updated else 'unchanged'}: {email.strip()}", markup=False, soft_wrap=True)


@subscribers_app.command("remove")
def subscribers_remove(
    email: Annotated[str, typer.Argument(help="Email address.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Erase a subscriber: row, memberships and the address in the ledger go; a keyed hash stays, so
    no import or form adds them again silently and no issue reaches them twice."""
    from .commands.subscribers import remove

    if not remove(email, _settings(config)):
        out.print(f"not found: {email.strip()}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"removed: {email.strip()}", markup=False, soft_wrap=True)


@subscribers_app.command("unsubscribe")
def subscribers_unsubscribe(
    emails: Annotated[Optional[list[str]], typer.Argument(help="Email addresses.", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="A file of addresses: one a line, or a CSV with an email column.")] = None,
    status: Annotated[str, typer.Option(help="Why they leave: unsubscribed | bounced | complained.")] = "unsubscribed",
    config: ConfigOption = None,
) -> None:
    """Unsubscribe addresses; unknown ones are suppressed too, so no import or form adds them later."""
    from .commands.subscribers import unsubscribe

    if not emails and file is None:
        raise typer.BadParameter("give addresses, or --file")
    counts, problems = unsubscribe(emails or [], _settings(config), file=file, status=status)
    for problem in problems:
        out.print(str(problem), markup=False, soft_wrap=True)
    out.print(f"{status}: {counts['changed']} subscribers; {counts['already']} had already left; "
              f"{counts['unknown']} not subscribers, kept out from now on", markup=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


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
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    config: ConfigOption = None,
) -> None:
    """Write subscribers to CSV (email,name,status,lists,confirmed_at,unsubscribed_at + attributes),
    safe for spreadsheets; a backup that imports back as it was."""
    from .commands.subscribers import export

    count = export(file, _settings(config), list_name=list_name, force=force)
    out.print(f"{file}: {count} subscriber{'s' if count != 1 else ''}", markup=False, soft_wrap=True)


lists_app = typer.Typer(help="Lists with their subscribers counted by status; rename, delete, remove a member.")
app.add_typer(lists_app, name="lists")


@lists_app.callback(invoke_without_command=True)
def lists_command(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Lists with their subscribers counted by status (and the commands below)."""
    if ctx.invoked_subcommand is not None:
        return
    from .commands.lists import lists

    for name, counts in lists(_settings(config)).items():
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "empty"
        out.print(f"{name}: {sum(counts.values())} ({detail})", markup=False, soft_wrap=True)


def _print_change(change) -> None:
    out.print(change.done, markup=False)
    for note in change.notes:
        err.print(note, markup=False)


ListArg = Annotated[str, typer.Argument(help="The list's name.", show_default=False)]


@lists_app.command("rename")
def lists_rename(old: ListArg, new: Annotated[str, typer.Argument(help="Its new name.", show_default=False)],
                 config: ConfigOption = None) -> None:
    """Rename a list; its members stay on it. Issues whose audience names it are pointed out."""
    from .commands.lists import rename

    _print_change(rename(old, new, _settings(config)))


@lists_app.command("delete")
def lists_delete(name: ListArg, config: ConfigOption = None) -> None:
    """Delete a list; its subscribers stay in the store (and on their other lists)."""
    from .commands.lists import delete

    _print_change(delete(name, _settings(config)))


@lists_app.command("remove")
def lists_remove(
    name: ListArg,
    emails: Annotated[list[str], typer.Argument(help="Addresses to take off the list.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Take subscribers off a list; they stay subscribed, and on their other lists."""
    from .commands.lists import remove

    change = remove(name, emails, _settings(config))
    _print_change(change)
    if change.notes:
        raise typer.Exit(1)


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
