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


def main() -> None:
    """Entry point. Usage errors exit 2 through Typer; our errors print one line each and exit 2."""
    try:
        app()
    except NewsletterError as exc:
        for line in exc.lines():
            err.print(line, markup=False)
        sys.exit(exc.exit_code)
