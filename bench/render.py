"""Render time of the example issue, in process; the per-recipient personalization time; and
``newsletter check`` as a whole process, as an editor runs it on every save.

    python bench/render.py [--issue ID] [--runs N] [--processes N]

Goals (issue 2): render ≤ 20 ms median; personalization ≤ 20 µs per recipient. Issue 12: the whole
``check`` process ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.config import load_settings  # noqa: E402
from newsletter.issue import find_issue, load_issue  # noqa: E402
from newsletter.render import recipient_values, render_issue  # noqa: E402
from newsletter.render.mjml import compile_mjml, inline_css  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issue", default="2026-11-26-beanpole")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=10, help="whole `check` processes to time")
    args = parser.parse_args()

    os.chdir(ROOT)
    settings = load_settings(ROOT / "newsletter.toml", env={})
    path = find_issue(args.issue, settings)

    def once():
        return render_issue(load_issue(path, settings), settings)

    rendered = once()  # warm up imports and caches
    totals, mjml_times, inline_times = [], [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        once()
        totals.append(time.perf_counter() - start)
        t0 = time.perf_counter()
        html = compile_mjml(rendered.mjml)
        t1 = time.perf_counter()
        inline_css(html)
        t2 = time.perf_counter()
        mjml_times.append(t1 - t0)
        inline_times.append(t2 - t1)

    values = [
        recipient_values(f"reader{i}@example.com", f"Reader {i}", f"https://u.example/u/{i}", f"https://u.example/p/{i}")
        for i in range(args.recipients)
    ]
    rendered.personalize(values[0])  # compile the placeholders once, as a send does
    start = time.perf_counter()
    for v in values:
        rendered.personalize(v)
    per_recipient = (time.perf_counter() - start) / args.recipients

    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"issue {rendered.issue.id}: email {len(rendered.html) / 1024:.1f} KB, text {len(rendered.text) / 1024:.1f} KB")
    print(f"render (load + email + web + text), median of {args.runs}: {ms(totals):.1f} ms"
          f"  [p90 {sorted(totals)[int(len(totals) * 0.9)] * 1000:.1f} ms]  goal <= 20 ms")
    print(f"  of which one mjml2html: {ms(mjml_times):.2f} ms, one CSS inlining pass: {ms(inline_times):.2f} ms")
    print(f"personalize (html + text) per recipient, {args.recipients} recipients: "
          f"{per_recipient * 1e6:.1f} us  goal <= 20 us")
    wall, cpu = whole_check(args.issue, args.processes)
    print(f"`newsletter check {args.issue}` as a whole process, median of {args.processes}: {ms(wall):.0f} ms "
          f"(CPU {ms(cpu):.0f} ms)  goal <= 500 ms")


def whole_check(issue: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (user + system) of each ``newsletter check`` process: the
    interpreter starting, every import, the first render, the checks."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "newsletter", "check", issue], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


if __name__ == "__main__":
    main()
