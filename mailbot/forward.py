"""A message whose words ask the officer for something, forwarded to `[officer] email` once.

Queued in the outbox as kind 'forward' inside the message's transaction, under a Message-ID derived from
the message (the same message never gets a second forward, even after a crash); the original goes with it
as message/rfc822. It is never an answer to the submitter: it goes only to the officer.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from email.message import EmailMessage

from mailbot.bootstrap import App
from mailbot.logs import get_logger
from mailbot.model import Inbound
from mailbot.replies import date_header, encoded_subject, reply_message_id


def forward_id(inbound: Inbound, domain: str) -> str:
    base = reply_message_id(inbound, domain)
    digest = hashlib.sha256(f"{base}|forward".encode()).hexdigest()[:32]
    return f"<mailbot.fwd.{digest}@{base.rpartition('@')[2]}"


def forward_to_officer(app: App, inbound: Inbound, row: int, receipt: str | None, note: str) -> None:
    """Queue the forward; a forward that cannot be built is logged and skipped (the message goes on)."""
    officer = app.settings.officer.email
    if not officer:
        return
    message_id = forward_id(inbound, app.settings.sender_domain)
    if app.ledger.outbox_has(message_id):
        return  # already forwarded (a message run again by `reprocess`)
    try:
        raw = forward_message(app.settings.smtp.sender, officer, inbound, receipt, note, message_id)
    except Exception as exc:  # a header the mail library refuses: the officer still sees the note in the workbook
        get_logger().warning("forward_not_built", error=f"{type(exc).__name__}: {exc}")
        return
    app.ledger.queue_reply(
        message_row=row, submission_id=None, reply_id=message_id, recipient=officer, raw=raw, kind="forward"
    )


def forward_text(inbound: Inbound, receipt: str | None, note: str) -> str:
    who = f"{inbound.from_name} <{inbound.from_addr}>" if inbound.from_name else str(inbound.from_addr or "?")
    lines = [
        "Thư dưới đây có lời nhắn cần cán bộ xem xét, trả lời (hệ thống không tự trả lời lời nhắn).",
        "",
        f"Người gửi: {who}",
        f"Tiêu đề: {inbound.subject}",
        f"Số tiếp nhận: {receipt or 'chưa có'}",
        "",
        "Lời nhắn:",
        note,
        "",
        "Thư gốc được đính kèm.",
    ]
    return "\n".join(lines)


def forward_message(sender: str, officer: str, inbound: Inbound, receipt: str | None, note: str, mid: str) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = officer
    tag = f"[{receipt}] " if receipt else ""
    msg["Subject"] = encoded_subject(f"[Lời nhắn cần xử lý] {tag}{inbound.subject}")
    msg["Date"] = date_header()
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailbot-Loop"] = sender.rpartition("@")[2].strip("> ").lower()
    msg.set_content(forward_text(inbound, receipt, note), charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = "vi"
    alone = msg.as_bytes()  # the forward without the original, should the original not serialise
    try:
        original = email.message_from_bytes(inbound.raw, policy=email.policy.SMTP)
        msg.add_attachment(original)
        del msg["Content-Language"]
        msg["Content-Language"] = "vi"  # add_attachment moved it into the text part
        return msg.as_bytes()
    except Exception:  # an original the mail library cannot write back: send the quoted note alone
        return alone
