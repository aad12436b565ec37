"""`mailbot run`: APScheduler interval jobs, one at a time, with a graceful SIGTERM.

Two jobs and a thread: the poll (a batch of mail) and the due check (`run_due`: reminders and the daily
digest), which asks every few minutes whether anything is due; the ledger's `jobs` table, not memory, says
what was done, so a restart never does it twice. They share one lock: the ledger sees one of them at a time.
The TrackerKeeper thread rewrites the tracker off the reply path, at most once per [storage]
tracker_max_lag_seconds, from a read connection of its own.

SIGTERM/SIGINT let the current message finish, then the process exits 0. A heartbeat file is
touched each cycle (the Docker HEALTHCHECK reads its age). A lock file keeps a second instance out.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from apscheduler.schedulers.blocking import BlockingScheduler

from mailbot.bootstrap import App
from mailbot.errors import MailbotError
from mailbot.logs import get_logger
from mailbot.pipeline import process_batch, send_replies
from mailbot.tracker_keeping import TrackerKeeper

#: The due check runs at least this often (and as often as the poll when that is shorter).
DUE_CHECK_SECONDS = 300


class AlreadyRunning(MailbotError):
    """Another mailbot holds the lock of this storage folder."""


@contextmanager
def single_instance(storage_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on <storage>/mailbot.lock; a second holder fails at once."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    path = storage_dir / "mailbot.lock"
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise AlreadyRunning(f"another mailbot is already running on {storage_dir} (lock {path})") from exc
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path)


@dataclass
class DueReport:
    reminders: int = 0  # reminders queued
    digests: int = 0  # digest mails queued


def run_due(app: App, now: dt.datetime | None = None) -> DueReport:
    """Queue the reminders and the digest due at `now` (default: the clock), then send what waits in the outbox."""
    from mailbot.officer import digest, reminders

    now = now or _now()
    report = DueReport(len(reminders.queue_due(app, now)), digest.queue_due(app, now))
    if report.reminders or report.digests:
        send_replies(app)
    return report


class Runner:
    """Runs batches on a schedule until told to stop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.wake = threading.Event()  # new mail announced (IDLE) while a batch may be running
        self.batch_lock = threading.Lock()
        self.heartbeat = app.settings.storage.dir / "heartbeat"
        self.scheduler = BlockingScheduler(timezone="UTC")
        self.keeper = TrackerKeeper(app)
        self.log = get_logger()

    def cycle(self) -> None:
        with self.batch_lock:
            while not self.stopping.is_set():
                self.wake.clear()
                self._batch()
                touch(self.heartbeat)
                if not self.wake.is_set():
                    break  # nothing announced meanwhile; else go again at once

    def _batch(self) -> None:
        try:
            report = process_batch(self.app, stop=self.stopping.is_set, tracker_ok=self.keeper.ok)
            self.log.info("batch_done", processed=report.processed, actions=report.actions)
        except MailbotError as exc:
            self.log.error("batch_failed", error=str(exc))
        except Exception:  # a bug must not stop the service: log it and try again next cycle
            self.log.exception("batch_crashed")
        finally:
            self.keeper.poke.set()  # the ledger may have changed: the tracker follows within its window

    def due(self) -> None:
        with self.batch_lock:
            if self.stopping.is_set():
                return
            try:
                report = run_due(self.app)
                if report.reminders or report.digests:
                    self.log.info("due_done", reminders=report.reminders, digests=report.digests)
            except MailbotError as exc:
                self.log.error("due_failed", error=str(exc))
            except Exception:  # a bug must not stop the service: log it and ask again at the next check
                self.log.exception("due_crashed")
            finally:
                self.keeper.poke.set()

    def watch(self) -> None:
        """IMAP IDLE: wake the job when mail arrives; renew IDLE at least every idle_renew_seconds."""
        from mailbot.adapters.imap import ImapWatcher
        from mailbot.adapters.tls import login_for

        box = self.app.settings.mailbox
        assert box.kind == "imap"
        watcher = ImapWatcher(box, login_for(box, self.app.settings.source, "mailbox"))
        try:
            while not self.stopping.is_set():
                try:
                    announced = watcher.wait(box.idle_renew_seconds, self.stopping.is_set)
                except MailbotError as exc:
                    self.log.warning("idle_unavailable", error=str(exc))
                    self.stopping.wait(min(60.0, self.app.settings.schedule.interval_seconds))
                    continue
                if announced and not self.stopping.is_set():
                    self.wake.set()
                    self.scheduler.modify_job("poll", next_run_time=_now())
        finally:
            watcher.close()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.log.info("stopping", signal=signal.Signals(signum).name)
        self.stopping.set()
        self.scheduler.shutdown(wait=False)

    def run(self) -> None:
        interval = self.app.settings.schedule.interval_seconds
        self.scheduler.add_job(
            self.cycle, "interval", id="poll", seconds=interval, max_instances=1, coalesce=True, next_run_time=_now()
        )
        every = min(interval, DUE_CHECK_SECONDS)
        self.scheduler.add_job(
            self.due, "interval", id="due", seconds=every, max_instances=1, coalesce=True,
            next_run_time=_now() + dt.timedelta(seconds=min(every, 5)),  # after the first batch
        )  # fmt: skip
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        box = self.app.settings.mailbox
        idle = box.kind == "imap" and box.idle
        if idle:
            threading.Thread(target=self.watch, name="imap-idle", daemon=True).start()
        self.keeper.start()
        self.log.info("started", interval_seconds=interval, idle=idle, tracker_max_lag_seconds=self.keeper.lag)
        try:
            self.scheduler.start()
            with self.batch_lock:  # let the batch in flight finish its current message
                pass
        finally:
            self.keeper.stop()  # and the tracker catch up with it
        self.log.info("stopped")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
