"""A provider stand-in by name, for tests and benchmarks that run real ``newsletter`` processes:
the SendGrid stand-in (slow answers), an aiosmtpd server (slow acceptance) or an outbox folder
(the real provider), and who got what."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path

from . import smtp as smtp_standin
from .sendgrid import SendGridStandIn


class SlowSink(smtp_standin.Sink):
    """A sink that takes a few milliseconds per message, so that signals land inside batches."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.004)
        return await super().handle_DATA(server, session, envelope)


class Target:
    """``with Target("sendgrid" | "smtp" | "outbox") as t:`` gives ``t.env`` for the process and
    ``t.delivered()``."""

    def __init__(self, kind: str):
        self.kind = kind
        self.env: dict[str, str] = {}
        self._seen: dict[str, str] = {}  # outbox: file name → its To address, read once per file

    def __enter__(self):
        if self.kind == "sendgrid":
            self.standin = SendGridStandIn(api_key="k").__enter__()
            self.standin.delay = 0.4
            self.env = {"NEWSLETTER_PROVIDER": "sendgrid", "SENDGRID_API_KEY": "k",
                        "NEWSLETTER_SENDGRID_HOST": self.standin.url}
        elif self.kind == "outbox":
            self.folder = Path(tempfile.mkdtemp(prefix="nl-outbox-"))
            self.env = {"NEWSLETTER_PROVIDER": "outbox", "NEWSLETTER_OUTBOX": str(self.folder)}
        else:
            self.sink = SlowSink()
            self._server = smtp_standin.running(self.sink)
            self.env = {"NEWSLETTER_PROVIDER": "smtp", "NEWSLETTER_SMTP_URL": self._server.__enter__()}
        return self

    def delivered(self) -> list[str]:
        if self.kind == "sendgrid":
            return [d.email for d in self.standin.delivered]
        if self.kind == "outbox":  # every file in new/ (a mail client would move it to cur/)
            if not (self.folder / "new").is_dir():
                return []
            for entry in (self.folder / "new").iterdir():
                if entry.name not in self._seen:
                    head = entry.read_bytes().split(b"\n\n", 1)[0]
                    self._seen[entry.name] = re.search(rb"^To: .*?<?([^<>\s]+@[^<>\s]+)>?$", head, re.M).group(1).decode()
            return list(self._seen.values())
        with self.sink.lock:
            return [rcpt for _, rcpts, _ in self.sink.messages for rcpt in rcpts]

    def __exit__(self, *exc):
        if self.kind == "sendgrid":
            self.standin.__exit__(*exc)
        elif self.kind == "outbox":
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            self._server.__exit__(*exc)
