"""Reminders: to roster units with no submission before the deadline, and to submitters whose correction waits.

`[reminders] before_deadline_days = [7, 2]`: on each of those days before the deadline's day, from `at`
(Viet Nam time), every roster unit with no submission (and no ambiguous one that may be theirs) is reminded
at its addresses. When several offsets have passed (mailbot was down), only the nearest one is sent: a
unit never gets two reminders at once. Nothing is sent before the first offset nor after the deadline.

`correction_after_days = 5`: a roster unit whose latest version needs correction and was not resubmitted
by `at` on the fifth day after it arrived is reminded once, at the address that sent it; a resubmission
that still needs correction is a new version, reminded again five days after it. Without a roster there
are no reminders at all (nobody is expected).

Each reminder is a job done exactly once (mailbot.officer.notices). Reminders have a limit of their own,
`max_per_hour` (not the reply limits of [limits], so a reminder round never starves the replies); those over
it wait for the next check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from mailbot.adapters.sqlite_state import now_utc
from mailbot.alerts import Teller
from mailbot.bootstrap import App
from mailbot.errors import ReplyBuildError
from mailbot.faults import checkpoint
from mailbot.logs import get_logger
from mailbot.model import SubmissionView
from mailbot.officer.matching import RosterState, match
from mailbot.officer.notices import (
    Notice,
    build_notice,
    job_done,
    local_moment,
    notice_id,
    queued_since,
    record_job,
    vn_date,
    vn_text,
)
from mailbot.officer.roster import Roster, Unit
from mailbot.readmodel import submission_views
from mailbot.replies import one_line, vn_time
from mailbot.text import fold

ReminderKind = Literal["reminder_before", "reminder_correction"]


@dataclass(frozen=True)
class Reminder:
    """One reminder due: its job key, to whom, and what it says (`detail`, Vietnamese, for the log)."""

    key: str
    kind: ReminderKind
    unit: str  # as the officer reads it: the roster's label, or the submission's organisation and receipt
    recipients: tuple[str, ...]
    detail: str
    due_at: dt.datetime
    organization: str | None = None  # named in the greeting
    days_left: int = 0
    submission: SubmissionView | None = field(default=None, compare=False)

    def line(self) -> str:
        """One line of `mailbot remind --dry-run`."""
        to = ", ".join(self.recipients) or "(không có địa chỉ thư: không gửi được)"
        return f"{self.key}\t{self.unit}\t{to}\t{self.detail}"


def due_reminders(source: Teller, roster: Roster | None, now: dt.datetime) -> list[Reminder]:
    """Every reminder due at `now` and not yet sent, in the order they would go."""
    state = match(roster, submission_views(source.ledger)) if roster is not None else None
    found = before_deadline(source, state, now) + corrections(source, state, now)
    return [r for r in found if not job_done(source.ledger, r.key)]


def current_offset(deadline: dt.datetime, offsets: list[int], at: str, now: dt.datetime) -> int | None:
    """The nearest offset (days before the deadline's day) whose moment has come; None before the first and after."""
    if now >= deadline:
        return None
    day = vn_date(deadline)
    reached = [d for d in offsets if now >= local_moment(day - dt.timedelta(days=d), at)]
    return min(reached) if reached else None


def unit_key(unit: Unit) -> str:
    """The unit in a job key: its code, else its folded name (a key survives the roster's re-ordering)."""
    return (unit.code or fold(unit.name)).replace(":", "-")


def before_deadline(source: Teller, state: RosterState | None, now: dt.datetime) -> list[Reminder]:
    settings, deadline = source.settings.reminders, source.rules.call.deadline
    offset = current_offset(deadline, settings.before_deadline_days, settings.at, now)
    if offset is None or state is None:
        return []
    due_at = local_moment(vn_date(deadline) - dt.timedelta(days=offset), settings.at)
    days_left = (vn_date(deadline) - vn_date(now)).days
    detail = f"Nhắc nộp hồ sơ ({offset} ngày trước hạn; còn {days_left} ngày)"
    return [
        Reminder(
            key=f"reminder:before-{offset}:{unit_key(unit)}",
            kind="reminder_before",
            unit=unit.label,
            recipients=unit.addresses,
            detail=detail,
            due_at=due_at,
            organization=unit.name,
            days_left=days_left,
        )
        for unit in state.not_submitted()
    ]


def corrections(source: Teller, state: RosterState | None, now: dt.datetime) -> list[Reminder]:
    settings = source.settings.reminders
    days = settings.correction_after_days
    if days == 0 or state is None:
        return []
    found = []
    for unit_state in state.units:
        view = unit_state.latest
        if view is None or not unit_state.needs_correction:
            continue
        due_at = local_moment(vn_date(view.last_received_at) + dt.timedelta(days=days), settings.at)
        if now < due_at:
            continue
        unit, waited = unit_state.unit, (vn_date(now) - vn_date(view.last_received_at)).days
        found.append(
            Reminder(
                key=f"reminder:correction:{unit_key(unit)}:{view.receipt}:v{view.version}",
                kind="reminder_correction",
                unit=f"{unit.label} ({view.receipt})",
                recipients=(view.sender,),
                detail=f"Nhắc gửi lại hồ sơ {view.receipt} lần {view.version} (chờ chỉnh sửa {waited} ngày)",
                due_at=due_at,
                organization=unit.name,
                days_left=(vn_date(source.rules.call.deadline) - vn_date(now)).days,
                submission=view,
            )
        )
    return found


# ---------------------------------------------------------------- queueing and sending


def queue_due(app: App, now: dt.datetime) -> list[Reminder]:
    """Queue every reminder due (one transaction each, within the hourly limit); the ones queued."""
    log = get_logger()
    capacity = app.settings.reminders.max_per_hour - queued_since(
        app.ledger, "reminder", now_utc() - dt.timedelta(hours=1)
    )
    queued = []
    for reminder in due_reminders(app, app.roster, now):
        if not reminder.recipients:
            continue  # a roster unit known only by its domain: shown by `remind --dry-run`, never guessed
        if len(reminder.recipients) > capacity:
            log.warning("reminders_waiting", reason="hourly limit", limit=app.settings.reminders.max_per_hour)
            break
        if _queue(app, reminder, now):
            capacity -= len(reminder.recipients)
            queued.append(reminder)
        checkpoint("notice_committed")
    return queued


def _queue(app: App, reminder: Reminder, now: dt.datetime) -> bool:
    """The reminder's job and its mails in one transaction; False when it cannot be built (recorded as such)."""
    settings = app.settings
    submission_id = _submission_id(app, reminder.submission)
    mails, errors = [], []
    for recipient in reminder.recipients:
        reply_id = notice_id(reminder.key, recipient, settings.sender_domain)
        subject, text, html = render(app, reminder, recipient, now)
        try:
            raw = build_notice(
                Notice(recipient, subject, text, html),
                sender=settings.smtp.sender,
                message_id=reply_id,
                job_key=reminder.key,
                date=now,
                loop_domain=settings.sender_domain,
            )
        except ReplyBuildError as exc:
            errors.append(f"{recipient}: {exc}")
            continue
        mails.append((reply_id, recipient, raw))
    detail = reminder.detail + (f"; không gửi được: {'; '.join(errors)}"[:300] if errors else "")
    with app.ledger.transaction():
        record_job(
            app.ledger, reminder.key, kind="reminder", now=now, detail=detail, mails=mails, submission_id=submission_id
        )
    get_logger().info("reminder_queued", key=reminder.key, recipients=len(mails), refused=len(errors))
    return bool(mails)


def _submission_id(app: App, view: SubmissionView | None) -> int | None:
    """The submission a correction reminder belongs to: an answer to the reminder is a resubmission of it."""
    if view is None:
        return None
    row = app.ledger.db.execute("SELECT id FROM submissions WHERE receipt = ?", (view.receipt,)).fetchone()
    return int(row[0]) if row else None


def subject_for(reminder: Reminder, year: int, deadline: dt.datetime) -> str:
    if reminder.kind == "reminder_correction" and reminder.submission is not None:
        view = reminder.submission
        organization = f" – {one_line(view.organization)}" if view.organization else ""
        return f"[{view.receipt}] Nhắc gửi lại hồ sơ đã chỉnh sửa – đề xuất nhiệm vụ năm {year}{organization}"
    left = f" (còn {reminder.days_left} ngày)" if reminder.days_left > 0 else " (hạn cuối hôm nay)"
    return f"Nhắc nộp hồ sơ đề xuất nhiệm vụ năm {year} – hạn {vn_text(deadline)[:10]}{left}"


def render(app: App, reminder: Reminder, recipient: str, now: dt.datetime) -> tuple[str, str, str]:
    """(subject, text, HTML) from replies/<kind>.txt.j2 and .html.j2."""
    rules, call = app.rules, app.rules.call
    subject = subject_for(reminder, call.plan_year, call.deadline)
    context: dict[str, Any] = {
        "kind": reminder.kind,
        "subject": subject,
        "organization": one_line(reminder.organization) or None,
        "recipient": recipient,
        "mailbox": app.settings.sender_address,
        "deadline": vn_time(call.deadline),
        "days_left": reminder.days_left,
        "call": {"title": call.title, "document": call.document, "plan_year": call.plan_year},
        "contact": call.contact.model_dump(),
        "documents": {"phu_luc_1": rules.documents.phu_luc_1.title, "phu_luc_2": rules.documents.phu_luc_2.title},
    }
    view = reminder.submission
    if view is not None:
        context |= {
            "receipt": view.receipt,
            "version": view.version,
            "received": vn_time(view.last_received_at),
            "days_waiting": (vn_date(now) - vn_date(view.last_received_at)).days,
            "error_count": sum(1 for f in view.findings if f.get("severity") == "error"),
        }
    env = app.renderer.env
    text = env.get_template(f"{reminder.kind}.txt.j2").render(context)
    html = env.get_template(f"{reminder.kind}.html.j2").render(context)
    return subject, text, html
