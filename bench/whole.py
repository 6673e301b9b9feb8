"""Helpers for benches of whole ``newsletter`` processes: a publication folder with N subscribers,
and one command run as a child process with its CPU time (user + sys, from RUSAGE_CHILDREN).

``code`` names the checkout whose ``newsletter`` package runs (PYTHONPATH), so the same bench can
time another commit, e.g. a worktree of the base made with ``git worktree add /tmp/base <commit>``.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISSUE = "2026-11-26-beanpole"


def publication(n: int, parent: str | None = None) -> Path:
    """A copy of the example publication with N confirmed subscribers on the list 'weekly'."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from send import seed  # bench/send.py: written set-wise, the import has its own bench

    from newsletter.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="nl-bench-", dir=parent))
    for folder in ("articles", "templates", "issues"):
        shutil.copytree(ROOT / folder, work / folder)
    shutil.copy(ROOT / "newsletter.toml", work / "newsletter.toml")
    seed(load_settings(work / "newsletter.toml", env={}), n)
    return work


@dataclass
class Run:
    returncode: int
    wall: float
    cpu: float  # user + sys of the child, seconds
    stdout: str
    stderr: str


def run(args: list[str], work: Path, code: Path = ROOT, env: dict[str, str] | None = None) -> Run:
    """``python -m newsletter ARGS`` in ``work``, with ``code``'s package."""
    environment = {**os.environ, "PYTHONPATH": str(code), "NO_PROXY": "127.0.0.1,localhost", **(env or {})}
    environment.pop("NEWSLETTER_DATABASE_URL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=work, env=environment,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(done.returncode, wall, cpu, done.stdout, done.stderr)
