"""Sending a message's reply on a thread of its own while the next message is read, decided and recorded.

The way of one message is unchanged and in the same order — recorded, its reply handed over (pending → sending
→ sent), then the message moved and marked done — but the hand-over runs beside the next message's work:

    main:        record 1 ─┐ record 2 ─┐ (1 sent?) move 1 ─ record 3 ─┐ (2 sent?) move 2 ─ …
    dispatcher:            └ send 1 ───┘           └ send 2 ─────────┘

Only one reply is in flight at a time, and its message is moved by the main thread once it is sent, so a
message never leaves the inbox before its reply was handed over (the crash matrix holds as it did). The
dispatcher has its own connection to the ledger (the outbox's state changes are its transactions) and is the
only user of the sender while a reply is in flight; everything else that sends (the batch's start and end,
alerts) first waits for it (`settle`). An exception of the send itself is raised again in the main thread by
`take`, where that message's failure boundary handles it.

Used with an SMTP server (unless sent replies are copied to the IMAP Sent folder, which needs the mailbox's
connection) and the file outbox; Exchange's senders share the mailbox's connection and send in line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailbot.adapters.sqlite_ledger import OutboxRow
from mailbot.bootstrap import App


@dataclass(frozen=True)
class Flight:
    """The message whose reply is being handed over (`item`, already `sending`): moved once it is."""

    key: str
    row: int
    quarantine: bool
    item: OutboxRow


class Dispatcher:
    """One thread that runs one hand-over at a time; it touches neither the ledger nor the mailbox."""

    def __init__(self) -> None:
        self.flight: Flight | None = None
        self.job: Callable[[], Any] | None = None
        self.result: Any = None
        self.failure: BaseException | None = None
        self.ready = threading.Event()
        self.go = threading.Event()
        self.closing = False
        self.thread = threading.Thread(target=self._loop, name="dispatch", daemon=True)
        self.thread.start()

    @staticmethod
    def usable(app: App) -> bool:
        smtp = app.settings.smtp
        return smtp.kind == "outbox" or (smtp.kind == "smtp" and not smtp.copy_to_sent)

    def start(self, flight: Flight, job: Callable[[], Any]) -> None:
        """Run `job` (the hand-over of `flight.item`) on the dispatcher's thread; `take` before the next one."""
        assert self.flight is None, "one reply in flight at a time"
        self.flight, self.job, self.result, self.failure = flight, job, None, None
        self.ready.clear()
        self.go.set()

    def take(self) -> Any:
        """Wait for the job in flight; its result, or its exception raised here (in the main thread)."""
        self.ready.wait()
        self.flight, self.job = None, None
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return self.result

    def _loop(self) -> None:
        while True:
            self.go.wait()
            self.go.clear()
            if self.closing:
                return
            assert self.job is not None
            try:
                self.result = self.job()
            except BaseException as exc:  # raised again in the main thread, inside that message's boundary
                self.failure = exc
            finally:
                self.ready.set()

    def abandon(self) -> None:
        """The batch stopped: wait for the reply in flight and leave it as it is (`sending`: the next batch finds
        it uncertain), its message in the inbox for the next batch to finish."""
        if self.flight is not None:
            self.ready.wait()
            self.flight, self.job, self.failure = None, None, None

    def close(self) -> None:
        self.abandon()
        self.closing = True
        self.go.set()
        self.thread.join()
