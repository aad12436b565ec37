"""The officer's tracker (and the compiled plan beside it), kept as current as the ledger.

`once` rebuilds it after every batch (`rebuild_tracker`); `run` leaves it to a TrackerKeeper, which rewrites it
off the reply path, at most once per [storage] tracker_max_lag_seconds, and only when the ledger's fingerprint
differs from the one the tracker was last written from (so a crash between a commit and the rewrite is
repaired by the first check at start).
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mailbot import __version__
from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.bootstrap import App
from mailbot.logs import get_logger
from mailbot.officer.compiled import rebuild_compiled
from mailbot.readmodel import tracker_data


def rebuild_tracker(app: App) -> tuple[str | None, bool]:
    """The officer's workbook from the ledger; a failure is logged and mail processing goes on.

    Returns where it was written and whether it is current (False: locked or unwritable)."""
    written = keep_tracker(app, app.ledger, lambda mark: _save_in(app.ledger, mark), always=True)
    assert written is not None  # always=True: never skipped
    return written


def keep_tracker(
    app: App, ledger: SqliteLedger, save_mark: Callable[[str], None], *, always: bool = False
) -> tuple[str | None, bool] | None:
    """Rebuild the tracker (and the compiled plan) from `ledger` unless it is current; None when it was.

    Current: the tracker exists and the ledger's meta `tracker_fingerprint`, saved (by `save_mark`) after the
    last write that reached the tracker itself, is the fingerprint of what the ledger holds now. The data and
    the fingerprint come from one read snapshot, so a change committed meanwhile makes the next check rebuild."""
    with _snapshot(ledger):
        mark = tracker_fingerprint(app, ledger)
        if not always and ledger.meta(TRACKER_MARK) == mark and app.settings.storage.tracker.exists():
            return None
        data = tracker_data(ledger, app.archive, app.rules, app.roster)
    try:
        written = app.tracker.write(data)
    except OSError as exc:
        get_logger().error("tracker_not_written", error=str(exc))
        return None, False
    finally:  # the compiled plan beside the tracker; its own failure is logged, never the tracker's
        rebuild_compiled(data, app.rules, app.settings.storage.tracker.parent)
    if written.pending:
        get_logger().warning("tracker_locked", pending_copy=str(written.path))
        return str(written.path), False
    save_mark(mark)
    get_logger().info("tracker_written", path=str(written.path), submissions=len(data.submissions))
    return str(written.path), True


#: The meta key of the fingerprint the tracker was last written from.
TRACKER_MARK = "tracker_fingerprint"

#: What the tracker shows comes from these rows (the outbox without its mail: only kinds, states and errors).
_TRACKED = (
    "SELECT * FROM submissions ORDER BY id",
    "SELECT * FROM versions ORDER BY id",
    "SELECT * FROM messages ORDER BY id",
    "SELECT id, kind, message_row, submission_id, reply_id, recipient, state, last_error, created_at"
    " FROM outbox ORDER BY id",
    "SELECT * FROM jobs ORDER BY key",
)


def tracker_fingerprint(app: App, ledger: SqliteLedger) -> str:
    """SHA-256 of everything the tracker is built from: the ledger's rows it shows, the rules and roster
    files, and this mailbot's version (a new one may lay the workbook out differently)."""
    digest = hashlib.sha256(__version__.encode())
    for source in (app.settings.rules.file, app.settings.roster.file):
        with suppress(OSError):
            digest.update(Path(source).read_bytes() if source else b"-")
    for query in _TRACKED:
        digest.update(query.encode())
        for row in ledger.db.execute(query):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@contextmanager
def _snapshot(ledger: SqliteLedger) -> Iterator[None]:
    """One read transaction (WAL: a consistent view while another connection writes); inside one already: it."""
    if ledger.db.in_transaction:
        yield
        return
    ledger.db.execute("BEGIN")
    try:
        yield
    finally:
        if ledger.db.in_transaction:
            ledger.db.execute("COMMIT")


def _save_in(ledger: SqliteLedger, mark: str) -> None:
    with ledger.transaction():
        ledger.set_meta(TRACKER_MARK, mark)


class TrackerKeeper:
    """`run`'s tracker and compiled plan, rebuilt in a thread of their own so that no reply waits for them.

    Poked after every batch and due check, it rebuilds when the ledger's fingerprint differs from the one the
    tracker was last written from (a new message, a reply's state, a tracker that was locked, or a crash
    between a commit and the rewrite, found by the first check at start). A check begins a whole
    `tracker_max_lag_seconds` after the previous one ended, so the tracker is rewritten at most once per window
    however it is measured, and a change waits at most one window and two rebuilds; one more check at stop
    leaves the tracker current. The thread reads the ledger through its own read-only
    connection (one snapshot per rebuild, WAL lets the batches write meanwhile) and saves the fingerprint
    through a second connection of its own: no SQLite connection is shared with the batches' thread.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.lag = app.settings.storage.tracker_max_lag_seconds
        self.ok = True  # the last write reached the tracker (False: locked or unwritable; the batches' alert)
        self.poke = threading.Event()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tracker", daemon=True)
        self.log = get_logger()

    def start(self) -> None:
        """Open the connections here, so that a ledger that cannot be read stops the start, then check at once."""
        path = self.app.settings.ledger_path
        self.ledger = SqliteLedger(path, read_only=True)
        self.marks = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.poke.set()
        self.thread.start()

    def stop(self) -> None:
        """Let a rebuild in progress finish, check once more, close the connections."""
        self.closing.set()
        self.poke.set()
        self.thread.join()

    def _loop(self) -> None:
        done = -math.inf  # when the last check ended: the next begins a whole window later
        try:
            while not self.closing.is_set():
                self.poke.wait()
                self.poke.clear()
                if self.closing.wait(max(0.0, done + self.lag - time.monotonic())):
                    break  # stopping within the window: the last check below
                self._keep()
                done = time.monotonic()
            self._keep()
        finally:
            self.ledger.close()
            self.marks.close()

    def _keep(self) -> None:
        try:
            written = keep_tracker(self.app, self.ledger, self._save_mark)
        except Exception:  # a bug must not stop the service: log it, try again after the next batch
            self.log.exception("tracker_crashed")
            self.ok = False
            return
        if written is not None:
            self.ok = written[1]

    def _save_mark(self, mark: str) -> None:
        self.marks.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (TRACKER_MARK, mark),
        )
