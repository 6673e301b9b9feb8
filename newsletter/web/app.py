"""The web app of ``newsletter serve``: one Starlette application, server-rendered pages, no JavaScript.

Routes (every path a reverse proxy must pass on)::

    GET       /subscribe                 the form; POST sends the confirmation email
    GET/POST  /confirm/<token>           a button; the POST confirms
    GET/POST  /unsubscribe/<token>       a button; the POST (or the mailbox's one-click POST) unsubscribes
    GET/POST  /preferences/<token>       name and lists, or leave
    POST      /webhooks/sendgrid         SendGrid's signed event webhook
    GET       /archive/  /archive/<issue>/  /archive/feed.xml
    GET       /healthz                   "ok" when the store answers
    GET       /<path>                    images under articles/, as linked from base_url

The app calls the same stages as the command line: the store, the tokens, the providers, render.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ..config import Settings
from ..errors import InputError, Problem
from ..store import Store, open_store
from ..tokens import Tokens, secret_key
from . import pages, webhook
from .archive import Archive, site_file
from .confirmation import TEMPLATES, ConfirmationMail
from .guard import PER_ADDRESS, PER_CLIENT, Csrf, RateLimit

log = logging.getLogger("newsletter.web")
#: Largest request body taken: SendGrid posts batches of up to ~768 KB.
MAX_BODY = 4 * 1024 * 1024
_TOKEN_PATH = re.compile(r"^/(confirm|unsubscribe|preferences)/[^/]+")
#: No scripts anywhere; forms post to this site only; pages never framed; no referrer (links carry tokens).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The app for a publication; the store is opened (and migrated) now, so a bad setting fails
    before the server listens."""
    verifier_key = None
    if settings.sendgrid_webhook_key:
        try:
            verifier_key = webhook.load_key(settings.sendgrid_webhook_key)
        except webhook.BadKey as exc:
            raise InputError([Problem("NEWSLETTER_SENDGRID_WEBHOOK_KEY", None, str(exc))]) from None
    store = store or open_store(settings)
    tokens = Tokens.for_settings(settings)
    base = settings.base_url.rstrip("/")
    env = site_environment()
    app = Starlette(routes=_routes(), middleware=[Middleware(SiteHeaders)], max_body_size=MAX_BODY)
    app.state.settings = settings
    app.state.store = store
    app.state.tokens = tokens
    app.state.publication = publication(settings)
    app.state.templates = Jinja2Templates(env=env)
    app.state.csrf = Csrf(secret_key(settings), secure=base.startswith("https://"))
    app.state.per_client = RateLimit(*PER_CLIENT)
    app.state.per_address = RateLimit(*PER_ADDRESS)
    app.state.confirmation = ConfirmationMail(settings, tokens)
    app.state.verifier = webhook.Verifier(verifier_key)
    app.state.archive = Archive(settings, store.engine)
    return app


def _routes() -> list[Route]:
    return [
        # Relative redirects: right behind a proxy that serves the site below a path, too.
        Route("/", _redirect("archive/")),
        Route("/archive", _redirect("archive/")),
        Route("/subscribe/", _redirect("../subscribe")),
        Route("/subscribe", pages.subscribe_form, methods=["GET"]),
        Route("/subscribe", pages.subscribe, methods=["POST"]),
        Route("/confirm/{token}", pages.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", pages.confirm, methods=["POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["POST"]),
        Route("/preferences/{token}", pages.preferences_page, methods=["GET"]),
        Route("/preferences/{token}", pages.preferences, methods=["POST"]),
        Route("/webhooks/sendgrid", webhook.sendgrid_events, methods=["POST"]),
        Route("/archive/", archive_index),
        Route("/archive/feed.xml", archive_feed),
        Route("/archive/{issue}/", archive_issue),
        Route("/archive/{issue}", lambda request: RedirectResponse(f"{request.path_params['issue']}/", 301)),
        Route("/healthz", healthz),
        Route("/{path:path}", site_image),
    ]


def _redirect(to: str):
    async def redirect(request: Request) -> Response:
        return RedirectResponse(to, status_code=301)
    return redirect


class SiteHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer, and writes the access log line."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_headers(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            # The access log never shows a token: whoever reads logs must not be able to act for a reader.
            path = _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/…", scope["path"])
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %s", client[0], scope["method"], path, status)


async def archive_index(request: Request) -> Response:
    state = request.app.state
    issues = await run_in_threadpool(state.archive.issues)
    return Response(archive_page(state.templates.env, state.publication, issues),
                    media_type="text/html; charset=utf-8", headers={"Cache-Control": "public, max-age=300"})


def site_environment() -> jinja2.Environment:
    """The Jinja environment of the site's pages (``web/templates``)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def publication(settings: Settings) -> SimpleNamespace:
    """What every page shows of the publication."""
    return SimpleNamespace(name=settings.name, base_url=settings.base_url.rstrip("/"), language=settings.language,
                           postal_address=settings.postal_address)


def archive_page(env: jinja2.Environment, publication: SimpleNamespace, issues: list) -> str:
    """The archive's index page: what ``/archive/`` answers and what ``publish`` writes."""
    return env.get_template("archive.html").render(publication=publication, title="Archive", issues=issues)


async def archive_issue(request: Request) -> Response:
    page = await run_in_threadpool(request.app.state.archive.web_html, request.path_params["issue"])
    if page is None:
        return pages.message(request, "No such issue", "It has not been sent, or it does not exist.", status=404)
    return Response(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "public, max-age=300"})


async def archive_feed(request: Request) -> Response:
    feed = await run_in_threadpool(request.app.state.archive.feed)
    return Response(feed, media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


async def healthz(request: Request) -> Response:
    await run_in_threadpool(request.app.state.store.email_key_of, 0)
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def site_image(request: Request) -> Response:
    found = site_file(request.app.state.settings.articles_dir, request.path_params["path"])
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(found[0], media_type=found[1], headers={"Cache-Control": "public, max-age=86400"})
