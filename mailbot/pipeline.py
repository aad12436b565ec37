"""process_batch(): the whole way of each message, and nothing else.

    fetch ─► archive raw ─► ledger (seen? duplicate?) ─► decide and record (deciding.py: classify,
          extract, read, validate, render; one transaction) ─► send ─► mark sent ─► mark done

A crash anywhere leaves the message either untouched in the inbox or recorded in the ledger; the
next run recognises it by its mailbox key (or Message-ID / SHA-256) and finishes the job.

One message is one unit of failure: an unexpected exception on its way (a bug its content
triggers) records it as `failed` with an error id, moves it to quarantine, alerts the admin, and
the batch goes on. Only a server, a login or the disk being unavailable (ServiceUnavailable,
OSError, a database error) stops the batch, because then no message is to blame.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from mailbot import alerts
from mailbot.adapters.sqlite_ledger import OutboxRow
from mailbot.adapters.sqlite_state import now_utc, utc_text
from mailbot.bootstrap import App
from mailbot.deciding import record
from mailbot.dispatch import Dispatcher, Flight
from mailbot.errors import ServiceUnavailable
from mailbot.faults import checkpoint
from mailbot.intake import parse_message
from mailbot.logs import get_logger
from mailbot.model import Inbound
from mailbot.ports import Fetched, SendError
from mailbot.readahead import ReadAhead
from mailbot.tracker_keeping import rebuild_tracker

#: Exceptions that say the world is unavailable, not that a message is bad: they stop the batch.
UNAVAILABLE: tuple[type[BaseException], ...] = (ServiceUnavailable, OSError, sqlite3.Error, MemoryError)
REASON_LIMIT = 300


@dataclass
class BatchReport:
    processed: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    tracker: str | None = None
    tracker_ok: bool = True
    replies_waiting: int = 0  # replies kept for later because the mail server could not take them


def process_batch(app: App, stop: Callable[[], bool] = lambda: False, *, tracker_ok: bool | None = None) -> BatchReport:
    """Finish interrupted replies, process every waiting message, rebuild the tracker, review the alerts.

    `tracker_ok` None: rebuild the tracker now (`once`); a bool: `run`'s TrackerKeeper keeps it, off the
    reply path, and this says whether its last write reached the tracker (for the tracker_locked alert)."""
    report = BatchReport()
    app.sender_down = False
    app.replies_deferred = 0
    with app.ledger.transaction():
        app.ledger.set_meta("last_poll_at", utc_text(now_utc()))
        app.ledger.interrupted_to_uncertain()
    try:
        send_replies(app)
        keys = app.mailbox.list_new()
        _note(app, waiting=len(keys))
        app.ahead, app.dispatch = ReadAhead(app, keys), _dispatcher(app)
        for index, key in enumerate(keys):
            if stop():
                break
            app.ahead.before(index)
            action = process_one(app, key)
            if action:
                report.processed += 1
                report.actions[action] = report.actions.get(action, 0) + 1
        settle(app)  # the last reply, then its message moved
    except Exception as exc:
        _land(app)
        _after_failure(app, exc)
        raise
    finally:
        if app.ahead is not None:
            app.ahead.close()
        app.ahead, app.dispatch = None, None
    if tracker_ok is None:
        report.tracker, report.tracker_ok = rebuild_tracker(app)
    else:
        report.tracker_ok = tracker_ok
    alerts.review(app, tracker_ok=report.tracker_ok)
    send_replies(app)  # the alerts this batch raised, and nothing else unless its time has come
    report.replies_waiting = app.replies_deferred
    _note(app, last_success_at=utc_text(now_utc()), last_error="")
    return report


def _after_failure(app: App, exc: BaseException) -> None:
    """The batch stopped: say so in the ledger and to the admin if the ledger and the sender still work."""
    try:
        _note(app, last_error=f"{type(exc).__name__}: {exc}"[:REASON_LIMIT])
        if alerts.review(app, failure=exc):
            send_replies(app)
    except Exception as also:  # the ledger or the disk itself is what failed: the log is all that is left
        get_logger().error("alert_not_recorded", error=str(also)[:REASON_LIMIT])


def _note(app: App, **values: object) -> None:
    with app.ledger.transaction():
        for key, value in values.items():
            app.ledger.set_meta(key, str(value))


def process_one(app: App, key: str) -> str | None:
    """One message's whole way, inside its boundary; the action it ended with (None: vanished or done before)."""
    seen: list[Fetched | Inbound] = []
    try:
        return _process_one(app, key, seen)
    except UNAVAILABLE:
        raise
    except Exception as exc:
        return _failed(app, key, seen, exc)


def _process_one(app: App, key: str, seen: list[Fetched | Inbound]) -> str | None:
    log = get_logger(mailbox_key=key)
    fetched = app.mailbox.fetch(key)
    if fetched is None:
        log.warning("message_vanished", note="moved or deleted by someone while mailbot worked; skipped")
        return None
    seen.append(fetched)
    checkpoint("fetched")
    app.archive.put(fetched.raw)
    checkpoint("archived")
    known = app.ledger.message_by_key(key)
    if known is not None:
        if known.action == "failed":  # recorded as failed and not yet reprocessed: only moved out of the way
            app.mailbox.mark_done(key, quarantine=True)
            return None
        log.info("finishing_recorded_message", action=known.action)
        _finish(app, key, known.row, quarantine=known.action == "quarantined")
        return known.action
    inbound = (app.ahead and app.ahead.inbound(key, fetched.raw)) or parse_message(fetched.raw)
    seen.append(inbound)
    checkpoint("parsed")
    log = log.bind(message_id=inbound.message_id)
    with app.ledger.transaction():
        recorded = record(app, fetched, inbound)
    checkpoint("committed")
    decision = recorded.decision
    log.info("message_processed", action=decision.action, reason=decision.reason, receipt=recorded.receipt)
    _finish(app, key, recorded.row, quarantine=decision.quarantine)
    return decision.action


def _dispatcher(app: App) -> Dispatcher | None:
    """The app's dispatcher (made once) when its sender can send beside the mailbox's work, else None."""
    if app.dispatcher is None and Dispatcher.usable(app):
        app.dispatcher = Dispatcher()
    return app.dispatcher


def _finish(app: App, key: str, row: int, *, quarantine: bool) -> None:
    """Send the message's reply, then move the message out of the inbox and mark it done. In a batch with a
    dispatcher the reply goes on its thread, and the message is moved once it is sent (`settle`), after the
    next message was recorded."""
    dispatch = app.dispatch
    if dispatch is not None:
        settle(app)
        items = app.ledger.outbox_to_send(include_uncertain=app.settings.smtp.resend_uncertain, message_row=row)
        if items and not app.sender_down:
            _sending(app, items[0])
            dispatch.start(Flight(key, row, quarantine, items[0]), lambda: hand_over(app, items[0]))
            return
    send_replies(app, row)
    _move(app, key, row, quarantine=quarantine)


def settle(app: App) -> None:
    """Wait for the reply in flight, then move its message: that message's own step, inside its own boundary."""
    if app.dispatch is None or app.dispatch.flight is None:
        return
    flight = app.dispatch.flight
    try:
        _handed_over(app, flight.item, app.dispatch.take())
        send_replies(app, flight.row)  # anything else this message queued (a forward to the officer)
        _move(app, flight.key, flight.row, quarantine=flight.quarantine)
    except UNAVAILABLE:
        raise
    except Exception as exc:
        _failed(app, flight.key, [], exc)


def _land(app: App) -> None:
    """The batch stopped: record the outcome of the reply in flight if the ledger still can (else it stays
    `sending`, uncertain at the next start); its message stays in the inbox for the next batch to finish."""
    if app.dispatch is None or app.dispatch.flight is None:
        return
    flight = app.dispatch.flight
    try:
        _handed_over(app, flight.item, app.dispatch.take())
    except Exception as also:
        get_logger(mailbox_key=flight.key).warning("reply_outcome_not_recorded", error=str(also)[:REASON_LIMIT])


def _move(app: App, key: str, row: int, *, quarantine: bool) -> None:
    moved = app.mailbox.mark_done(key, quarantine=quarantine)
    checkpoint("moved")
    with app.ledger.transaction():
        app.ledger.mark_message_done(row, moved if moved != key else None)


def _failed(app: App, key: str, seen: list[Fetched | Inbound], exc: Exception) -> str:
    """Record the message as `failed` (error id, type and message; no locals, no content), quarantine it."""
    error_id = secrets.token_hex(4)
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:REASON_LIMIT]
    get_logger(mailbox_key=key).error("message_failed", error_id=error_id, error=reason, exc_info=exc)
    fetched = next((s for s in seen if isinstance(s, Fetched)), None)
    inbound = next((s for s in seen if isinstance(s, Inbound)), None)
    with app.ledger.transaction():
        known = app.ledger.message_by_key(key)
        if known is not None:
            app.ledger.mark_failed(known.row, error_id=error_id, reason=reason)
            app.ledger.hold_replies(known.row, f"không gửi: thư xử lý lỗi (mã {error_id})")
            row = known.row
        else:
            row = _insert_failed(app, key, fetched, inbound, error_id=error_id, reason=reason)
    try:
        app.mailbox.mark_done(key, quarantine=True)
    except Exception as move:  # it stays in the inbox, recorded as failed: later runs move it, never retry it
        get_logger(mailbox_key=key).warning("failed_message_not_moved", error=str(move)[:REASON_LIMIT])
    with app.ledger.transaction():
        app.ledger.mark_message_done(row)
    return "failed"


def _insert_failed(
    app: App, key: str, fetched: Fetched | None, inbound: Inbound | None, *, error_id: str, reason: str
) -> int:
    if inbound is None and fetched is not None:
        inbound = parse_message(fetched.raw)
    row = app.ledger.insert_message(
        mailbox_key=key,
        message_id=inbound.message_id if inbound else None,
        sha256=inbound.sha256 if inbound else "",
        sender=inbound.from_addr if inbound else None,
        subject=inbound.subject if inbound else "",
        received_at=fetched.arrived_at if fetched else now_utc(),
        action="failed",
        reason=reason,
    )
    app.ledger.set_error_id(row, error_id)
    return row


# ---------------------------------------------------------------- after the commit


def send_replies(app: App, message_row: int | None = None) -> None:
    """Hand queued mail (replies and alerts) to the sender: pending → sending → sent, failed, or pending later.

    A reply that cannot be sent for a reason of its own is `failed` with that reason; the rest go on.
    """
    ledger = app.ledger
    for item in ledger.outbox_to_send(include_uncertain=app.settings.smtp.resend_uncertain, message_row=message_row):
        if app.sender_down:
            app.replies_deferred += 1
            continue  # unreachable a moment ago: the replies wait for the next batch, not for a timeout each
        _sending(app, item)
        _handed_over(app, item, hand_over(app, item))


def _sending(app: App, item: OutboxRow) -> None:
    """`sending`, before the hand-over. Not fsynced when uncertain replies are sent again anyway: undone by a
    power loss it is `pending` again, sent again under the same Message-ID, as an `uncertain` one would be."""
    with app.ledger.transaction(durable=not app.settings.smtp.resend_uncertain):
        app.ledger.set_outbox_state(item.id, "sending")


def hand_over(app: App, item: OutboxRow) -> SendError | None:
    """The hand-over itself, without the ledger (it may run on the dispatcher's thread): None when the sender
    took it, else why not. A fault after the hand-over, or of the database or the memory, is raised."""
    try:
        checkpoint("sending")
        app.sender.send(item.reply_id, item.recipient, item.raw)
    except SendError as exc:
        return exc
    except (sqlite3.Error, MemoryError):
        raise
    except OSError as exc:  # the file outbox's disk, say: a temporary failure
        return SendError(f"{type(exc).__name__}: {exc}", permanent=False)
    except Exception as exc:  # a reply that cannot be sent for a reason of its own
        return SendError(" ".join(f"{type(exc).__name__}: {exc}".split())[:REASON_LIMIT], permanent=True)
    checkpoint("handed_over")
    return None


def _handed_over(app: App, item: OutboxRow, refused: SendError | None) -> None:
    """Record the hand-over's outcome: sent, or refused (failed, or pending later)."""
    if refused is not None:
        _send_refused(app, item.id, refused)
        return
    with app.ledger.transaction(durable=False):  # made durable by the message's `done` right after the move
        app.ledger.set_outbox_state(item.id, "sent")
    get_logger(reply_id=item.reply_id, mailbox_key=item.mailbox_key).info(
        "reply_sent", resent=item.state == "uncertain", kind=item.kind
    )


def _send_refused(app: App, outbox_id: int, exc: SendError) -> None:
    from mailbot.adapters.oauth2 import AuthError

    logger = get_logger()
    with app.ledger.transaction():
        if exc.permanent:
            app.ledger.set_outbox_state(outbox_id, "failed", str(exc))
            logger.error("reply_failed", outbox_id=outbox_id, error=str(exc))
            return
        app.sender_down = exc.server_down
        app.sender_login_refused = isinstance(exc.__cause__, AuthError)
        app.replies_deferred += 1
        retry_at = app.ledger.retry_later(outbox_id, str(exc))
    when = retry_at.isoformat(timespec="seconds")
    logger.warning("reply_deferred", outbox_id=outbox_id, error=str(exc), retry_at=when)
