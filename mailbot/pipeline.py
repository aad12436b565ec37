"""process_batch(): the whole way of each message, and nothing else.

    fetch ─► archive raw ─► ledger (seen? duplicate?) ─► classify ─► extract ─► validate
          ─► render reply ─► commit (message + version + outbox) ─► send ─► mark sent ─► mark done

A crash anywhere leaves the message either untouched in the inbox or recorded in the ledger; the
next run recognises it by its mailbox key (or Message-ID / SHA-256) and finishes the job.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailbot.adapters.sqlite_ledger import SubmissionRecord, now_utc
from mailbot.bootstrap import App
from mailbot.faults import checkpoint
from mailbot.intake import classify, extract_attachments, parse_message
from mailbot.intake.bounce import quoted_reply_ids
from mailbot.logs import get_logger
from mailbot.model import Finding, Inbound, ReadResult, ValidationResult
from mailbot.ports import Fetched, SendError
from mailbot.readers import read_file
from mailbot.readmodel import tracker_data
from mailbot.replies import ReplyContent, ReplyKind, build_reply, choose_recipient, reply_message_id
from mailbot.validation.validate import validate_reads


@dataclass
class BatchReport:
    processed: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    tracker: str | None = None


@dataclass
class Decision:
    """What one message became, before it is committed."""

    action: str
    reason: str | None = None
    reply: ReplyKind | None = None
    quarantine: bool = False
    result: ValidationResult | None = None
    late: bool = False
    files: list[dict[str, str]] = field(default_factory=list)  # archived attachments: name, sha256


def process_batch(app: App, stop: Callable[[], bool] = lambda: False) -> BatchReport:
    """Finish interrupted replies, process every waiting message, then rebuild the tracker."""
    report = BatchReport()
    app.sender_down = False
    with app.ledger.transaction():
        app.ledger.interrupted_to_uncertain()
    send_replies(app)
    for key in app.mailbox.list_new():
        if stop():
            break
        action = process_one(app, key)
        if action:
            report.processed += 1
            report.actions[action] = report.actions.get(action, 0) + 1
    report.tracker = rebuild_tracker(app)
    return report


def process_one(app: App, key: str) -> str | None:
    log = get_logger(mailbox_key=key)
    fetched = app.mailbox.fetch(key)
    if fetched is None:
        log.warning("message_vanished", note="moved or deleted by someone while mailbot worked; skipped")
        return None
    checkpoint("fetched")
    app.archive.put(fetched.raw)
    checkpoint("archived")
    known = app.ledger.message_by_key(key)
    if known is not None:
        log.info("finishing_recorded_message", action=known.action)
        _finish(app, key, known.row, quarantine=known.action == "quarantined")
        return known.action
    inbound = parse_message(fetched.raw)
    log = log.bind(message_id=inbound.message_id)
    with app.ledger.transaction():
        row, decision, receipt = _record(app, fetched, inbound)
    checkpoint("committed")
    log.info("message_processed", action=decision.action, reason=decision.reason, receipt=receipt)
    _finish(app, key, row, quarantine=decision.quarantine)
    return decision.action


def _finish(app: App, key: str, row: int, *, quarantine: bool) -> None:
    send_replies(app, row)
    app.mailbox.mark_done(key, quarantine=quarantine)
    checkpoint("moved")
    with app.ledger.transaction():
        app.ledger.mark_message_done(row)


# ---------------------------------------------------------------- deciding, inside the transaction


def _record(app: App, fetched: Fetched, inbound: Inbound) -> tuple[int, Decision, str | None]:
    decision = _decide(app, fetched, inbound)
    ledger = app.ledger
    base: dict[str, Any] = {
        "mailbox_key": fetched.key,
        "message_id": inbound.message_id,
        "sha256": inbound.sha256,
        "sender": inbound.from_addr,
        "subject": inbound.subject,
        "received_at": fetched.arrived_at,
        "action": decision.action,
        "reason": decision.reason,
    }
    row = ledger.insert_message(**base)
    submission: SubmissionRecord | None = None
    version = 0
    if decision.result is not None:
        submission = _submission_for(app, inbound, fetched.arrived_at)
        version = _add_version(app, submission, row, fetched, decision)
    if decision.reply is not None:
        _queue_reply(app, inbound, row, submission, version, fetched.arrived_at, decision)
    return row, decision, submission.receipt if submission else None


def _decide(app: App, fetched: Fetched, inbound: Inbound) -> Decision:
    ledger, settings = app.ledger, app.settings
    earlier = ledger.message_by_identity(inbound.message_id, inbound.sha256)
    if earlier is not None:
        return Decision("duplicate", f"same message as #{earlier.row} ({earlier.action})")
    own = [settings.sender_address]
    reason = classify(inbound, own_addresses=own, own_domain=settings.sender_domain)
    if reason is not None:
        bounced = _bounced_replies(app, fetched.raw, reason)
        return Decision("ignored", reason + (f"; bounce of {', '.join(bounced)}" if bounced else ""))
    if not fetched.complete or len(fetched.raw) > settings.limits.max_message_bytes:
        return _quarantine(f"message larger than {settings.limits.max_message_bytes // 1_000_000} MB", inbound)
    extraction = extract_attachments(inbound, app.extract_limits)
    if extraction.quarantine:
        return _quarantine(extraction.quarantine, inbound)
    result = validate_reads([_read(app, a.name, a.data) for a in extraction.attachments], app.rules)
    result.findings[:0] = extraction.findings
    files = [{"name": a.name, "sha256": app.archive.put(a.data)} for a in extraction.attachments]
    late = fetched.arrived_at > app.rules.call.deadline
    kind: ReplyKind = "correction" if _has_errors(result.findings) else "acknowledgement"
    if late and app.rules.call.late_policy == "reject":
        kind = "late"
    action = "correction_sent" if kind == "correction" else "acknowledged"
    decision = Decision(action, "late" if late else None, kind, result=result, late=late, files=files)
    return _limit(app, inbound, decision)


def _bounced_replies(app: App, raw: bytes, reason: str) -> list[str]:
    """A delivery report that quotes one of our replies marks that reply undeliverable."""
    if not reason.startswith(("delivery or read report", "automatic sender", "null return path", "auto-submitted")):
        return []
    ids = quoted_reply_ids(raw, app.settings.sender_domain)
    found = [i for i in sorted(ids) if app.ledger.mark_bounced(i)]
    if found:
        get_logger().warning("reply_bounced", replies=found)
    return found


def _read(app: App, name: str, data: bytes) -> ReadResult:
    """One attachment read, in the capped child process when the app has one."""
    if app.reader is not None:
        return app.reader.read(name, data)
    limits = app.rules.limits
    return read_file(name, data, max_bytes=limits.max_file_bytes, max_uncompressed=limits.max_uncompressed_bytes)


def _quarantine(reason: str, inbound: Inbound) -> Decision:
    reply: ReplyKind | None = "unreadable" if choose_recipient(inbound) else None
    return Decision("quarantined", reason, reply, quarantine=True)


def _has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def _limit(app: App, inbound: Inbound, decision: Decision) -> Decision:
    """No reply when there is no address to answer or a rate limit is reached; the submission still counts."""
    recipient = choose_recipient(inbound)
    if recipient is None:
        decision.action, decision.reason, decision.reply = "ignored", "no address to reply to", None
        return decision
    limits = app.settings.limits
    since = now_utc() - dt.timedelta(minutes=limits.rate_window_minutes)
    if app.ledger.replies_since(since, recipient) >= limits.replies_per_sender:
        decision.action, decision.reason, decision.reply = "rate_limited", f"{recipient}: per-sender limit", None
    elif app.ledger.replies_since(since) >= limits.replies_total:
        decision.action, decision.reason, decision.reply = "rate_limited", "overall reply limit", None
    if decision.action == "rate_limited":
        get_logger().warning("rate_limited", recipient=recipient, reason=decision.reason)
    return decision


def _submission_for(app: App, inbound: Inbound, at: dt.datetime) -> SubmissionRecord:
    """The submission this message continues (a reply to our reply, or its receipt tag from the same
    sender), else a new one with the next receipt number."""
    ledger, prefix = app.ledger, app.rules.call.receipt_prefix
    earlier = ledger.submission_answered_by([i for i in [inbound.in_reply_to, *inbound.references] if i])
    tag = re.search(re.escape(prefix) + r"-\d{4,}", inbound.subject)
    if earlier is None and tag and inbound.from_addr:
        earlier = ledger.submission_by_receipt(tag.group(0), inbound.from_addr)
    return earlier or ledger.new_submission(prefix, inbound.from_addr or "", at)


def _add_version(app: App, submission: SubmissionRecord, row: int, fetched: Fetched, decision: Decision) -> int:
    result = decision.result
    assert result is not None
    status = "late" if decision.late else ("needs_correction" if result.has_errors else "accepted")
    return app.ledger.add_version(
        submission,
        message_row=row,
        received_at=fetched.arrived_at,
        status=status,
        organization=result.organization,
        tasks=[t.to_dict() for t in result.tasks],
        findings=[f.to_dict() for f in result.findings],
        files=decision.files,
    )


def _queue_reply(
    app: App,
    inbound: Inbound,
    row: int,
    submission: SubmissionRecord | None,
    version: int,
    received_at: dt.datetime,
    decision: Decision,
) -> None:
    recipient = choose_recipient(inbound)
    assert recipient is not None and decision.reply is not None
    result = decision.result
    content = ReplyContent(
        kind=decision.reply,
        receipt=submission.receipt if submission else app.rules.call.receipt_prefix,
        version=version or 1,
        organization=result.organization if result else None,
        tasks=result.tasks if result else [],
        findings=result.findings if result else [],
        received_at=received_at,
        late=decision.late,
        reason=decision.reason if decision.quarantine else None,
    )
    subject, text, html = app.renderer.render(content)
    reply_id = reply_message_id(inbound, app.settings.sender_domain)
    forms = app.blank_forms if decision.reply in ("correction", "unreadable") else []
    raw = build_reply(
        inbound=inbound,
        sender=app.settings.smtp.sender,
        recipient=recipient,
        subject=subject,
        text=text,
        html=html,
        message_id=reply_id,
        attachments=forms,
    )
    app.ledger.queue_reply(
        message_row=row,
        submission_id=submission.id if submission else None,
        reply_id=reply_id,
        recipient=recipient,
        raw=raw,
    )


# ---------------------------------------------------------------- after the commit


def send_replies(app: App, message_row: int | None = None) -> None:
    """Hand queued replies to the sender: pending → sending → sent (or failed / back to pending)."""
    ledger = app.ledger
    for item in ledger.outbox_to_send(include_uncertain=app.settings.smtp.resend_uncertain, message_row=message_row):
        if app.sender_down:
            return  # unreachable a moment ago: the replies wait for the next batch, not for a timeout each
        log = get_logger(reply_id=item.reply_id, mailbox_key=item.mailbox_key)
        with ledger.transaction():
            ledger.set_outbox_state(item.id, "sending")
        checkpoint("sending")
        try:
            app.sender.send(item.reply_id, item.recipient, item.raw)
        except SendError as exc:
            with ledger.transaction():
                if exc.permanent:
                    ledger.set_outbox_state(item.id, "failed", str(exc))
                    log.error("reply_failed", error=str(exc))
                else:
                    app.sender_down = exc.server_down
                    retry_at = ledger.retry_later(item.id, str(exc))
                    log.warning("reply_deferred", error=str(exc), retry_at=retry_at.isoformat(timespec="seconds"))
            continue
        checkpoint("handed_over")
        with ledger.transaction():
            ledger.set_outbox_state(item.id, "sent")
        log.info("reply_sent", resent=item.state == "uncertain")


def rebuild_tracker(app: App) -> str | None:
    """The officer's workbook from the ledger; a failure is logged and mail processing goes on."""
    try:
        written = app.tracker.write(tracker_data(app.ledger, app.archive, app.rules))
    except OSError as exc:
        get_logger().error("tracker_not_written", error=str(exc))
        return None
    if written.pending:
        get_logger().warning("tracker_locked", pending_copy=str(written.path))
    return str(written.path)
