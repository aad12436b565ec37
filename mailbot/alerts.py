"""Alerts: conditions that need a person, told by mail once, with a "resolved" mail when they clear.

After every batch (and when a batch fails) `review` looks at each condition. A condition that has
lasted its threshold opens: one mail (Vietnamese and English, never any submission content) to each
address in `[alerts] to`, through the same outbox as replies (committed first, a deterministic
Message-ID, sent after). It is mailed again only when what it says changed and `min_interval_minutes`
passed; when it clears, a "resolved" mail follows. Events (a recreated mailbox folder) open once and
close by themselves after the interval. `mailbot status` reads the same rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import Protocol

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.adapters.sqlite_state import AlertRecord, now_utc
from mailbot.bootstrap import App
from mailbot.config import Settings
from mailbot.errors import ServiceUnavailable
from mailbot.logs import get_logger
from mailbot.replies import date_header, encoded_subject
from mailbot.validation.schema import Rules


class Teller(Protocol):
    """What telling needs: the ledger (conditions, outbox), the settings (who, when) and the call's name.
    The App is one; `mailbot backup`, which runs beside the App, makes a `LedgerTeller`."""

    @property
    def ledger(self) -> SqliteLedger: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def rules(self) -> Rules: ...


@dataclass(frozen=True)
class LedgerTeller:
    ledger: SqliteLedger
    settings: Settings
    rules: Rules


@dataclass(frozen=True)
class Condition:
    vi: str
    en: str
    advice_vi: str
    advice_en: str
    event: bool = False


CONDITIONS: dict[str, Condition] = {
    "mailbox_unreachable": Condition(
        "Không kết nối được hộp thư",
        "The mailbox cannot be reached",
        "mailbot không đọc được thư mới. Kiểm tra máy chủ IMAP, mạng và chứng chỉ TLS.",
        "No new mail is being read. Check the IMAP server, the network and its TLS certificate.",
    ),
    "mailbox_login_refused": Condition(
        "Hộp thư từ chối đăng nhập",
        "The mailbox refused the login",
        "Kiểm tra mật khẩu hoặc bí mật OAuth của hộp thư (có thể đã hết hạn).",
        "Check the mailbox password or OAuth client secret (it may have expired).",
    ),
    "smtp_login_refused": Condition(
        "Máy chủ gửi thư từ chối đăng nhập",
        "The SMTP server refused the login",
        "Thư trả lời đang chờ. Kiểm tra mật khẩu hoặc bí mật OAuth của máy chủ gửi thư.",
        "Replies are waiting. Check the SMTP password or OAuth client secret.",
    ),
    "smtp_unreachable": Condition(
        "Thư trả lời đang chờ: không kết nối được máy chủ gửi thư",
        "Replies are waiting: the SMTP server cannot be reached",
        "Thư trả lời được giữ lại và sẽ gửi khi máy chủ hoạt động trở lại.",
        "Replies are kept and will be sent when the server is back.",
    ),
    "message_failed": Condition(
        "Có thư không xử lý được",
        "A message could not be processed",
        "Thư đã được chuyển vào thư mục cách ly và vẫn lưu trong kho. Sau khi khắc phục,"
        " chạy `mailbot reprocess --failed`.",
        "The message was moved to quarantine and is kept in the archive. After a fix, run"
        " `mailbot reprocess --failed`.",
    ),
    "replies_failed": Condition(
        "Thư trả lời bị từ chối vĩnh viễn",
        "Replies are refused for good",
        "Xem cột trạng thái gửi trong bảng theo dõi (Nhật ký) và nhật ký của mailbot.",
        "See the reply state in the tracker's log sheet and mailbot's logs.",
    ),
    "bounces": Condition(
        "Nhiều thư trả lời bị trả lại",
        "Many replies bounced",
        "Nhiều thư trả lời không đến được người nhận trong một giờ qua.",
        "Many replies could not be delivered within the last hour.",
    ),
    "tracker_locked": Condition(
        "Không cập nhật được bảng theo dõi",
        "The tracker workbook cannot be updated",
        "Có thể tệp đang mở trong Excel; bản mới được ghi vào tệp .pending.xlsx bên cạnh.",
        "It may be open in Excel; the new version is written to the .pending.xlsx file beside it.",
    ),
    "disk_low": Condition(
        "Sắp hết dung lượng đĩa",
        "Free disk space is low",
        "Giải phóng dung lượng trong thư mục lưu trữ của mailbot.",
        "Free some space in mailbot's storage folder.",
    ),
    "uidvalidity_changed": Condition(
        "Thư mục hộp thư đã được tạo lại (UIDVALIDITY thay đổi)",
        "The mailbox folder was recreated (UIDVALIDITY changed)",
        "Thư đã xử lý được nhận ra theo Message-ID và SHA-256 và không được trả lời lại.",
        "Messages already handled are recognised by Message-ID and SHA-256 and not answered again.",
        event=True,
    ),
    "receipt_unavailable": Condition(
        "Không tạo được phiếu tiếp nhận (PDF)",
        "The receipt PDF cannot be made",
        "Thư xác nhận vẫn được gửi nhưng không kèm phiếu tiếp nhận. Cài phông chữ có dấu tiếng Việt"
        " (gói fonts-dejavu-core) hoặc khai báo [replies] receipt_font.",
        "Acknowledgements still go, without the receipt. Install a font with Vietnamese glyphs"
        " (Debian package fonts-dejavu-core) or set [replies] receipt_font.",
        event=True,
    ),
    "backup_failed": Condition(
        "Sao lưu sổ cái thất bại",
        "The ledger backup failed",
        "Kiểm tra thư mục đích của `mailbot backup` và dung lượng đĩa.",
        "Check the destination of `mailbot backup` and its free space.",
    ),
    "batch_failed": Condition(
        "Một lượt xử lý thư thất bại",
        "A batch of mail failed",
        "mailbot sẽ thử lại ở lượt sau; xem nhật ký của mailbot.",
        "mailbot tries again at the next batch; see its logs.",
    ),
}


def review(app: App, *, failure: BaseException | None = None, tracker_ok: bool = True) -> bool:
    """Look at every condition after a batch, or after its failure; True when an alert mail was queued."""
    from mailbot.adapters.oauth2 import AuthError

    ledger, settings, queued = app.ledger, app.settings.alerts, False
    states: dict[str, tuple[bool, str, int]] = {"disk_low": _disk(app)}
    if failure is not None:
        detail = f"{type(failure).__name__}: {failure}"[:300]
        if isinstance(failure, AuthError):
            states["mailbox_login_refused"] = (True, detail, 0)
            states["mailbox_unreachable"] = (False, "", 0)
        elif isinstance(failure, ServiceUnavailable):
            states["mailbox_unreachable"] = (True, detail, settings.mailbox_minutes)
        else:
            states["batch_failed"] = (True, detail, 0)
    else:
        states.update(_after_batch(app, tracker_ok))
    with ledger.transaction():
        for condition, (active, detail, after) in states.items():
            queued |= observe(app, condition, active, detail, after_minutes=after)
        queued |= _close_events(app)
    return queued


def _after_batch(app: App, tracker_ok: bool) -> dict[str, tuple[bool, str, int]]:
    ledger, settings = app.ledger, app.settings.alerts
    hour_ago = now_utc() - dt.timedelta(hours=1)
    failed = ledger.count_messages("failed")
    refused = ledger.replies_failed_since(hour_ago, bounced=False)
    bounced = ledger.replies_failed_since(hour_ago, bounced=True)
    first_refusal = next((r["error"] for r in ledger.failed_replies(1)), "") if refused else ""
    return {
        "mailbox_unreachable": (False, "", 0),
        "mailbox_login_refused": (False, "", 0),
        "batch_failed": (False, "", 0),
        "smtp_login_refused": (app.sender_login_refused, "SMTP login refused", 0),
        "smtp_unreachable": (app.sender_down, f"{app.replies_deferred} thư chờ / waiting", settings.smtp_minutes),
        "message_failed": (failed > 0, f"{failed} thư lỗi / failed: {_error_ids(app)}", 0),
        "replies_failed": (refused > 0, f"{refused} trong 1 giờ / in 1 hour; {first_refusal[:160]}", 0),
        "bounces": (bounced > settings.bounces_per_hour, f"{bounced} trong 1 giờ / in 1 hour", 0),
        "tracker_locked": (not tracker_ok, str(app.settings.storage.tracker), settings.tracker_minutes),
    }


def _error_ids(app: App) -> str:
    rows = app.ledger.db.execute(
        "SELECT error_id, reason FROM messages WHERE action = 'failed' ORDER BY id DESC LIMIT 5"
    ).fetchall()
    return ", ".join(f"{r[0]} ({str(r[1] or '').partition(':')[0]})" for r in rows)


def _disk(app: App) -> tuple[bool, str, int]:
    try:
        free_mb = shutil.disk_usage(app.settings.storage.dir).free // 1_000_000
    except OSError:
        return False, "", 0
    return free_mb < app.settings.alerts.min_free_disk_mb, f"{free_mb} MB", 0


def event(app: Teller, condition: str, detail: str) -> None:
    """Something that happened once (call inside a transaction): mailed now unless already open."""
    record = app.ledger.alert(condition)
    if record is None or record.state == "resolved":
        observe(app, condition, True, detail)


def observe(app: Teller, condition: str, active: bool, detail: str, *, after_minutes: int = 0) -> bool:
    """Move one condition on (call inside a transaction); True when a mail was queued."""
    ledger, now = app.ledger, now_utc()
    record = ledger.alert(condition)
    if not active:
        if record is None or record.state == "resolved":
            return False
        ledger.save_alert(condition, state="resolved", detail=record.detail, since=record.since, now=now)
        if record.state != "open" or CONDITIONS[condition].event:
            return False
        return _mail(app, condition, "resolved", record.detail, record)
    if record is None or record.state == "resolved":
        ledger.save_alert(condition, state="active", detail=detail, since=now, now=now)
        record = ledger.alert(condition)
        assert record is not None
    lasted = now - record.since >= dt.timedelta(minutes=after_minutes)
    interval = dt.timedelta(minutes=app.settings.alerts.min_interval_minutes)
    again = record.state == "open" and detail != record.detail and (now - (record.mailed_at or now)) >= interval
    if (record.state == "active" and lasted) or again:
        ledger.save_alert(condition, state="open", detail=detail, since=record.since, now=now, mailed=True)
        return _mail(app, condition, "alert", detail, record)
    return False


def _close_events(app: Teller) -> bool:
    interval = dt.timedelta(minutes=app.settings.alerts.min_interval_minutes)
    for name, condition in CONDITIONS.items():
        record = app.ledger.alert(name)
        if condition.event and record is not None and record.state == "open" and now_utc() - record.since >= interval:
            observe(app, name, False, "")
    return False


def _mail(app: Teller, condition: str, kind: str, detail: str, record: AlertRecord) -> bool:
    """One alert (or resolved) mail per admin, committed to the outbox with a deterministic Message-ID."""
    recipients = app.settings.alerts.to
    get_logger().warning("alert", condition=condition, kind=kind, detail=detail, recipients=len(recipients))
    for recipient in recipients:
        key = f"{condition}|{kind}|{record.mails}|{record.since.isoformat()}|{recipient}"
        reply_id = f"<mailbot.alert.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{app.settings.sender_domain}>"
        raw = alert_message(app, condition, kind, detail, record.since, recipient, reply_id)
        app.ledger.queue_reply(
            message_row=None, submission_id=None, reply_id=reply_id, recipient=recipient, raw=raw, kind="alert"
        )
    return bool(recipients)


def alert_message(
    app: Teller, condition: str, kind: str, detail: str, since: dt.datetime, recipient: str, message_id: str
) -> bytes:
    what = CONDITIONS[condition]
    resolved = kind == "resolved"
    head_vi, head_en = ("Đã khắc phục", "Resolved") if resolved else ("Cảnh báo", "Alert")
    call = app.rules.call.id
    vn = since.astimezone(dt.timezone(dt.timedelta(hours=7))).strftime("%d/%m/%Y %H:%M")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = app.settings.smtp.sender
    msg["To"] = recipient
    msg["Subject"] = encoded_subject(f"[mailbot {call}] {head_vi}: {what.vi} / {head_en}: {what.en}")
    msg["Date"] = date_header(now_utc())
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailbot-Loop"] = app.settings.sender_domain
    msg["X-Mailbot-Alert"] = f"{condition}; {kind}"
    state_vi = "đã được khắc phục." if resolved else "cần người xử lý."
    state_en = "has cleared." if resolved else "needs a person."
    body = [
        f"{what.vi} — {state_vi}",
        f"Từ: {vn} (giờ Việt Nam). Chi tiết: {detail or '—'}",
        "" if resolved else what.advice_vi,
        "",
        f"{what.en} — {state_en}",
        f"Since: {since.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M')} UTC. Detail: {detail or '—'}",
        "" if resolved else what.advice_en,
        "",
        "-- ",
        f"mailbot ({call}); `mailbot status` cho biết tình trạng hiện tại / shows the current state.",
    ]
    msg.set_content("\n".join(body), charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = "vi, en"
    return msg.as_bytes()
