"""``newsletter init [DIR]``: a new publication, ready for ``newsletter check issues/*.yaml``.

The skeleton ships inside the package (``newsletter/skeleton/``): settings with a comment on each
key, the theme (the same files as this repository's ``templates/``), an example article and an
issue that uses it, example subscribers and a ``.gitignore`` for what the tools write. Nothing is
written when a file of the skeleton is already there: an existing publication is never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from ..config import CONFIG_NAME, load_settings
from ..errors import InputError, Problem
from .schema import write_schema

#: Skeleton files whose ``$name``-style fields are filled in; the rest are copied as they are.
FILLED = ("newsletter.toml", "articles/welcome.md", "issues/welcome.yaml")
#: Skeleton name → name in the publication (a dotfile would be skipped by some packaging tools).
RENAMED = {"gitignore": ".gitignore"}


@dataclass
class Answers:
    """What the editor is asked (or gives as flags)."""

    name: str
    from_address: str
    base_url: str
    timezone: str


def defaults(folder: Path, name: str | None = None, base_url: str | None = None) -> Answers:
    """Answers derived from the folder's name, for whatever the editor leaves out."""
    name = name or " ".join(w.capitalize() for w in re.split(r"[-_\s]+", folder.resolve().name) if w) or "Newsletter"
    base_url = base_url or "https://example.com"
    host = urlsplit(base_url).hostname or "example.com"
    return Answers(name=name, from_address=f"{name} <newsletter@{host}>", base_url=base_url, timezone=local_zone())


def local_zone() -> str:
    """This machine's zone name, or UTC."""
    try:
        import tzlocal

        return tzlocal.get_localzone_name() or "UTC"
    except Exception:  # no tzlocal, or a machine without a zone: UTC is a fine start
        return "UTC"


def _problems(answers: Answers) -> list[Problem]:
    from email.utils import parseaddr

    from ..issue.times import zone
    from ..subscribers.address import BadAddress, normalize

    problems = []
    if not answers.name.strip():
        problems.append(Problem("--name", None, "the publication needs a name"))
    address = parseaddr(answers.from_address)[1]
    try:
        normalize(address)
    except BadAddress as exc:
        problems.append(Problem("--from", None, str(exc)))
    if not re.match(r"^https?://[^/\s]+", answers.base_url):
        problems.append(Problem("--base-url", None, f"{answers.base_url!r} is not an absolute http(s) URL"))
    try:
        zone(answers.timezone)
    except ValueError as exc:
        problems.append(Problem("--timezone", None, str(exc)))
    return problems


def _skeleton_files(root: Path) -> list[Path]:
    # os.walk, not rglob: in a source checkout skeleton/templates links to the repository's theme
    found = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.extend(Path(folder, name).relative_to(root) for name in names)
    return sorted(found)


def init(folder: Path, answers: Answers) -> list[Path]:
    """Write the publication into ``folder`` (created if needed); the files written."""
    answers.name = " ".join(answers.name.split())
    problems = _problems(answers)
    if problems:
        raise InputError(problems)
    with as_file(files("newsletter") / "skeleton") as skeleton:
        sources = _skeleton_files(skeleton)
        targets = {src: folder / RENAMED.get(str(src), str(src)) for src in sources}
        there = sorted((path for path in targets.values() if path.exists()),
                       key=lambda path: (path.name != CONFIG_NAME, str(path)))  # the settings first
        if there:
            names = [str(p.relative_to(folder)) for p in there]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            raise InputError.at(folder, None, f"already holds {shown}: nothing was written")
        fields = {
            "name": answers.name, "name_q": json.dumps(answers.name, ensure_ascii=False),
            "from_q": json.dumps(answers.from_address, ensure_ascii=False),
            "base_url_q": json.dumps(answers.base_url.rstrip("/"), ensure_ascii=False),
            "timezone_q": json.dumps(answers.timezone),
            "welcome_q": json.dumps(f"Welcome to {answers.name}", ensure_ascii=False),
            "date": dt.date.today().isoformat(),
        }
        try:
            for src, target in targets.items():
                target.parent.mkdir(parents=True, exist_ok=True)
                if str(src) in FILLED:
                    text = Template((skeleton / src).read_text(encoding="utf-8")).substitute(fields)
                    target.write_text(text, encoding="utf-8")
                else:
                    shutil.copyfile(skeleton / src, target)
        except OSError as exc:
            raise InputError.at(folder, None, f"cannot write: {exc.strerror or exc}") from None
    written = list(targets.values())
    written.append(write_schema(load_settings(folder / CONFIG_NAME, env={})))
    return written
