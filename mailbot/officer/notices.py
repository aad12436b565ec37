"""Mail of mailbot's own making (reminders, the daily digest): done exactly once, sent through the outbox.

A job has a key ("reminder:before-7:VDM", "digest:2023-04-23"). It is inserted in the ledger's `jobs` table in
the same transaction as its outbox rows, whose Message-IDs are derived from the key: a crash after the commit
sends the same message again under the same id (a file outbox rewrites the same file), never a second one,
and a restart finds the key and does not do the job again. Whether a job is due is asked of a clock passed
down (`now`), so tests and `--at` can say what time it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from pathlib import Path

from mailbot import addresses
from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.adapters.sqlite_state import parse_utc, utc_text
from mailbot.errors import ReplyBuildError
from mailbot.replies import MIME_TYPES, VIETNAM, clean_header, date_header, encoded_subject

JOB_HEADER = "X-Mailbot-Job"


@dataclass(frozen=True)
class Notice:
    """One message of a job, to one recipient."""

    recipient: str
    subject: str
    text: str
    html: str
    attachments: Sequence[tuple[str, bytes]] = ()


# ---------------------------------------------------------------- the clock, in Viet Nam time


def vn_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(VIETNAM).date()


def local_moment(day: dt.date, at: str) -> dt.datetime:
    """`at` ("08:00") on `day`, Viet Nam time."""
    hours, _, minutes = at.partition(":")
    return dt.datetime.combine(day, dt.time(int(hours), int(minutes)), tzinfo=VIETNAM)


def vn_text(moment: dt.datetime) -> str:
    """ "23/04/2023 08:00" in Viet Nam time."""
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


# ---------------------------------------------------------------- the jobs table


def job_done(ledger: SqliteLedger, key: str) -> bool:
    return ledger.db.execute("SELECT 1 FROM jobs WHERE key = ?", (key,)).fetchone() is not None


def last_job(ledger: SqliteLedger, prefix: str) -> tuple[str, dt.datetime] | None:
    """The latest job whose key starts with `prefix` (by when it was done), with that moment."""
    row = ledger.db.execute(
        "SELECT key, done_at FROM jobs WHERE substr(key, 1, ?) = ? ORDER BY done_at DESC, key DESC LIMIT 1",
        (len(prefix), prefix),
    ).fetchone()
    return (str(row[0]), parse_utc(row[1])) if row else None


def notice_id(key: str, recipient: str, domain: str) -> str:
    """The Message-ID of one job's message to one recipient: the same key and recipient, the same id."""
    digest = hashlib.sha256(f"{key}\n{recipient.casefold()}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
    host = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"
    return f"<mailbot.job.{digest}@{host}>"


def record_job(
    ledger: SqliteLedger,
    key: str,
    *,
    kind: str,
    now: dt.datetime,
    detail: str,
    mails: Sequence[tuple[str, str, bytes]],
    submission_id: int | None = None,
) -> None:
    """The job done and its mails (reply id, recipient, bytes) queued: call inside one transaction."""
    for reply_id, recipient, raw in mails:
        ledger.queue_reply(
            message_row=None, submission_id=submission_id, reply_id=reply_id, recipient=recipient, raw=raw, kind=kind
        )
    first = mails[0][0] if mails else None
    ledger.db.execute(
        "INSERT INTO jobs (key, done_at, outbox_id, detail)"
        " VALUES (?, ?, (SELECT id FROM outbox WHERE reply_id = ?), ?)",
        (key, utc_text(now), first, detail),
    )


def queued_since(ledger: SqliteLedger, kind: str, since: dt.datetime) -> int:
    """Mails of one kind put in the outbox since `since` (the outbox's own, real, clock)."""
    row = ledger.db.execute("SELECT COUNT(*) FROM outbox WHERE kind = ? AND created_at >= ?", (kind, utc_text(since)))
    return int(row.fetchone()[0])


# ---------------------------------------------------------------- the message


def build_notice(
    notice: Notice, *, sender: str, message_id: str, job_key: str, date: dt.datetime, loop_domain: str
) -> bytes:
    """The message as bytes for SMTP: one recipient, marked auto-generated (RFC 3834), never answered by robots.

    ReplyBuildError when the recipient is not one usable address or the message cannot be encoded."""
    try:
        sender_name, sender_address = addresses.parse_mailbox(sender)
        _, to = addresses.parse_mailbox(notice.recipient)
        utf8 = addresses.needs_smtputf8(to) or addresses.needs_smtputf8(sender_address)
        msg = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
        msg["From"] = addresses.mailbox_header("From", clean_header(sender_name), sender_address, utf8=utf8)
        msg["To"] = addresses.mailbox_header("To", "", to, utf8=utf8)
        msg["Subject"] = encoded_subject(notice.subject, utf8=utf8)
        msg["Date"] = date_header(date)
        msg["Message-ID"] = message_id
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Mailbot-Loop"] = loop_domain
        msg[JOB_HEADER] = clean_header(job_key)
        msg.set_content(notice.text, charset="utf-8", cte="quoted-printable")
        msg.add_alternative(notice.html, subtype="html", charset="utf-8", cte="quoted-printable")
        for name, data in notice.attachments:
            mime = MIME_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
            maintype, _, subtype = mime.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=clean_header(name))
        msg["Content-Language"] = "vi"  # after the parts: set_content and add_attachment move Content-* fields
        return msg.as_bytes()
    except addresses.AddressError as exc:
        raise ReplyBuildError(f"the address cannot be used: {exc}") from exc
    except (UnicodeError, ValueError) as exc:
        raise ReplyBuildError(f"the message cannot be encoded: {exc}") from exc
