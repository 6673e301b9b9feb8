"""The outbox: every message written to a local Maildir, readable with ``mailbox`` or a mail client.

It is the default provider and the tests' double: real messages, nothing leaves the machine.

Each delivery is one file with a name of its own, ``nl.<issue>.<delivery id>`` (the Maildir
protocol: written in ``tmp/``, renamed into ``new/``; a mail client later moves it to ``cur/``,
adding ``:2,<flags>``). The name is what makes the outbox exactly-once without doubt: a row a crash
left between the claim and the record is settled at the next start by looking for its file
(:meth:`OutboxProvider.reconcile`): found means sent, missing means it never left. Delivery ids
are the store's, so an outbox folder belongs to one store: a store made again from scratch starts
with an empty outbox.

Durability: one ``sync`` per batch, before the batch is reported sent, instead of an ``fsync`` per
message (which cost 3.5 ms each and capped the outbox at ~280 messages/s). Until the sync a batch
is still ``sending`` in the ledger, so a power cut can only turn it into rows in doubt, which the
next start settles from the files that survived.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from .base import Mailing, ProviderBase, Recipient, Result
from .message import MessageBuilder


def file_name(issue_id: str, delivery_id: int | None) -> str:
    """The Maildir name of one delivery's message; a test copy (no ledger row) gets a unique one."""
    return _name(_prefix(issue_id), delivery_id)


def _prefix(issue_id: str) -> str:
    """``nl.<issue>.``, the part of the names an issue's messages share (made once per batch).

    Characters that a Maildir name may not hold (``/``, ``:``) or that would blur its parts (``.``)
    are written as ``=XX``, so two issues never share a name."""
    issue = re.sub(r"[^A-Za-z0-9_-]", lambda m: "".join(f"={b:02X}" for b in m.group().encode()), issue_id)
    return f"nl.{issue}."


def _name(prefix: str, delivery_id: int | None) -> str:
    return prefix + (str(delivery_id) if delivery_id is not None else "test-" + uuid.uuid4().hex)


class OutboxProvider(ProviderBase):
    name = "outbox"
    batch_size = 500
    #: One batch at a time: its files are written and synced before it is recorded.
    parallel = 1

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        for sub in ("tmp", "new", "cur"):  # fail now, before anything is queued, if it cannot be a Maildir
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self._builder: MessageBuilder | None = None
        self._lock = threading.Lock()

    def _builder_for(self, mailing: Mailing) -> MessageBuilder:
        with self._lock:
            if self._builder is None or self._builder.mailing is not mailing:
                self._builder = MessageBuilder(mailing, linesep=b"\n")  # Maildir files use the local line ending
            return self._builder

    def send(self, mailing: Mailing, recipients: Sequence[Recipient]) -> list[Result]:
        builder = self._builder_for(mailing)
        tmp, new = f"{self.folder}/tmp/", f"{self.folder}/new/"
        prefix = _prefix(mailing.issue_id)
        results = []
        for recipient in recipients:
            message_id, raw = builder.build(recipient, eight_bit=True)
            name = _name(prefix, recipient.delivery_id)
            with open(tmp + name, "wb") as handle:
                handle.write(raw)
            os.rename(tmp + name, new + name)
            results.append(Result(recipient, ok=True, message_id=message_id))
        os.sync()  # the whole batch on disk before the ledger says sent
        return results

    def reconcile(self, ledger) -> tuple[int, int]:
        """Settle the rows in doubt from the Maildir: a row whose file is in ``new/`` or ``cur/`` was
        sent; one without never left and goes back to the queue. (sent, queued again)."""
        return ledger.settle_in_doubt(lambda ids: self._written(ledger.issue_id, ids))

    def _written(self, issue_id: str, delivery_ids: Sequence[int]) -> dict[int, str]:
        """The Message-ID of each of these deliveries whose message is in the Maildir."""
        prefix = _prefix(issue_id)
        names = {_name(prefix, d): d for d in delivery_ids}
        for name in names:  # a message written but not yet renamed never left
            try:
                os.unlink(self.folder / "tmp" / name)
            except FileNotFoundError:
                pass
        found: dict[int, str] = {}
        for sub in ("new", "cur"):
            for entry in os.scandir(self.folder / sub):
                delivery_id = names.get(entry.name.partition(":")[0])
                if delivery_id is None or delivery_id in found:
                    continue
                message_id = _message_id(entry.path)
                if message_id:
                    found[delivery_id] = message_id
                else:  # empty or cut short (a power cut before the batch's sync): it never was a message
                    os.unlink(entry.path)
        return found


def _message_id(path: str) -> str:
    """The Message-ID header of a message file (it is among the first lines)."""
    with open(path, "rb") as handle:
        head = handle.read(8192).split(b"\n\n", 1)[0]
    match = re.search(rb"^Message-ID: *(<[^>\r\n]*>)", head, re.M | re.I)
    return match.group(1).decode("ascii", "replace") if match else ""
