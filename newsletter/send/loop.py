"""The send loop: render and check once, plan the ledger, then claim → send → record, batch by batch.

Exactly once: a batch is committed as ``sending`` before the provider is called and as ``sent`` or
``failed`` after. What cannot be known is reported ``in_doubt`` and only resent on purpose
(``--retry-in-doubt``): rows a crash left ``sending``, found at the next start, and batches whose
answer was lost after they were handed over. Running the send again continues where it stopped.

Faults: an error before anything was handed over (429, 5xx, a refused connection) puts the batch
back in the queue without using up an attempt and waits, with exponential backoff and jitter (or
until the rate-limit reset). A recipient the provider refuses for now (an SMTP 4xx) is retried
until its attempts run out. Refused credentials or an impossible setup stop the send at once; a
batch the provider rejects fails with the provider's reason; after several failing batches in a
row the send pauses. In every case the rest stays queued.

Stopping: when the ``stop`` event is set (SIGTERM or Ctrl-C in the command, a scheduler shutting
down), no new batch is claimed; the batches in flight finish and are recorded, so a graceful stop
leaves nothing ``sending`` and nothing in doubt, and :class:`SendInterrupted` says how to continue.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from ..audience import audience_problems
from ..config import PROVIDERS, Settings
from ..errors import NewsletterError, Problem
from ..providers import (
    AuthError,
    BatchRejected,
    InDoubt,
    Mailing,
    Recipient,
    SetupError,
    TransientError,
    make_provider,
)
from ..issue import Issue, find_issue, load_issue
from ..store import AddressHash, Store
from ..store.engine import connect
from ..store.ledger import Claimed, Ledger, SendLock
from ..tokens import Tokens
from .pace import Pace

if TYPE_CHECKING:  # rendering and checking (Jinja, MJML, CSS) are imported when a send has work to do
    from ..render import RenderedIssue


class ChecksFailed(NewsletterError):
    """The rendered issue has problems: nothing was queued or sent (exit 1)."""

    exit_code = 1


class SendStopped(NewsletterError):
    """The send stopped early (refused credentials, an impossible setup, an unexpected provider
    error, or a pause after repeated failures); exit 1. The rest stays queued."""

    exit_code = 1


class SendInterrupted(NewsletterError):
    """Stopped on request (a signal): the batches in flight were finished and recorded; the rest
    stays queued. Exit 130 after SIGINT, 143 after SIGTERM, as shells report a signalled process."""

    exit_code = 130

    def __init__(self, message: str, summary: "SendSummary"):
        super().__init__(message)
        self.summary = summary


class SendBusy(SendStopped):
    """Another process holds this issue's send lock; nothing was changed."""


class NotDue(NewsletterError):
    """The issue is due later (``send_at``) or repeats on a schedule: ``send`` without ``--now``
    leaves it to the scheduler (exit 2)."""


@dataclass
class SendOptions:
    provider: str | None = None
    retry_failed: bool = False
    retry_in_doubt: bool = False
    dry_run: bool = False
    #: Refuse an issue whose ``send_at`` is still ahead (``send`` without ``--now``).
    respect_send_at: bool = False
    #: Tries per recipient before a transient failure becomes ``failed``.
    max_attempts: int = 5
    #: Failing batches in a row before the send pauses.
    pause_after: int = 5
    #: Seconds after its batch an in-doubt row waits for a provider event before
    #: ``retry_in_doubt`` resends it (SendGrid with the event webhook only).
    in_doubt_grace: float = 0.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass
class Progress:
    done: int
    total: int
    sent: int
    failed: int
    skipped: int
    elapsed: float


@dataclass
class SendSummary:
    issue_id: str
    provider: str
    planned: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    requeued: int = 0
    #: Deliveries this run could not confirm (the provider's answer was lost).
    in_doubt: int = 0
    #: Rows an earlier, interrupted run left in doubt, found at the start of this one.
    in_doubt_found: int = 0
    #: In-doubt rows ``retry_in_doubt`` left alone: their grace for provider events is not over.
    held_back: int = 0
    held_until: dt.datetime | None = None
    provider_calls: int = 0
    elapsed: float = 0.0
    dry_run: bool = False
    audience: int = 0
    #: Dry run: how many this send would hand to the provider.
    would_send: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stopped: str = ""
    #: Everybody in the audience is in the ledger and nothing waits: nothing was rendered or sent.
    nothing_left: bool = False

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0


def mailing_for(rendered: RenderedIssue, settings: Settings) -> Mailing:
    issue = rendered.issue
    return Mailing(
        issue_id=issue.id, subject=issue.subject, from_address=settings.from_address, rendered=rendered,
        reply_to=settings.reply_to, unsubscribe_mailto=settings.unsubscribe_mailto, list_id=settings.list_id,
    )


def render_checked(issue: str | Issue, settings: Settings) -> RenderedIssue:
    """Render the issue (a name, or one already loaded) and refuse it if any pre-send check fails."""
    from ..checks import check_rendered
    from ..render import render_issue, render_named

    rendered = render_named(issue, settings) if isinstance(issue, str) else render_issue(issue, settings)
    problems = check_rendered(rendered)
    if problems:
        raise ChecksFailed(problems + [Problem("send", None, "nothing was sent: fix the problems above")])
    return rendered


def send_issue(
    issue_name: str,
    settings: Settings,
    options: SendOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
) -> SendSummary:
    """Send the issue to its audience, once per subscriber; resumable at any point."""
    options = options or SendOptions()
    issue = load_issue(find_issue(issue_name, settings), settings)
    done = _nothing_left(issue, settings, options)
    if done is not None:
        return done
    rendered = render_checked(issue, settings)
    if not options.dry_run:
        _refuse_if_not_due(rendered.issue, settings, options.respect_send_at)
    return send_rendered(rendered, settings, options, progress=progress, sleep=sleep, stop=stop)


def _nothing_left(issue: Issue, settings: Settings, options: SendOptions) -> SendSummary | None:
    """The summary of a send that has nothing to do, found without rendering, checking or a
    provider: everybody the audience selects is in the ledger and no row is queued, sending or in
    doubt (rows in doubt may be settled by the provider). Running ``send`` again after it finished
    then costs what its answer costs. None when there may be work, or something to report (an
    audience problem, an unknown provider, a retry asked for): the whole send says it."""
    provider = options.provider or settings.provider
    if options.dry_run or options.retry_failed or options.retry_in_doubt or provider not in PROVIDERS:
        return None
    engine = connect(settings)
    try:
        ledger = Ledger(engine, issue.id)
        counts = ledger.counts()
        if (not counts or any(counts.get(status) for status in ("queued", "sending", "in_doubt"))
                or ledger.count_to_send(issue.audience)
                or audience_problems(issue, Store(engine, AddressHash.for_settings(settings)))):
            return None
    finally:
        engine.dispose()
    _refuse_if_not_due(issue, settings, options.respect_send_at)
    return SendSummary(issue_id=issue.id, provider=provider, counts=counts, nothing_left=True)


def _refuse_if_not_due(issue: Issue, settings: Settings, respect_send_at: bool) -> None:
    """A recurring issue is only sent by the scheduler, occurrence by occurrence; one whose
    ``send_at`` is ahead waits for it unless the editor says ``--now``."""
    here = issue.path.resolve().parent == settings.issues_dir.resolve()
    command = f"newsletter schedule {issue.path.stem if here else issue.path}"
    if issue.repeat:
        raise NotDue([Problem(issue.id, None, f'repeats ("{issue.repeat}"): the scheduler sends each occurrence; '
                                              f"run '{command}' and 'newsletter scheduler'")])
    if respect_send_at and issue.send_at is not None and issue.send_at > dt.datetime.now(dt.timezone.utc):
        from ..issue.times import shown

        raise NotDue([Problem(issue.id, None, f"due at {shown(issue.send_at, settings.timezone)}, not yet: "
                                              f"schedule it with '{command}', or send it now with --now")])


def send_rendered(
    rendered: RenderedIssue,
    settings: Settings,
    options: SendOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
    started: Callable[[SendSummary, int], None] | None = None,
    drain: Callable[..., None] | None = None,
) -> SendSummary:
    """Send an issue already rendered and checked: plan the ledger, then claim → send → record.

    ``stop``, once set, ends the send gracefully (:class:`SendInterrupted`); ``started`` is told the
    summary and the queue's length once the ledger is planned. ``drain``, when given, replaces the
    claim → send → record loop (send workers on other machines do it: ``newsletter.workers``); it
    gets ``(ledger, summary, total, begun, progress, stop)`` while the issue's send lock is held.
    """
    options = options or SendOptions()
    issue = rendered.issue
    tokens = Tokens.for_settings(settings)  # a bad key file stops the send before the store is touched
    provider = make_provider(settings, options.provider)
    summary = SendSummary(issue_id=issue.id, provider=provider.name, dry_run=options.dry_run)
    engine = connect(settings)
    problems = audience_problems(issue, Store(engine, AddressHash.for_settings(settings)))
    if problems:
        engine.dispose()
        provider.close()
        raise ChecksFailed(problems + [Problem("send", None, "nothing was sent: fix the problems above")])
    ledger = Ledger(engine, issue.id)
    lock = SendLock(engine, issue.id)
    if not lock.acquire():
        provider.close()
        engine.dispose()
        raise SendBusy(f"a send of {issue.id} is already running")
    begun = time.monotonic()
    try:
        if options.dry_run:  # changes nothing, not even rows an interrupted run left behind
            summary.audience = ledger.count_audience(issue.audience)
            again = ["queued", *(["failed"] if options.retry_failed else []),
                     *(["in_doubt", "sending"] if options.retry_in_doubt else [])]
            summary.would_send = ledger.count_to_send(issue.audience, again)
            summary.counts = ledger.counts()
            return summary
        if drain is None and ledger.postgres:
            _refuse_if_workers_send(engine, issue.id)
        summary.in_doubt_found = ledger.recover_interrupted()
        # A provider that keeps its own records (the outbox) settles the doubt before anything else.
        settled_sent, settled_queued = provider.reconcile(ledger)
        summary.in_doubt_found = max(0, summary.in_doubt_found - settled_sent - settled_queued)
        if options.retry_in_doubt:
            # SendGrid's events may still prove a row sent (the webhook resolves it): wait for them.
            events = provider.name == "sendgrid" and bool(settings.sendgrid_webhook_key)
            moved, summary.held_back, summary.held_until = ledger.retry_in_doubt(
                options.in_doubt_grace if events else 0.0)
            summary.requeued += moved
        if options.retry_failed:
            summary.requeued += ledger.retry("failed")
        summary.planned = ledger.plan(issue.audience)
        counts = ledger.counts()
        total = counts.get("queued", 0)
        if started:
            started(summary, total)
        if drain is not None:
            provider.close()
            drain(ledger, summary, total, begun, progress, stop or threading.Event())
            return summary
        with provider:
            _run(ledger, provider, mailing_for(rendered, settings), tokens,
                 options, summary, total, begun, progress, sleep, stop or threading.Event())
    finally:
        lock.release()
        summary.elapsed = time.monotonic() - begun
        summary.counts = ledger.counts()
        engine.dispose()
    return summary


def _refuse_if_workers_send(engine, issue_id: str) -> None:
    """Rows that send workers hold ``sending`` are not a crash's leftovers: a plain send would
    report them in doubt (and the workers would go on with the issue beside it)."""
    from ..store.workers import Fleet

    if Fleet(engine).busy_with(issue_id):
        raise SendBusy(f"{issue_id} is being sent by the send workers: follow it with "
                       f"'newsletter send {issue_id} --workers'")


def _run(ledger: Ledger, provider, mailing: Mailing, tokens: Tokens, options: SendOptions,
         summary: SendSummary, total: int, started: float, progress, sleep, stop: threading.Event) -> None:
    """Keep batches in flight, as many as cover the provider's latency (:class:`~.pace.Pace`, at
    most ``provider.parallel``); only this thread touches the ledger, the pool's threads sign the
    links, build the requests and wait for the provider.

    Once ``stop`` is set nothing more is claimed, and the loop ends when what is in flight is recorded.
    """
    pace = Pace(max(1, getattr(provider, "parallel", 1)))
    state = _LoopState()
    in_flight: dict[Future, list[Claimed]] = {}
    after = 0  # keyset: the highest id claimed; rows requeued below it are picked up from 0 again
    # Everything alive now (modules, the engine, the rendered issue) lives through the send, and a
    # batch makes thousands of short-lived dicts and tuples; every few hundred of them set off a
    # collection that walked all the rest again: half the cost of building a request. Frozen, it
    # is left alone. (The collector still runs as often: each HTTP request leaves a reference
    # cycle holding its body, and rarer collections let those pile up by the hundred MB.)
    gc.freeze()
    try:
        with ThreadPoolExecutor(max_workers=pace.cap, thread_name_prefix="send") as pool:
            while True:
                drained = False
                while not state.stop and not stop.is_set() and len(in_flight) < pace.limit:
                    rows = ledger.claim(provider.batch_size, after)
                    if not rows and after:
                        after = 0
                        rows = ledger.claim(provider.batch_size, after)
                    if not rows:
                        drained = True
                        break
                    after = max(after, rows[-1].delivery_id)
                    live = _skip_gone(ledger, rows, summary)
                    if live:
                        summary.provider_calls += 1
                        in_flight[pool.submit(_send_batch, provider, mailing, tokens, live)] = live
                if not in_flight:
                    if drained or state.stop or stop.is_set():
                        break
                    continue
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    live = in_flight.pop(future)
                    error = future.exception()
                    if error is None:
                        pace.finished(len(live))
                    elif isinstance(error, TransientError):  # 429 or 5xx: fewer in flight
                        pace.slow_down()
                    _record(future, live, ledger, options, summary, state)
                if progress:
                    finished = summary.sent + summary.failed + summary.skipped
                    progress(Progress(finished, max(total, finished), summary.sent, summary.failed, summary.skipped,
                                      time.monotonic() - started))
                if state.wait and not state.stop and not stop.is_set():
                    (sleep or stop.wait)(state.wait)  # by default a stop request cuts the wait short
                state.wait = 0.0
    finally:
        gc.unfreeze()
    if state.stop:
        raise SendStopped(state.stop)
    if stop.is_set() and not drained:
        raise SendInterrupted(f"stopped: {summary.sent} sent in this run, the batches in flight were finished "
                              "and recorded; the rest stays queued", summary)


@dataclass
class _LoopState:
    """What the loop decides between batches: failures in a row, a wait, a reason to stop."""

    failing_batches: int = 0
    wait: float = 0.0
    stop: str = ""


def _skip_gone(ledger: Ledger, rows: list[Claimed], summary: SendSummary) -> list[Claimed]:
    """Rows whose subscriber unsubscribed, bounced or was erased since the plan: ``skipped``."""
    gone = [r for r in rows if r.subscriber_status != "confirmed"]
    if gone:
        ledger.mark("skipped", [(r.delivery_id, f"subscriber is {r.subscriber_status or 'erased'}") for r in gone])
        summary.skipped += len(gone)
    return [r for r in rows if r.subscriber_status == "confirmed"]


def _record(future: Future, live: list[Claimed], ledger: Ledger, options: SendOptions,
            summary: SendSummary, state: _LoopState) -> None:
    """Write one batch's outcome to the ledger and decide whether to wait, pause or stop."""
    try:
        results = future.result()
    except (AuthError, SetupError) as exc:
        ledger.requeue([r.delivery_id for r in live], str(exc))
        state.stop = f"{exc}; the rest stays queued"
        return
    except TransientError as exc:
        # Nothing of the batch was accepted: it goes back to the queue without using up an attempt.
        ledger.requeue([r.delivery_id for r in live], str(exc))
        if exc.retry_after:  # rate limited: wait as told; it is not a failure of the send
            state.wait = max(state.wait, exc.retry_after)
        else:
            _failing(state, options, str(exc))
        return
    except BatchRejected as exc:
        ledger.mark("failed", [(r.delivery_id, str(exc)) for r in live])
        summary.failed += len(live)
        _failing(state, options, str(exc))
        return
    except InDoubt as exc:
        ledger.mark("in_doubt", [(r.delivery_id, str(exc)) for r in live])
        summary.in_doubt += len(live)
        _failing(state, options, str(exc))
        return
    except Exception as exc:  # a provider bug or an unexpected library error: whether it left is unknown
        note = f"unexpected {type(exc).__name__} from the {summary.provider} provider: {exc}"
        ledger.mark("in_doubt", [(r.delivery_id, note) for r in live])
        summary.in_doubt += len(live)
        state.stop = f"{note}; {len(live)} deliveries marked in doubt, the rest stays queued"
        return
    sent = [(r.recipient.delivery_id, r.message_id) for r in results if r.ok]
    ledger.mark_sent(sent)
    summary.sent += len(sent)
    failed = [(r.recipient.delivery_id, r.error) for r in results if not r.ok and not r.transient and not r.in_doubt]
    ledger.mark("failed", failed)
    summary.failed += len(failed)
    doubtful = [(r.recipient.delivery_id, r.error) for r in results if r.in_doubt]
    ledger.mark("in_doubt", doubtful)
    summary.in_doubt += len(doubtful)
    retry = [r for r in results if not r.ok and r.transient]
    untried = [r.recipient.delivery_id for r in retry if r.not_attempted]
    if untried:
        ledger.requeue(untried, next(r.error for r in retry if r.not_attempted))
    tried = [r for r in retry if not r.not_attempted]
    if tried:
        by_id = {r.delivery_id: r for r in live}
        _requeue_or_fail(ledger, [by_id[r.recipient.delivery_id] for r in tried], tried[0].error, options, summary)
    if sent:
        state.failing_batches = 0
    elif failed or retry or doubtful:
        _failing(state, options, (retry or [r for r in results if not r.ok])[0].error)


def _failing(state: _LoopState, options: SendOptions, reason: str) -> None:
    state.failing_batches += 1
    if state.failing_batches >= options.pause_after:
        state.stop = (f"paused after {state.failing_batches} failing batches in a row: {reason}; "
                      "the rest stays queued, run send again to continue")
    else:
        state.wait = max(state.wait, _backoff(state.failing_batches, options))


def _send_batch(provider, mailing: Mailing, tokens: Tokens, rows: list[Claimed]):
    """In a worker thread: sign the links and hand the batch over, while the main thread works
    the ledger."""
    return provider.send(mailing, [_recipient(r, tokens) for r in rows])


def _recipient(row: Claimed, tokens: Tokens) -> Recipient:
    sid = row.subscriber_id
    unsubscribe_url, preferences_url = tokens.links(sid, row.email.lower())
    return Recipient(row.email, row.name, unsubscribe_url, preferences_url, sid, row.delivery_id)


def _requeue_or_fail(ledger: Ledger, rows: list[Claimed], error: str, options: SendOptions,
                     summary: SendSummary) -> None:
    attempts = ledger.attempts([r.delivery_id for r in rows]) if rows else {}
    spent = [(r.delivery_id, f"{error} (after {attempts.get(r.delivery_id, 0)} attempts)")
             for r in rows if attempts.get(r.delivery_id, 0) >= options.max_attempts]
    again = [(r.delivery_id, error) for r in rows if attempts.get(r.delivery_id, 0) < options.max_attempts]
    ledger.mark("failed", spent)
    ledger.mark("queued", again)
    summary.failed += len(spent)


def _backoff(failures: int, options: SendOptions) -> float:
    """Exponential backoff with jitter: a random wait between half the ceiling and the ceiling."""
    ceiling = min(options.backoff_max, options.backoff_base * (2 ** (failures - 1)))
    return random.uniform(ceiling / 2, ceiling)
