"""The exceptions newsletter raises on purpose.

::

    NewsletterError                 anything the user can act on; the CLI prints it, no traceback
     ├── InputError                 bad input: one or more ``FILE:LINE: what is wrong`` lines (exit 2)
     └── RenderError                a template or MJML problem found while rendering (exit 2)

Every error carries the lines to print. Several problems found in one pass are raised together,
so an editor fixes them all at once instead of one per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one place in one file."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


def display_path(path: str | Path) -> str:
    """The path as the user would type it: relative to the working directory when below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


class NewsletterError(Exception):
    """Base of every error the command line reports as a clear message."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("newsletter", None, problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class InputError(NewsletterError):
    """A file the user wrote (issue, article, settings, CSV) is wrong."""

    @classmethod
    def at(cls, path: str | Path, line: int | None, message: str) -> "InputError":
        return cls([Problem(display_path(path), line, message)])


class RenderError(NewsletterError):
    """The theme could not be rendered (template syntax, MJML parse error)."""

    @classmethod
    def at(cls, path: str | Path, line: int | None, message: str) -> "RenderError":
        return cls([Problem(display_path(path), line, message)])
