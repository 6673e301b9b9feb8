"""Send throughput: seed N subscribers, send the example issue through a real provider on loopback.

    python bench/send.py --n 100000 --provider sendgrid     # the SendGrid stand-in, in its own process
    python bench/send.py --n 20000 --provider smtp          # an aiosmtpd sink, in its own process
    python bench/send.py --n 1000000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/send.py --n 1000000 --latency 0.3          # the stand-in answers after 300 ms

Prints recipients/s, provider calls, peak RSS and the CPU the send itself used (user + sys of this
process from the start of ``send_issue`` to its end: seeding not counted; with SQLite that includes
the database's own work, with PostgreSQL not the server's). CPU per recipient is the figure to
compare on a busy machine; throughput moves with whatever else runs. Goals (issue 11): SendGrid at
zero latency, N = 1,000,000: ≥ 45,000 recipients/s on SQLite, ≥ 25,000/s on PostgreSQL, ≤ 20 µs of
sender CPU per recipient, ⌈N/1000⌉ API calls, peak RSS ≤ 150 MB and flat in N; with 300 ms per
request ≥ 30,000/s. ``BENCH_PROFILE=1`` prints a cProfile of the send (the pool's threads too).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_sendgrid_standin(port_queue, stop_event, counts, latency: float = 0.0) -> None:
    from tests.standins.sendgrid import SendGridStandIn

    with SendGridStandIn(api_key="bench-key", record=False) as standin:
        standin.delay = latency
        port_queue.put(standin.server.server_address[1])
        while not stop_event.is_set():
            counts[0] = standin.accepted_requests
            counts[1] = standin.accepted_recipients
            time.sleep(0.05)
        counts[0] = standin.accepted_requests
        counts[1] = standin.accepted_recipients
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts[2] = int((usage.ru_utime + usage.ru_stime) * 1000)


def run_smtp_sink(port: int, stop_event, counts) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            counts[1] += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    stop_event.wait()
    controller.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts[2] = int((usage.ru_utime + usage.ru_stime) * 1000)


def seed(settings, n: int, batch: int = 20_000) -> float:
    """N confirmed subscribers on the list 'weekly', written set-wise (the import has its own bench)."""
    from sqlalchemy import insert, select

    from newsletter.store.engine import connect
    from newsletter.store.models import MailingList, Membership, Subscriber, utcnow

    engine = connect(settings)
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(MailingList).values(name="weekly", created_at=utcnow()))
        list_id = conn.execute(select(MailingList.id)).scalar_one()
    now = utcnow()
    for low in range(0, n, batch):
        rows = [{"id": i + 1, "email": f"reader{i}@example.com", "email_key": f"reader{i}@example.com",
                 "name": f"Reader {i}", "status": "confirmed", "attributes": {}, "source": "bench",
                 "created_at": now, "updated_at": now} for i in range(low, min(n, low + batch))]
        with engine.begin() as conn:
            conn.execute(insert(Subscriber), rows)
            conn.execute(insert(Membership), [{"subscriber_id": r["id"], "list_id": list_id} for r in rows])
    engine.dispose()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--provider", choices=("sendgrid", "smtp", "outbox"), default="sendgrid")
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="the SendGrid stand-in answers each accepted request after this long")
    args = parser.parse_args()

    from newsletter.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="nl-bench-"))
    for folder in ("articles", "templates", "issues"):
        shutil.copytree(ROOT / folder, work / folder)
    shutil.copy(ROOT / "newsletter.toml", work / "newsletter.toml")
    os.chdir(work)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    settings = load_settings(work / "newsletter.toml", env={})
    if args.database_url:
        settings.database_url = args.database_url
        _reset_postgres(args.database_url)
    settings.outbox = str(work / "outbox")

    seconds = seed(settings, args.n)
    print(f"seeded {args.n:,} subscribers in {seconds:.1f} s ({'SQLite' if not args.database_url else 'PostgreSQL'})")

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    counts = context.Array("q", [0, 0, 0])
    helper = None
    if args.provider == "sendgrid":
        ports = context.Queue()
        helper = context.Process(target=run_sendgrid_standin, args=(ports, stop, counts, args.latency),
                                 daemon=True)
        helper.start()
        port = ports.get(timeout=30)
        settings.provider, settings.sendgrid_api_key = "sendgrid", "bench-key"
        settings.sendgrid_host = f"http://127.0.0.1:{port}"
    elif args.provider == "smtp":
        port = free_port()
        helper = context.Process(target=run_smtp_sink, args=(port, stop, counts), daemon=True)
        helper.start()
        time.sleep(1.0)
        settings.provider, settings.smtp_url = "smtp", f"smtp://127.0.0.1:{port}"
    else:
        settings.provider = "outbox"

    from newsletter.send import send_issue

    most_in_flight = _watch_pace()

    before = resource.getrusage(resource.RUSAGE_SELF)
    seeded_rss = before.ru_maxrss / 1024
    start = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats
        import threading

        profiler = cProfile.Profile()
        threading.setprofile(lambda *a: (threading.setprofile(None), profiler.enable()))  # the pool's threads
        summary = profiler.runcall(send_issue, "2026-11-26-beanpole", settings)
        threading.setprofile(None)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    else:
        summary = send_issue("2026-11-26-beanpole", settings)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    send_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stop.set()
    if helper is not None:
        helper.join(timeout=10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    latency = f", stand-in latency {args.latency * 1000:g} ms" if args.latency else ""
    print(f"provider {args.provider}: {summary.sent:,} sent, {summary.failed} failed in {elapsed:.1f} s "
          f"(plan + send; the loop itself {summary.elapsed:.1f} s{latency})")
    print(f"  {summary.sent / elapsed:,.0f} recipients/s overall, provider calls {summary.provider_calls:,} "
          f"(⌈N/1000⌉ = {-(-args.n // 1000):,}), peak RSS {peak:.0f} MB (after seeding {seeded_rss:.0f} MB)")
    print(f"  sender CPU {send_cpu:.1f} s for the send = {send_cpu / max(summary.sent, 1) * 1e6:.1f} µs per recipient "
          f"(user + sys of this process; seeding not counted)")
    if most_in_flight:
        print(f"  requests in flight: at most {most_in_flight[0]} (adapted by newsletter/send/pace.py)")
    if args.provider == "sendgrid":
        print(f"  the stand-in (its own process) accepted {counts[0]:,} requests for {counts[1]:,} recipients "
              f"using {counts[2] / 1000:.1f} s of CPU")
    elif args.provider == "smtp":
        print(f"  the SMTP sink (aiosmtpd, its own process) accepted {counts[1]:,} messages "
              f"using {counts[2] / 1000:.1f} s of CPU")
    shutil.rmtree(work, ignore_errors=True)


def _watch_pace() -> list[int]:
    """The highest in-flight limit the send loop's pace reached (a list the pace fills in)."""
    try:
        from newsletter.send.pace import Pace
    except ImportError:  # a commit before the pace
        return []
    most = [0]
    finished = Pace.finished

    def watched(self, recipients: int) -> None:
        finished(self, recipients)
        most[0] = max(most[0], self.limit)

    Pace.finished = watched
    return most


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from newsletter.store.models import Base

    engine = create_engine(url)
    with engine.begin() as conn:  # every table of the store, so any commit's migrations start afresh
        for table in [*(t.name for t in Base.metadata.sorted_tables), "alembic_version"]:
            conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


if __name__ == "__main__":
    main()
