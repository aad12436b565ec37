"""The ports the pipeline talks to. Adapters implement them; mailbot/testing.py has fakes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mailbot.errors import MailbotError
from mailbot.model import TrackerData


@dataclass(frozen=True)
class Fetched:
    key: str  # stable identity in this mailbox (Maildir unique name; "UIDVALIDITY/UID" over IMAP)
    raw: bytes
    arrived_at: dt.datetime  # delivery time (Maildir file) or INTERNALDATE (IMAP); aware
    size: int | None = None  # the whole message's size, when the mailbox knows it
    complete: bool = True  # False: over the size limit, only the header was downloaded


class Mailbox(Protocol):
    def list_new(self) -> list[str]:
        """Keys of the messages waiting in the inbox, oldest first."""

    def fetch(self, key: str) -> Fetched | None:
        """The message, or None when it vanished (moved or deleted by a person)."""

    def mark_done(self, key: str, *, quarantine: bool = False) -> str | None:
        """Move the message out of the inbox (to the processed or quarantine folder). Idempotent.

        Returns the message's id in the folder it went to where the server gives the moved item a new one
        (Exchange over EWS; Graph's immutable id), recorded beside the intake key; None otherwise."""

    def close(self) -> None: ...


class SendError(MailbotError):
    """A reply could not be handed over. `permanent` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool, server_down: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.server_down = server_down  # the server could not be reached at all: stop trying for now


class Sender(Protocol):
    def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
        """Hand one reply over for delivery; raises SendError. Sending the same reply_id twice is harmless."""

    def release(self) -> None:
        """Close any connection kept open between sends; the next send opens a new one."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class TrackerWrite:
    path: Path
    pending: bool  # True when the tracker was locked and a pending copy was written instead


class Tracker(Protocol):
    def write(self, data: TrackerData) -> TrackerWrite: ...
