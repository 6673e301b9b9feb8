"""Render time of the example issue, in process, and the per-recipient personalization time.

    python bench/render.py [--issue ID] [--runs N]

Goals (issue 2): render ≤ 20 ms median; personalization ≤ 20 µs per recipient.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    args = parser.parse_args()

    os.chdir(ROOT)
    settings = load_settings(ROOT / "newsletter.toml", env={})
    path = find_issue(args.issue, settings)

    def once():
        return render_issue(load_issue(path, settings), settings)

    rendered = once()  # warm up imports and caches
    totals, mjml_times, premailer_times = [], [], []
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
        premailer_times.append(t2 - t1)

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
    print(f"  of which one mjml2html: {ms(mjml_times):.2f} ms, one premailer pass: {ms(premailer_times):.1f} ms")
    print(f"personalize (html + text) per recipient, {args.recipients} recipients: "
          f"{per_recipient * 1e6:.1f} us  goal <= 20 us")


if __name__ == "__main__":
    main()
