"""What one message becomes, decided and recorded inside its transaction.

    duplicate? ─► classify (automatic mail, bounce, list, ours) ─► size ─► extract ─► read ─► validate
              ─► a note on a submission, or a version with its reply ─► rate limits ─► render ─► record

Everything here runs inside the message's transaction: a fault raised anywhere rolls it all back,
and the boundary in pipeline.py records the message as `failed` instead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from mailbot.adapters.sqlite_ledger import SubmissionRecord
from mailbot.adapters.sqlite_state import now_utc
from mailbot.bootstrap import App
from mailbot.enclosures import enclosures
from mailbot.faults import checkpoint
from mailbot.forward import forward_to_officer
from mailbot.intake import classify, extract_attachments
from mailbot.intake.bounce import quoted_reply_ids
from mailbot.intake.certificates import trusted_certificates
from mailbot.intake.signed import is_encrypted
from mailbot.logs import get_logger
from mailbot.model import Attachment, Finding, Inbound, ReadResult, SignatureInfo, ValidationResult
from mailbot.notes import NOTE_LIMIT, asks_for_something, own_words
from mailbot.ports import Fetched
from mailbot.readers import read_file
from mailbot.replies import ReplyContent, ReplyKind, build_reply, choose_recipient, reply_message_id
from mailbot.validation.validate import validate_reads

#: What a submitter may attach beside the appendices without it counting as a new version (logos, cards, invites).
NOT_APPENDIX = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".ics", ".vcf", ".p7s", ".htm", ".html"})


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
    continues: SubmissionRecord | None = None  # the submission a note belongs to
    signature: SignatureInfo | None = None  # the message's S/MIME signature
    signed_copies: list[str] = field(default_factory=list)  # attached PDFs signed in themselves
    #: Each attachment as read, with its bytes as sent: a correction marks its own files from them.
    sources: list[tuple[ReadResult, bytes]] = field(default_factory=list)
    note: str = ""  # the sender's own words (a version's "Lời nhắn"; a noted message keeps them as its reason)

    @property
    def status(self) -> str | None:
        """accepted | needs_correction for a version (lateness is `late`, beside it); None without one."""
        if self.result is None:
            return None
        return "needs_correction" if self.result.has_errors else "accepted"

    @property
    def note_asks(self) -> bool:
        return asks_for_something(self.note)


@dataclass(frozen=True)
class Recorded:
    row: int
    decision: Decision
    receipt: str | None


def record(app: App, fetched: Fetched, inbound: Inbound, *, reply_id: str | None = None) -> Recorded:
    """Decide and write the message row, its submission version and its reply (call inside a transaction)."""
    decision = decide(app, fetched, inbound)
    row = app.ledger.insert_message(
        mailbox_key=fetched.key,
        message_id=inbound.message_id,
        sha256=inbound.sha256,
        sender=inbound.from_addr,
        subject=inbound.subject,
        received_at=fetched.arrived_at,
        action=decision.action,
        reason=decision.reason,
        submission_id=decision.continues.id if decision.continues else None,
    )
    receipt = decision.continues.receipt if decision.continues else None
    submission, version = None, 0
    if decision.result is not None:
        submission = submission_for(app, inbound, fetched.arrived_at)
        version = add_version(app, submission, row, fetched.arrived_at, decision)
        receipt = submission.receipt
    if decision.reply is not None:
        queue_reply(app, inbound, row, submission, version, fetched.arrived_at, decision, reply_id=reply_id)
    if decision.note_asks and app.settings.officer.email and decision.action not in ("ignored", "duplicate"):
        forward_to_officer(app, inbound, row, receipt, decision.note)
    checkpoint("recorded")
    return Recorded(row, decision, receipt)


def decide(
    app: App, fetched: Fetched, inbound: Inbound, *, check_duplicate: bool = True, limit: bool = True
) -> Decision:
    """What the message becomes. `reprocess` runs it again without the duplicate check and the rate limits."""
    ledger, settings = app.ledger, app.settings
    earlier = ledger.message_by_identity(inbound.message_id, inbound.sha256) if check_duplicate else None
    if earlier is not None:
        _recreated_folder(app, earlier.mailbox_key, fetched.key)
        return Decision("duplicate", f"same message as #{earlier.row} ({earlier.action})")
    own = [settings.sender_address]
    reason = classify(inbound, own_addresses=own, own_domain=settings.sender_domain)
    checkpoint("classified")
    if reason is not None:
        bounced = _bounced_replies(app, fetched.raw, reason)
        return Decision("ignored", reason + (f"; bounce of {', '.join(bounced)}" if bounced else ""))
    if not fetched.complete or len(fetched.raw) > settings.limits.max_message_bytes:
        return _quarantine(f"message larger than {settings.limits.max_message_bytes // 1_000_000} MB", inbound)
    extraction = (app.ahead and app.ahead.extraction(inbound)) or extract_attachments(
        inbound, app.extract_limits, trusted_certificates(tuple(settings.trust.ca_files))
    )
    checkpoint("extracted")
    if extraction.quarantine:
        return _quarantine(extraction.quarantine, inbound)
    encrypted = is_encrypted(extraction.findings) and not extraction.attachments  # unreadable: no note, no appendix
    note = None if encrypted else _note_on(app, inbound, extraction.attachments)
    if note is not None:
        return note
    reads = [_read(app, a.name, a.data) for a in extraction.attachments]
    result = ValidationResult(None, [], []) if encrypted else validate_reads(reads, app.rules)
    checkpoint("validated")
    result.findings[:0] = extraction.findings
    files = [{"name": a.name, "sha256": app.archive.put(a.data)} for a in extraction.attachments]
    late = fetched.arrived_at > app.rules.call.deadline
    kind: ReplyKind = "correction" if _has_errors(result.findings) else "acknowledgement"
    if late and app.rules.call.late_policy == "reject":
        kind = "late"
    action = "correction_sent" if kind == "correction" else "acknowledged"
    decision = Decision(action, "late" if late else None, kind, result=result, late=late, files=files)
    decision.note = own_words(inbound.raw, inbound.tree)
    decision.signature, decision.signed_copies = extraction.signature, extraction.signed_copies
    decision.sources = [(read, a.data) for read, a in zip(reads, extraction.attachments, strict=True)]
    if not limit:
        return decision
    return _limit(app, inbound, decision)


def _recreated_folder(app: App, earlier_key: str, key: str) -> None:
    """The same message under a new IMAP UIDVALIDITY ("validity/uid" keys): the folder was recreated."""
    before, _, _ = earlier_key.partition("/")
    now, _, uid = key.partition("/")
    if uid and before.isdigit() and now.isdigit() and before != now:
        from mailbot import alerts

        alerts.event(app, "uidvalidity_changed", f"UIDVALIDITY {before} → {now}")


def _note_on(app: App, inbound: Inbound, attachments: list[Attachment]) -> Decision | None:
    """A reply to our reply (or to its receipt) that carries no appendix is a note on that submission:
    never a new, empty version, never a correction (a thank-you, a question, a read receipt)."""
    if any(PurePath(a.name).suffix.lower() not in NOT_APPENDIX for a in attachments):
        return None
    earlier = continued_submission(app, inbound)
    if earlier is None:
        return None
    return Decision("noted", _note_text(inbound), continues=earlier, note=own_words(inbound.raw, inbound.tree))


def _note_text(inbound: Inbound) -> str:
    """The submitter's own words (quoted reply and signature cut, mailbot.notes), or the subject when none."""
    return own_words(inbound.raw, inbound.tree) or inbound.subject[:NOTE_LIMIT]


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
        result = app.reader.read(name, data)
    else:
        limits = app.rules.limits
        result = read_file(name, data, max_bytes=limits.max_file_bytes, max_uncompressed=limits.max_uncompressed_bytes)
    checkpoint("read")
    return result


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


def continued_submission(app: App, inbound: Inbound) -> SubmissionRecord | None:
    """The submission this message continues: a reply to our reply, or its receipt tag from the same sender."""
    ledger, prefix = app.ledger, app.rules.call.receipt_prefix
    earlier = ledger.submission_answered_by([i for i in [inbound.in_reply_to, *inbound.references] if i])
    tag = re.search(re.escape(prefix) + r"-\d{4,}", inbound.subject)
    if earlier is None and tag and inbound.from_addr:
        earlier = ledger.submission_by_receipt(tag.group(0), inbound.from_addr)
    return earlier


def submission_for(app: App, inbound: Inbound, at: dt.datetime) -> SubmissionRecord:
    """The submission this message continues, else a new one with the next receipt number."""
    earlier = continued_submission(app, inbound)
    return earlier or app.ledger.new_submission(app.rules.call.receipt_prefix, inbound.from_addr or "", at)


def add_version(app: App, submission: SubmissionRecord, row: int, received_at: dt.datetime, decision: Decision) -> int:
    result, status = decision.result, decision.status
    assert result is not None and status is not None
    return app.ledger.add_version(
        submission,
        message_row=row,
        received_at=received_at,
        status=status,
        late=decision.late,
        note=decision.note or None,
        note_asks=decision.note_asks,
        organization=result.organization,
        tasks=[t.to_dict() for t in result.tasks],
        findings=[f.to_dict() for f in result.findings],
        files=decision.files,
        signature=decision.signature.to_dict() if decision.signature else None,
        signed_copies=decision.signed_copies,
    )


def queue_reply(
    app: App,
    inbound: Inbound,
    row: int,
    submission: SubmissionRecord | None,
    version: int,
    received_at: dt.datetime,
    decision: Decision,
    *,
    reply_id: str | None = None,
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
    enclosed = enclosures(app, content, decision.sources, decision.files)
    content.attached = enclosed.context()
    subject, text, html = app.renderer.render(content)
    reply_id = reply_id or reply_message_id(inbound, app.settings.sender_domain)
    raw = build_reply(
        inbound=inbound,
        sender=app.settings.smtp.sender,
        recipient=recipient,
        subject=subject,
        text=text,
        html=html,
        message_id=reply_id,
        attachments=enclosed.files,
    )
    checkpoint("rendered")
    app.ledger.queue_reply(
        message_row=row,
        submission_id=submission.id if submission else None,
        reply_id=reply_id,
        recipient=recipient,
        raw=raw,
    )


def describe(decision: Decision) -> dict[str, Any]:
    """What changed for `reprocess --dry-run` and the logs: the action, the status, the number of findings."""
    result = decision.result
    return {
        "action": decision.action,
        "status": decision.status,
        "late": decision.late,
        "findings": len(result.findings) if result else 0,
    }
