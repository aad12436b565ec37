"""The officer's tracker (and the compiled plan beside it), kept as current as the ledger.

`once` rebuilds it after every batch (`rebuild_tracker`); `run` leaves it to a TrackerKeeper, which rewrites it
off the reply path, at most once per [storage] tracker_max_lag_seconds, and only when the ledger's fingerprint
differs from the one the tracker was last written from (so a crash between a commit and the rewrite is
repaired by the first check at start). The keeper's rebuilds run in a process of its own (TrackerProcess), at a
lower priority, so that they never hold the interpreter's lock while a reply is being made.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog

from mailbot import __version__
from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.archive import Archive
from mailbot.bootstrap import App
from mailbot.config import Settings
from mailbot.isolation import _die_with_parent
from mailbot.logs import get_logger
from mailbot.officer.compiled import rebuild_compiled
from mailbot.officer.roster import Roster, load_roster
from mailbot.ports import Tracker
from mailbot.readmodel import tracker_data
from mailbot.validation.rules_file import load_rules
from mailbot.validation.schema import Rules


class TrackerSources(Protocol):
    """What a rebuild reads and writes through: the App, or the tracker's process's own."""

    @property
    def settings(self) -> Settings: ...
    @property
    def rules(self) -> Rules: ...
    @property
    def roster(self) -> Roster | None: ...
    @property
    def archive(self) -> Archive: ...
    @property
    def tracker(self) -> Tracker: ...


def rebuild_tracker(app: App) -> tuple[str | None, bool]:
    """The officer's workbook from the ledger; a failure is logged and mail processing goes on.

    Returns where it was written and whether it is current (False: locked or unwritable)."""
    written = keep_tracker(app, app.ledger, lambda mark: _save_in(app.ledger, mark), always=True)
    assert written is not None  # always=True: never skipped
    return written


def keep_tracker(
    app: TrackerSources, ledger: SqliteLedger, save_mark: Callable[[str], None], *, always: bool = False
) -> tuple[str | None, bool] | None:
    """Rebuild the tracker (and the compiled plan) from `ledger` unless it is current; None when it was.

    Current: the tracker exists and the ledger's meta `tracker_fingerprint`, saved (by `save_mark`) after the
    last write that reached the tracker itself, is the fingerprint of what the ledger holds now. The data and
    the fingerprint come from one read snapshot, so a change committed meanwhile makes the next check rebuild."""
    with _snapshot(ledger):
        mark = tracker_fingerprint(app.settings, ledger)
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
    log = get_logger()
    log.info("tracker_written", path=str(written.path), submissions=len(data.submissions), pid=os.getpid())
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


def tracker_fingerprint(settings: Settings, ledger: SqliteLedger) -> str:
    """SHA-256 of everything the tracker is built from: the ledger's rows it shows, the rules and roster
    files, and this mailbot's version (a new one may lay the workbook out differently)."""
    digest = hashlib.sha256(__version__.encode())
    for source in (settings.rules.file, settings.roster.file):
        with suppress(OSError):
            digest.update(Path(source).read_bytes() if source else b"-")
    for query in _TRACKED:
        digest.update(query.encode())
        for row in ledger.db.execute(query):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def tracker_is_current(settings: Settings, ledger: SqliteLedger) -> bool:
    """Whether the tracker exists and was last written from what the ledger holds now (`mailbot status`)."""
    with _snapshot(ledger):
        return settings.storage.tracker.exists() and ledger.meta(TRACKER_MARK) == tracker_fingerprint(settings, ledger)


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


def save_mark(connection: sqlite3.Connection, mark: str) -> None:
    """The fingerprint through a connection of the tracker's own (autocommit), not the batches' ledger."""
    connection.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (TRACKER_MARK, mark),
    )


class TrackerKeeper:
    """`run`'s tracker and compiled plan, rebuilt off the reply path, in a process of their own.

    Poked after every batch and due check, it rebuilds when the ledger's fingerprint differs from the one the
    tracker was last written from (a new message, a reply's state, a tracker that was locked, or a crash
    between a commit and the rewrite, found by the first check at start). A check begins a whole
    `tracker_max_lag_seconds` after the previous one ended, so the tracker is rewritten at most once per window
    however it is measured, and a change waits at most one window and two rebuilds; one more check at stop
    leaves the tracker current. A thread of mailbot's keeps the pace; each check is done by the tracker's
    process (TrackerProcess below: spawned once and kept, niced, its own read-only snapshot of the
    ledger per rebuild and its own connection for the fingerprint). A process that dies is logged
    (`tracker_crashed`) and replaced at the next check.
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
        """Look at the ledger here, so that one that cannot be read stops the start; start the process, check."""
        SqliteLedger(self.app.settings.ledger_path, read_only=True).close()
        self.process = TrackerProcess(self.app.settings)
        self.process.start()
        self.poke.set()
        self.thread.start()

    def stop(self) -> None:
        """Let a rebuild in progress finish, check once more, end the tracker's process."""
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
            self.process.close()

    def _keep(self) -> None:
        try:
            written = self.process.keep()
        except Exception:  # a bug of ours in talking to the process must not stop the keeping: told, tried again
            self.log.exception("tracker_crashed")
            written = False
        if written is False:  # the process crashed or died (logged): try again after the next batch
            self.ok = False
        elif written is not None:
            self.ok = written[1]


# ------------------------------------------------------------------------------------------ the tracker's process

NICENESS = 10  # the tracker's process yields the CPU to the replies


class TrackerProcess:
    """The child process that rebuilds the tracker: spawned once and kept, replaced when it has died.

    `keep()` asks it for one check (keep_tracker) and waits for the answer; the events it logged come back with
    the answer and are logged here, through mailbot's own logging. It ignores Ctrl-C and SIGTERM (a terminal or a
    service manager signals the whole group; mailbot stops it itself, after the last check) and dies with mailbot.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: BaseProcess | None = None
        self.connection: Connection | None = None
        self.log = get_logger()

    def start(self) -> None:
        from mailbot.tracker_child import serve

        context = multiprocessing.get_context("spawn")  # a fresh interpreter: safe beside the service's threads
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, args=(self.settings, theirs), name="mailbot-tracker", daemon=True)
        with _ctrl_c_ignored():  # an ignored signal stays ignored through exec: none before the child ignores it
            process.start()
        theirs.close()  # the child's end is the child's alone: its death ends our reads (EOFError)
        self.process, self.connection = process, ours
        self.log.info("tracker_process_started", pid=process.pid)

    def keep(self) -> tuple[str | None, bool] | Literal[False] | None:
        """One check in the child: keep_tracker's answer, or False when the child crashed or died (logged)."""
        if self.process is not None and not self.process.is_alive():
            self._gone()  # died since the last check (killed, out of memory): replaced now
        try:
            if self.process is None:
                self.start()
            assert self.connection is not None
            self.connection.send(False)
            kind, value, events = self.connection.recv()
        except (EOFError, OSError):
            self._gone()
            return False
        for level, fields in events:
            event = fields.pop("event", "")
            getattr(self.log, level if level in ("debug", "info", "warning", "error") else "error")(event, **fields)
        if kind == "crashed":
            self.log.error("tracker_crashed", error=value.strip().splitlines()[-1], traceback=value)
            return False
        result: tuple[str | None, bool] | None = value
        return result

    def _gone(self) -> None:
        process, self.process = self.process, None
        code = None
        if process is not None:
            process.kill()
            process.join()
            code = process.exitcode
        self.log.error("tracker_crashed", error="the tracker's process ended", exit_code=code)
        self._close_connection()

    def close(self) -> None:
        """Ask the child to end after its current rebuild; kill it if it does not within a few seconds."""
        process, self.process = self.process, None
        if process is not None:
            with suppress(OSError):
                assert self.connection is not None
                self.connection.send(None)
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        self._close_connection()

    def _close_connection(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored while the child is started from the main thread (a thread cannot change it; a child started
    from the keeper's thread ignores it from its first import, tracker_child, a few milliseconds later)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class _Sources:
    """The child's own rules, roster, archive and tracker, loaded from the settings as bootstrap does."""

    settings: Settings
    rules: Rules
    roster: Roster | None
    archive: Archive
    tracker: Tracker

    @classmethod
    def load(cls, settings: Settings) -> _Sources:
        from mailbot.adapters.xlsx_tracker import XlsxTracker

        roster = load_roster(settings.roster.file) if settings.roster.file else None
        tracker = XlsxTracker(settings.storage.tracker)
        return cls(settings, load_rules(settings.rules.file), roster, Archive(settings.archive_dir), tracker)


def serve(settings: Settings, connection: Connection) -> None:
    """The child (from tracker_child, which ignores SIGINT and SIGTERM): answer each request (False: check;
    None: end) with (kind, keep_tracker's answer, events)."""
    _die_with_parent()
    os.nice(NICENESS)
    events = _collect_events()
    sources: _Sources | None = None
    try:
        sources, failure = _Sources.load(settings), ""
    except Exception:  # a rules or roster file that cannot be read now: told at every check, as a crash
        failure = traceback.format_exc()
    while (request := _request(connection)) is not None:
        try:
            if sources is None:
                raise RuntimeError(failure)
            answer: tuple[str, object, list[Event]] = ("done", _keep_once(sources, always=request), list(events))
        except Exception:  # a bug costs this check, not the process: told, and tried again at the next
            answer = ("crashed", traceback.format_exc(), list(events))
        events.clear()
        connection.send(answer)


def _request(connection: Connection) -> bool | None:
    try:
        request: bool | None = connection.recv()
    except EOFError:  # mailbot is gone
        return None
    return request


def _keep_once(sources: _Sources, *, always: bool) -> tuple[str | None, bool] | None:
    """One check through connections opened for it: a read-only snapshot, and one to save the fingerprint."""
    path = sources.settings.ledger_path
    ledger = SqliteLedger(path, read_only=True)
    marks = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        return keep_tracker(sources, ledger, lambda mark: save_mark(marks, mark), always=always)
    finally:
        ledger.close()
        marks.close()


Event = tuple[str, dict[str, Any]]


def _collect_events() -> list[Event]:
    """The child's log events, kept to be sent with its answer (mailbot logs them as its own)."""
    events: list[Event] = []

    def collect(_logger: Any, method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        fields = {k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in event.items()}
        if fields.pop("exc_info", None):
            fields["traceback"] = traceback.format_exc()
        events.append((method, fields))
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, collect],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    return events
