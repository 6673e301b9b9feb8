"""The outbox: every message written to a local Maildir, readable with ``mailbox`` or a mail client.

It is the default provider and the tests' double: real messages, nothing leaves the machine.
"""

from __future__ import annotations

import mailbox
from collections.abc import Sequence
from pathlib import Path

from .base import Mailing, ProviderBase, Recipient, Result
from .message import MessageBuilder


class OutboxProvider(ProviderBase):
    name = "outbox"
    batch_size = 500

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        for sub in ("tmp", "new", "cur"):  # fail now, before anything is queued, if it cannot be a Maildir
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(self.folder, create=False)
        self._builder: MessageBuilder | None = None

    def send(self, mailing: Mailing, recipients: Sequence[Recipient]) -> list[Result]:
        if self._builder is None or self._builder.mailing is not mailing:
            self._builder = MessageBuilder(mailing)
        builder = self._builder
        results = []
        for recipient in recipients:
            message_id, raw = builder.build(recipient, eight_bit=True)
            # Maildir files use the local line ending.
            self.maildir.add(raw.replace(b"\r\n", b"\n"))
            results.append(Result(recipient, ok=True, message_id=message_id))
        return results
