"""In-memory fakes of every port, shipped with the package for tests and experiments.

The ledger's fake is the real SqliteLedger on ":memory:" (SQLite in memory is a faithful fake).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from mailbot.model import TrackerData
from mailbot.ports import Fetched, SendError, TrackerWrite


@dataclass
class FakeMailbox:
    """An inbox of (raw, arrival) by key, with processed and quarantine folders."""

    inbox: dict[str, tuple[bytes, dt.datetime]] = field(default_factory=dict)
    processed: dict[str, bytes] = field(default_factory=dict)
    quarantined: dict[str, bytes] = field(default_factory=dict)

    def deliver(self, key: str, raw: bytes, arrived_at: dt.datetime) -> None:
        self.inbox[key] = (raw, arrived_at)

    def list_new(self) -> list[str]:
        return sorted(self.inbox, key=lambda k: (self.inbox[k][1], k))

    def fetch(self, key: str) -> Fetched | None:
        if key not in self.inbox:
            return None
        raw, arrived = self.inbox[key]
        return Fetched(key, raw, arrived)

    def mark_done(self, key: str, *, quarantine: bool = False) -> None:
        if key in self.inbox:
            raw, _ = self.inbox.pop(key)
            (self.quarantined if quarantine else self.processed)[key] = raw

    def close(self) -> None:
        return None


@dataclass
class FakeSender:
    """Records what was sent, by reply id; can be told to fail."""

    sent: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    fail_with: SendError | None = None

    def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent[reply_id] = (recipient, raw)

    def release(self) -> None:
        return None  # nothing is kept open between sends

    def close(self) -> None:
        return None


@dataclass
class FakeTracker:
    """Keeps the last data it was given."""

    path: Path = Path("tracker.xlsx")
    writes: list[TrackerData] = field(default_factory=list)

    def write(self, data: TrackerData) -> TrackerWrite:
        self.writes.append(data)
        return TrackerWrite(self.path, False)
