"""Import throughput of the whole command: `newsletter subscribers import FILE` on N generated rows.

    python bench/import.py                      # 100,000 rows, SQLite
    python bench/import.py --n 1000000
    python bench/import.py --n 1000000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/import.py --n 1000000 --again  # then import the same file again (all unchanged)

The command runs as a child process (start-up, reading, validation and the store included), on
the code of the checkout this script is in. Prints rows/s, the child's CPU seconds (user + sys)
and its peak RSS. On PostgreSQL the store lives in a schema of its own, dropped afterwards.
Goal (issue 11): 1,000,000 rows on SQLite at >= 100,000 rows/s, memory flat in N.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, n: int) -> None:
    countries = ("FR", "DE", "US", "BR", "JP", "NG", "IN", "CA")
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,lists,country,plan\n")
        for i in range(n):
            lists = "weekly;festival" if i % 3 == 0 else "weekly"
            out.write(f"Reader.{i}@Example.com,Reader {i},{lists},{countries[i % 8]},{'pro' if i % 5 == 0 else 'free'}\n")


def run_import(csv: Path, env: dict[str, str]) -> tuple[float, tuple[float, float], float, str]:
    """(wall seconds, (user, sys) CPU seconds, peak RSS in MB, last line of output) of one import process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "newsletter", "subscribers", "import", str(csv)],
                             cwd=csv.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"the import failed (exit {child.returncode}):\n{output[-3000:]}")
    return elapsed, (usage.ru_utime, usage.ru_stime), usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--again", action="store_true", help="import the same file a second time")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nl-import-"))
    csv = work / "subscribers.csv"
    start = time.perf_counter()
    write_csv(csv, args.n)
    print(f"wrote {args.n:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSLETTER_SECRET_KEY": "bench-" + "k" * 40}
    env.pop("NEWSLETTER_DATABASE_URL", None)
    schema = f"bench_import_{os.getpid()}"
    engine = None
    if args.database_url:
        from sqlalchemy import create_engine

        engine = create_engine(args.database_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        joiner = "&" if "?" in args.database_url else "?"
        env["NEWSLETTER_DATABASE_URL"] = f"{args.database_url}{joiner}options=-csearch_path%3D{schema}"
    database = "PostgreSQL" if args.database_url else "SQLite"
    try:
        for round_ in ("first", "again") if args.again else ("first",):
            elapsed, (user, system), rss, summary = run_import(csv, env)
            cpu = user + system
            print(summary)
            print(f"{database} ({round_} import): {args.n:,} rows in {elapsed:.1f} s = {args.n / elapsed:,.0f} rows/s; "
                  f"CPU {cpu:.1f} s = {user:.1f} user + {system:.1f} sys ({cpu / args.n * 1e6:.1f} µs/row); "
                  f"peak RSS {rss:.0f} MB")
    finally:
        if engine is not None:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
