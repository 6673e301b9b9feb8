"""The readers' pages: subscribe, confirm, unsubscribe and preferences.

Rules every handler keeps:
- A GET never changes anything: link scanners fetch every URL in a message, so confirming and
  unsubscribing take a POST (a button on the page, or the mailbox's one-click POST).
- A link's token is checked before anything else; a forged, damaged, expired or wrong-purpose
  token gets a plain 400 page and changes nothing.
- The subscribe page answers the same whatever the address: known, unknown, confirmed or not.
- The one-click POST (RFC 8058) works without cookies or a CSRF token: the signed link is the
  credential, and Gmail and Yahoo send nothing else. The forms that need a session (subscribe,
  preferences) carry a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import logging

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..store import SUPPRESSED, SubscriberRow
from ..subscribers import BadAddress, normalize
from ..tokens import BadToken
from .guard import CSRF_COOKIE, CSRF_FIELD, HONEYPOT

log = logging.getLogger("newsletter.web")
MAX_NAME = 200


def page(request: Request, template: str, status: int = 200, **context) -> Response:
    """A page of the site; never cached (links carry tokens, forms carry CSRF tokens)."""
    state = request.app.state
    response = state.templates.TemplateResponse(
        request, template, {"publication": state.publication, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def message(request: Request, title: str, *lines: str, status: int = 200, link: dict | None = None) -> Response:
    return page(request, "message.html", status, title=title, lines=lines, link=link)


def clean_name(value: str) -> str:
    """One line of printable text (no NUL: PostgreSQL refuses it), at most MAX_NAME characters."""
    return " ".join("".join(c for c in value if c.isprintable() or c.isspace()).split())[:MAX_NAME]


def _lookup(state, purpose: str, token: str) -> SubscriberRow:
    sub = state.store.subscriber_by_id(state.tokens.read(purpose, token, state.store.email_key_of))
    if sub is None:  # erased in the meantime
        raise BadToken("this link is not valid")
    return sub


async def _reader(request: Request, purpose: str) -> SubscriberRow | Response:
    """The subscriber the link's token names, or the 400 page."""
    try:
        return await run_in_threadpool(_lookup, request.app.state, purpose, request.path_params["token"])
    except BadToken as exc:
        return message(request, "This link does not work", f"{str(exc).capitalize()}. Nothing was changed.",
                       "Use the newest link from your email, or copy the whole of it into the address bar.",
                       status=400)


def _with_csrf(request: Request, template: str, status: int = 200, **context) -> Response:
    csrf = request.app.state.csrf
    field, cookie = csrf.token(request.cookies.get(CSRF_COOKIE))
    response = page(request, template, status, csrf=field, **context)
    csrf.set_cookie(response, cookie)
    return response


def _csrf_refused(request: Request, form) -> Response | None:
    if request.app.state.csrf.valid(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        return None
    return message(request, "Please try again",
                   "This form has expired, or your browser did not send back its cookie. "
                   "Reload the page and send the form again.", status=403)


# --- subscribe and confirm ------------------------------------------------------------------


async def subscribe_form(request: Request) -> Response:
    offered = request.app.state.settings.web.lists
    return _with_csrf(request, "subscribe.html", title=f"Subscribe to {request.app.state.publication.name}",
                      lists=offered, form={"email": "", "name": "", "lists": offered}, error="")


async def subscribe(request: Request) -> Response:
    state = request.app.state
    form = await request.form()
    refused = _csrf_refused(request, form)
    if refused:
        return refused
    client = request.client.host if request.client else "unknown"
    if not state.per_client.allow(client):
        return message(request, "Too many requests", "Please wait a few minutes and try again.", status=429)
    raw_email = str(form.get("email", ""))
    name = clean_name(str(form.get("name", "")))
    offered = state.settings.web.lists
    lists = [n for n in form.getlist("lists") if n in offered]
    if form.get(HONEYPOT):  # a bot: the ordinary answer, nothing done
        return _check_inbox(request, raw_email.strip()[:254])
    try:
        email, key = normalize(raw_email)
    except BadAddress:
        return _with_csrf(request, "subscribe.html", 400, title=f"Subscribe to {state.publication.name}",
                          lists=offered, form={"email": raw_email[:254], "name": name, "lists": lists},
                          error="That does not look like an email address.")
    if not state.per_address.allow(state.store.hash(key)):
        return message(request, "Too many requests", "Please wait an hour and try again.", status=429)
    signup = await run_in_threadpool(state.store.subscribe, email, key, name, lists)
    task = None
    if signup.status == "pending":  # after the answer: it takes as long whether or not mail goes
        task = BackgroundTask(state.confirmation.send, signup.subscriber_id, email, key, name)
    return _check_inbox(request, email, task)


def _check_inbox(request: Request, email: str, task: BackgroundTask | None = None) -> Response:
    response = message(request, "Check your inbox",
                       f"If {email} is not subscribed yet, we have sent it a link to confirm the subscription.",
                       "The link works for 7 days. Nothing will be sent to you before you confirm.")
    response.background = task
    return response


async def confirm_page(request: Request) -> Response:
    sub = await _reader(request, "confirm")
    if isinstance(sub, Response):
        return sub
    if sub.status == "confirmed":
        return _confirmed(request, already=True)
    return page(request, "confirm.html", title="Confirm your subscription", email=sub.email)


async def confirm(request: Request) -> Response:
    state = request.app.state
    sub = await _reader(request, "confirm")
    if isinstance(sub, Response):
        return sub
    issued = dt.datetime.fromtimestamp(state.tokens.issued_at(request.path_params["token"]), dt.timezone.utc)
    outcome = await run_in_threadpool(state.store.confirm, sub.id, issued)
    if outcome == "stale":
        return message(request, "This link does not work",
                       "It was sent before you unsubscribed, so it cannot subscribe you again. Nothing was changed.",
                       status=400, link={"href": f"{state.publication.base_url}/subscribe", "text": "Subscribe again"})
    return _confirmed(request, already=outcome == "already")


def _confirmed(request: Request, already: bool) -> Response:
    name = request.app.state.publication.name
    return message(request, "You are subscribed" if already else "Subscription confirmed",
                   f"You will receive {name} from the next issue on.",
                   link={"href": f"{request.app.state.publication.base_url}/archive/", "text": "Read the past issues"})


# --- unsubscribe ----------------------------------------------------------------------------


async def unsubscribe_page(request: Request) -> Response:
    state = request.app.state
    sub = await _reader(request, "unsubscribe")
    if isinstance(sub, Response):
        return sub
    if sub.status in SUPPRESSED:
        return _unsubscribed(request)
    return page(request, "unsubscribe.html", title="Unsubscribe", email=sub.email,
                preferences_url=state.tokens.preferences_url(sub.id, sub.email.lower()))


async def unsubscribe(request: Request) -> Response:
    """The button, and the mailbox provider's one-click POST (body ``List-Unsubscribe=One-Click``)."""
    sub = await _reader(request, "unsubscribe")
    if isinstance(sub, Response):
        return sub
    await run_in_threadpool(request.app.state.store.unsubscribe, sub.id, "web")
    return _unsubscribed(request)


def _unsubscribed(request: Request) -> Response:
    publication = request.app.state.publication
    return message(request, "You are unsubscribed", f"{publication.name} will not be sent to you any more.",
                   link={"href": f"{publication.base_url}/subscribe", "text": "Changed your mind? Subscribe again"})


# --- preferences ----------------------------------------------------------------------------


async def preferences_page(request: Request, saved: bool = False) -> Response:
    state = request.app.state
    sub = await _reader(request, "preferences")
    if isinstance(sub, Response):
        return sub
    if sub.status in SUPPRESSED:
        return _unsubscribed(request)
    return _with_csrf(request, "preferences.html", title="Your preferences", subscriber=sub,
                      lists=state.settings.web.lists, saved=saved)


async def preferences(request: Request) -> Response:
    state = request.app.state
    sub = await _reader(request, "preferences")
    if isinstance(sub, Response):
        return sub
    form = await request.form()
    refused = _csrf_refused(request, form)
    if refused:
        return refused
    if form.get("action") == "leave":
        await run_in_threadpool(state.store.unsubscribe, sub.id, "preferences")
        return _unsubscribed(request)
    offered = state.settings.web.lists
    chosen = [n for n in form.getlist("lists") if n in offered]
    await run_in_threadpool(state.store.save_preferences, sub.id, clean_name(str(form.get("name", ""))), chosen, offered)
    return await preferences_page(request, saved=True)
