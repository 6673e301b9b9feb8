"""A provider stand-in by name, for tests and benchmarks that run real ``newsletter`` processes:
the SendGrid stand-in (slow answers) or an aiosmtpd server (slow acceptance), and who got what."""

from __future__ import annotations

import asyncio

from . import smtp as smtp_standin
from .sendgrid import SendGridStandIn


class SlowSink(smtp_standin.Sink):
    """A sink that takes a few milliseconds per message, so that signals land inside batches."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.004)
        return await super().handle_DATA(server, session, envelope)


class Target:
    """``with Target("sendgrid" | "smtp") as t:`` gives ``t.env`` for the process and ``t.delivered()``."""

    def __init__(self, kind: str):
        self.kind = kind
        self.env: dict[str, str] = {}

    def __enter__(self):
        if self.kind == "sendgrid":
            self.standin = SendGridStandIn(api_key="k").__enter__()
            self.standin.delay = 0.4
            self.env = {"NEWSLETTER_PROVIDER": "sendgrid", "SENDGRID_API_KEY": "k",
                        "NEWSLETTER_SENDGRID_HOST": self.standin.url}
        else:
            self.sink = SlowSink()
            self._server = smtp_standin.running(self.sink)
            self.env = {"NEWSLETTER_PROVIDER": "smtp", "NEWSLETTER_SMTP_URL": self._server.__enter__()}
        return self

    def delivered(self) -> list[str]:
        if self.kind == "sendgrid":
            return [d.email for d in self.standin.delivered]
        with self.sink.lock:
            return [rcpt for _, rcpts, _ in self.sink.messages for rcpt in rcpts]

    def __exit__(self, *exc):
        if self.kind == "sendgrid":
            self.standin.__exit__(*exc)
        else:
            self._server.__exit__(*exc)
