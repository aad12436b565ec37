"""The officer's daily digest: once a day, exactly once (job "digest:<yyyy-mm-dd>", the Viet Nam date).

Due from `[digest] at` (Viet Nam time) on each day; a day mailbot was not running at all gets none (the next
day's says what arrived since the last one). It tells, briefly: submissions by state (and roster units by
state when there is a roster), what arrived since the last digest, what needs the officer (failed messages,
quarantined ones and notes that ask for something since the last digest, corrections waiting longer than
`waiting_days`), the days left to the deadline; the workbook is attached, or named when larger than
`max_attachment_mb`. One message per address of `[digest] to`, all in the one job.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from mailbot.adapters.sqlite_state import parse_utc, utc_text
from mailbot.alerts import Teller
from mailbot.bootstrap import App
from mailbot.errors import ReplyBuildError
from mailbot.faults import checkpoint
from mailbot.logs import get_logger
from mailbot.officer.matching import OUTSIDE_LABEL, STATE_LABELS, match
from mailbot.officer.notices import (
    Notice,
    build_notice,
    job_done,
    last_job,
    local_moment,
    notice_id,
    record_job,
    vn_date,
    vn_text,
)
from mailbot.officer.roster import Roster
from mailbot.readmodel import submission_views
from mailbot.replies import one_line, vn_time

PREFIX = "digest:"
ARRIVED_LINES = 30  # messages listed by name; the rest counted
STATUS_LABELS = {
    (0, "accepted"): "Đã tiếp nhận",
    (0, "needs_correction"): "Cần chỉnh sửa",
    (1, "accepted"): "Nộp muộn",
    (1, "needs_correction"): "Nộp muộn – cần chỉnh sửa",
}
ACTION_LABELS = {
    "acknowledged": "Đã gửi xác nhận",
    "correction_sent": "Đã yêu cầu chỉnh sửa",
    "ignored": "Bỏ qua (thư tự động)",
    "duplicate": "Trùng lặp",
    "quarantined": "Cách ly",
    "rate_limited": "Vượt giới hạn gửi",
    "noted": "Ghi nhận lời nhắn",
    "failed": "Lỗi xử lý (đã cách ly)",
}


def digest_key(now: dt.datetime) -> str:
    return f"{PREFIX}{vn_date(now).isoformat()}"


def due_digest(source: Teller, now: dt.datetime) -> str | None:
    """Today's job key when the digest is due at `now` and not yet sent; None otherwise."""
    settings = source.settings.digest
    if not settings.to or now < local_moment(vn_date(now), settings.at):
        return None
    key = digest_key(now)
    return None if job_done(source.ledger, key) else key


def queue_due(app: App, now: dt.datetime) -> int:
    """Queue today's digest when it is due (one transaction: the job and a mail per address); how many mails."""
    key = due_digest(app, now)
    if key is None:
        return 0
    context = digest_context(app, app.roster, now)
    attachments = _attachment(app, context)
    text, html = render(app, context)
    mails, refused = [], []
    for recipient in app.settings.digest.to:
        reply_id = notice_id(key, recipient, app.settings.sender_domain)
        try:
            raw = build_notice(
                Notice(recipient, context["subject"], text, html, attachments),
                sender=app.settings.smtp.sender,
                message_id=reply_id,
                job_key=key,
                date=now,
                loop_domain=app.settings.sender_domain,
            )
        except ReplyBuildError as exc:
            refused.append(f"{recipient}: {exc}")
            continue
        mails.append((reply_id, recipient, raw))
    detail = f"Bản tin hằng ngày {context['today']}"
    if refused:
        detail += f"; không gửi được: {'; '.join(refused)}"[:300]
    with app.ledger.transaction():
        record_job(app.ledger, key, kind="digest", now=now, detail=detail, mails=mails)
    checkpoint("notice_committed")
    get_logger().info("digest_queued", key=key, recipients=len(mails), attached=bool(attachments))
    return len(mails)


def render(app: App, context: dict[str, Any]) -> tuple[str, str]:
    env = app.renderer.env
    return env.get_template("digest.txt.j2").render(context), env.get_template("digest.html.j2").render(context)


# ---------------------------------------------------------------- what it says


def digest_context(source: Teller, roster: Roster | None, now: dt.datetime) -> dict[str, Any]:
    """Every value the digest templates show, already formatted."""
    call, settings = source.rules.call, source.settings
    previous = last_job(source.ledger, PREFIX)
    since = previous[1] if previous else now - dt.timedelta(days=1)
    counts = _status_counts(source)
    arrived = _arrived(source, since, now)
    days_left = (vn_date(call.deadline) - vn_date(now)).days
    context: dict[str, Any] = {
        "call": {"id": call.id, "title": call.title, "plan_year": call.plan_year},
        "today": vn_date(now).strftime("%d/%m/%Y"),
        "generated": vn_text(now),
        "at": settings.digest.at,
        "deadline": vn_time(call.deadline),
        "days_left": days_left,
        "since": vn_text(since),
        "counts": [{"label": label, "n": n} for label, n in counts.items()],
        "submissions_total": sum(counts.values()),
        "arrived": arrived[:ARRIVED_LINES],
        "arrived_total": len(arrived),
        "arrived_more": max(0, len(arrived) - ARRIVED_LINES),
        "failed": _messages(source, "action = 'failed'", ()),
        "quarantined": _messages(source, "action = 'quarantined' AND received_at > ?", (utc_text(since),)),
        "asks": _asks(source, since),
        "waiting_days": settings.digest.waiting_days,
        "waiting": _waiting(source, now),
    } | _roster_counts(source, roster)
    needs = len(context["failed"]) + len(context["quarantined"]) + len(context["asks"]) + len(context["waiting"])
    left = f"còn {days_left} ngày" if days_left >= 0 else f"quá hạn {-days_left} ngày"
    context["subject"] = (
        f"[mailbot {call.id}] Bản tin ngày {context['today']}: {context['submissions_total']} hồ sơ,"
        f" {len(arrived)} thư mới, {needs} việc cần xử lý, {left}"
    )
    return context


def _status_counts(source: Teller) -> dict[str, int]:
    rows = source.ledger.db.execute(
        "SELECT v.late, v.status, COUNT(*) FROM versions v"
        " WHERE v.version = (SELECT MAX(version) FROM versions WHERE submission_id = v.submission_id)"
        " GROUP BY v.late, v.status"
    ).fetchall()
    counts = dict.fromkeys(STATUS_LABELS.values(), 0)
    for late, status, n in rows:
        label = STATUS_LABELS.get((int(bool(late)), str(status)), str(status))
        counts[label] = counts.get(label, 0) + int(n)
    return counts


def _roster_counts(source: Teller, roster: Roster | None) -> dict[str, Any]:
    if roster is None:
        return {"roster": [], "roster_total": 0}
    state = match(roster, submission_views(source.ledger))
    rows = [{"label": STATE_LABELS[name], "n": n} for name, n in state.counts().items()]
    rows.append({"label": OUTSIDE_LABEL, "n": len(state.outside)})
    if state.ambiguous:
        rows.append({"label": "Chưa rõ đơn vị", "n": len(state.ambiguous)})
    return {"roster": rows, "roster_total": len(state.units)}


def _arrived(source: Teller, since: dt.datetime, now: dt.datetime) -> list[dict[str, Any]]:
    rows = source.ledger.db.execute(
        "SELECT m.received_at, m.sender, m.action, s.receipt FROM messages m"
        " LEFT JOIN submissions s ON s.id = m.submission_id WHERE m.received_at > ? AND m.received_at <= ?"
        " ORDER BY m.received_at, m.id",
        (utc_text(since), utc_text(now)),
    ).fetchall()
    return [
        {
            "when": vn_text(parse_utc(r[0])),
            "sender": one_line(r[1]) or "(không rõ người gửi)",
            "action": ACTION_LABELS.get(r[2], r[2]),
            "receipt": r[3],
        }
        for r in rows
    ]


def _messages(source: Teller, where: str, args: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = source.ledger.db.execute(
        f"SELECT received_at, sender, subject, error_id, reason FROM messages WHERE {where} ORDER BY received_at, id",
        args,
    ).fetchall()
    return [
        {
            "when": vn_text(parse_utc(r[0])),
            "sender": one_line(r[1]) or "(không rõ người gửi)",
            "subject": one_line(r[2], 80) or "(không có tiêu đề)",
            "error_id": r[3] or "—",
            "reason": one_line(r[4], 160) or "—",
        }
        for r in rows
    ]


def _asks(source: Teller, since: dt.datetime) -> list[dict[str, Any]]:
    rows = source.ledger.db.execute(
        "SELECT s.receipt, v.organization, v.note FROM versions v JOIN submissions s ON s.id = v.submission_id"
        " WHERE v.note_asks = 1 AND v.received_at > ? ORDER BY v.received_at, v.id",
        (utc_text(since),),
    ).fetchall()
    return [{"receipt": r[0], "organization": one_line(r[1]) or "—", "note": one_line(r[2], 300)} for r in rows]


def _waiting(source: Teller, now: dt.datetime) -> list[dict[str, Any]]:
    days = source.settings.digest.waiting_days
    rows = source.ledger.db.execute(
        "SELECT s.receipt, v.organization, v.received_at FROM versions v JOIN submissions s ON s.id = v.submission_id"
        " WHERE v.status = 'needs_correction' AND v.received_at <= ?"
        " AND v.version = (SELECT MAX(version) FROM versions WHERE submission_id = v.submission_id)"
        " ORDER BY v.received_at",
        (utc_text(now - dt.timedelta(days=days)),),
    ).fetchall()
    return [
        {
            "receipt": r[0],
            "organization": one_line(r[1]) or "—",
            "days": (vn_date(now) - vn_date(parse_utc(r[2]))).days,
            "since": vn_text(parse_utc(r[2]))[:10],
        }
        for r in rows
    ]


def _attachment(app: App, context: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The workbook as an attachment, or a note in `context` saying why not."""
    path: Path = app.settings.storage.tracker
    limit = app.settings.digest.max_attachment_mb
    context["attachment"] = None
    try:
        size = path.stat().st_size
    except OSError:
        context["attachment_note"] = "Chưa có bảng theo dõi (chưa xử lý lượt thư nào)."
        return []
    if size > limit * 1_000_000:
        context["attachment_note"] = (
            f"Bảng theo dõi ({size / 1_000_000:.1f} MB) lớn hơn giới hạn đính kèm {limit:g} MB nên không được"
            f" đính kèm; mở tệp tại: {path}"
        )
        return []
    try:
        data = path.read_bytes()
    except OSError as exc:
        context["attachment_note"] = f"Không đọc được bảng theo dõi ({exc.strerror}); mở tệp tại: {path}"
        return []
    context["attachment"] = {"name": path.name, "size": f"{size / 1000:.0f} kB"}
    return [(path.name, data), *_compiled(path.parent, limit * 1_000_000 - size, context)]


def _compiled(folder: Path, room: float, context: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The compiled plan (.xlsx) beside the workbook, when it fits in what is left of the size limit."""
    context["compiled"] = None
    plans = sorted(folder.glob("tong-hop-de-xuat-nhiem-vu-*.xlsx"))
    if not plans:
        return []
    try:
        data = plans[-1].read_bytes()
    except OSError:
        return []
    if len(data) > room:
        return []
    context["compiled"] = {"name": plans[-1].name, "size": f"{len(data) / 1000:.0f} kB"}
    return [(plans[-1].name, data)]
