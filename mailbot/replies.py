"""The replies mailbot sends: Vietnamese text and HTML from Jinja2 templates, and the MIME message around them.

The wording lives in `replies/*.j2` (data admins edit); this module prepares the values the templates show
(already formatted the Vietnamese way and cleaned of anything that could break a line or a header) and
builds the message only through `email.message.EmailMessage`.
"""

from __future__ import annotations

import datetime as dt
import email.errors
import functools
import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any, Literal, ParamSpec

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mailbot import addresses
from mailbot.enclosures import Enclosures
from mailbot.errors import ReplyBuildError
from mailbot.forms import DESCRIPTION_NAME, TASK_LIST_NAME
from mailbot.intake.headers import references_kept, thread_header
from mailbot.model import Finding, Inbound, Task
from mailbot.report import place_text
from mailbot.validation.schema import Rules

ReplyKind = Literal[
    "acknowledgement", "correction", "late", "unreadable", "reminder_before", "reminder_correction", "digest"
]  # the last three are mailbot's own mail (mailbot.officer), rendered with the same environment

VIETNAM = dt.timezone(dt.timedelta(hours=7), "UTC+7")
HEADER_LIMIT = 120  # characters of anything echoed from a submission into a subject or a heading
NAME_LIMIT = 500  # a task name (the rules allow 500 characters)
VALUE_LIMIT = 200  # what was written in a cell, quoted back
TEXT_LIMIT = 1000  # a finding's message or hint, a reason

MIME_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".doc": "application/msword",
    ".pdf": "application/pdf",
}

# Local parts that never get an automatic reply (RFC 3834 §2, RELIABILITY #33), compared without -, _ and .
_REFUSED_LOCAL_PARTS = frozenset({"mailerdaemon", "postmaster", "noreply", "donotreply"})

# MIME defect names an intake quarantine may give as its reason, in words a submitter understands.
_TECHNICAL_REASONS = {
    "StartBoundaryNotFoundDefect": "cấu trúc thư bị hỏng (thiếu phần đầu của tệp đính kèm)",
    "CloseBoundaryNotFoundDefect": "thư bị cắt cụt hoặc cấu trúc thư bị hỏng (thiếu phần cuối của tệp đính kèm)",
    "MultipartInvariantViolationDefect": "cấu trúc thư không hợp lệ",
    "NoBoundaryInMultipartDefect": "cấu trúc thư không hợp lệ",
}
_TECHNICAL = re.compile(r"^[A-Za-z0-9_.:-]+$")
_SURROGATE = re.compile("[\ud800-\udfff]")

_SUMMARIES: dict[ReplyKind, str] = {
    "acknowledgement": "Đã nhận hồ sơ đề xuất nhiệm vụ năm {year}",
    "correction": "Đề nghị bổ sung, chỉnh sửa hồ sơ đề xuất nhiệm vụ năm {year}",
    "late": "Hồ sơ gửi sau hạn – đề xuất nhiệm vụ năm {year}",
    "unreadable": "Không đọc được thư gửi hồ sơ đề xuất nhiệm vụ năm {year}",
}


@dataclass
class ReplyContent:
    """Everything a reply says about one received message."""

    kind: ReplyKind
    receipt: str  # "SXTDBV-2024-0001"
    version: int  # 1 for the first submission, 2 for a resubmission …
    organization: str | None
    tasks: list[Task]
    findings: list[Finding]
    received_at: dt.datetime  # aware; shown in Viet Nam time
    late: bool = False  # received after the deadline (an acknowledgement or correction then says so)
    reason: str | None = None  # for "unreadable": why
    #: What the reply attaches, as its text tells it (mailbot.enclosures.Enclosures.context()); empty: nothing.
    attached: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- cleaning and formatting


def one_line(text: str | None, limit: int = HEADER_LIMIT) -> str:
    """`text` as one clean NFC line: control and format characters gone, spaces collapsed, at most `limit`."""
    if not text:
        return ""
    kept = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category != "Cf":
            kept.append(ch)
    line = " ".join("".join(kept).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def money(value: float | None) -> str:
    """Million VND the Vietnamese way: 1500 → "1.500", 2000.5 → "2.000,5"; None → "—"."""
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.translate(str.maketrans(",.", ".,"))


def vn_time(moment: dt.datetime) -> str:
    """A moment in Viet Nam time: "14:05 ngày 20/4/2023" (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(VIETNAM)
    return f"{local:%H:%M} ngày {local.day}/{local.month}/{local.year}"


def month_text(value: str | None) -> str:
    """A task month "2024-01" as "01/2024"; anything else as written, "?" when missing."""
    if not value:
        return "?"
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", value)
    return f"{int(match[2]):02d}/{match[1]}" if match else one_line(value, 20)


def date_header(moment: dt.datetime | None = None) -> str:
    """A Date field in Viet Nam time ("Thu, 20 Apr 2023 16:00:00 +0700"), as every body speaks it."""
    return format_datetime((moment or dt.datetime.now(dt.UTC)).astimezone(VIETNAM))


def encoded_subject(value: str, *, utf8: bool = False) -> str:
    """A Subject that every decoder reads back exactly: one clean line (see `clean_header`), encoded and folded
    by email.header.Header, whose encoded words carry their spaces inside them. The policy's own folding
    (CPython ≤ 3.12) puts two encoded words side by side where it splits and decoders drop the space between
    them ("Viện Nghiêncứu"). An RFC 6532 message (`utf8`) carries the line as UTF-8, unencoded."""
    line = clean_header(value)
    if utf8 or line.isascii():
        return line
    return addresses.Verbatim("Subject", Header(line, "utf-8", header_name="Subject").encode(linesep="\r\n"))


def clean_header(value: str) -> str:
    """A header value with every control character (CR, LF, NUL …) removed, and no encoded-word.

    EmailMessage decodes an RFC 2047 encoded-word found in an assigned value, so text echoed from a
    submission such as "=?UTF-8?Q?=0A?=Bcc: x" would come back as a line break and a new header;
    "=?" is therefore broken up before the value reaches the message. A lone surrogate (no character at
    all, it cannot be encoded) becomes U+FFFD. Addresses never pass through here: they are kept verbatim.
    """
    line = one_line(value, 998).replace("=?", "=\u200b?")
    return _SURROGATE.sub("\ufffd", line)


# ---------------------------------------------------------------- what the templates see


def _task_rows(tasks: Sequence[Task], orientations: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "n": n,
            "name": one_line(task.ten_nhiem_vu, NAME_LIMIT) or "(không có tên)",
            "orientation": task.dinh_huong if task.dinh_huong is not None else "?",
            "orientation_name": orientations.get(task.dinh_huong, "") if task.dinh_huong is not None else "",
            "period": f"{month_text(task.bat_dau)}–{month_text(task.ket_thuc)}",
            "total": money(task.kinh_phi_tong),
            "nsnn": money(task.kinh_phi_nsnn),
            "other": money(task.kinh_phi_khac),
            "kind": one_line(task.loai, HEADER_LIMIT),
        }
        for n, task in enumerate(tasks, start=1)
    ]


def _totals(tasks: Sequence[Task]) -> dict[str, str]:
    def total(values: Iterable[float | None]) -> str:
        return money(sum(v for v in values if v is not None))

    return {
        "total": total(t.kinh_phi_tong for t in tasks),
        "nsnn": total(t.kinh_phi_nsnn for t in tasks),
        "other": total(t.kinh_phi_khac for t in tasks),
    }


def _sheet_word(file: str | None) -> str:
    return "bảng" if file and file.lower().endswith((".docx", ".doc", ".docm")) else "trang tính"


def _finding_item(finding: Finding, rules: Rules) -> dict[str, Any]:
    column = rules.column(finding.field) if finding.field else None
    label = (f"{column.group} – {column.label}" if column.group else column.label) if column else ""
    value = None if finding.value is None else one_line(finding.value, VALUE_LIMIT)
    place = place_text(finding)
    return {
        "severity": finding.severity,
        "place": "toàn bộ hồ sơ" if finding.file is None and not finding.cell else place,
        "column": label,
        "value": value,
        "message": one_line(finding.message, TEXT_LIMIT),
        "hint": one_line(finding.hint, TEXT_LIMIT),
    }


def group_findings(findings: Iterable[Finding], rules: Rules) -> list[dict[str, Any]]:
    """Findings by file, then by sheet (first appearance order), each sheet's findings by row."""
    files: dict[str | None, dict[str | None, list[Finding]]] = {}
    for finding in findings:
        files.setdefault(finding.file, {}).setdefault(finding.sheet, []).append(finding)
    groups = []
    for file, sheets in files.items():
        parts = []
        for sheet, items in sheets.items():
            ordered = sorted(items, key=lambda f: (f.row is None, f.row or 0))
            parts.append({"sheet": one_line(sheet) or None, "entries": [_finding_item(f, rules) for f in ordered]})
        groups.append({"file": one_line(file, 255) or None, "sheet_word": _sheet_word(file), "sheets": parts})
    return groups


def _reason_text(reason: str | None) -> str | None:
    if not reason:
        return None
    reason = reason.strip()
    if reason in _TECHNICAL_REASONS:
        return _TECHNICAL_REASONS[reason]
    if _TECHNICAL.match(reason):
        return f"cấu trúc thư không hợp lệ (mã kỹ thuật: {reason})"
    return one_line(reason, TEXT_LIMIT)


def subject_for(content: ReplyContent, rules: Rules) -> str:
    """ "[SXTDBV-2024-0001] Đã nhận hồ sơ đề xuất nhiệm vụ năm 2024 – Viện …", one line."""
    summary = _SUMMARIES[content.kind].format(year=rules.call.plan_year)
    if content.kind in ("acknowledgement", "correction") and content.version > 1:
        summary += f" (lần nộp thứ {content.version})"
    organization = one_line(content.organization)
    if organization:
        summary += f" – {organization}"
    return clean_header(f"[{one_line(content.receipt, 60)}] {summary}")


# ---------------------------------------------------------------- rendering


def templates_dir_default() -> Path:
    """The replies/ folder shipped with mailbot (from the installed package; never the working folder)."""
    from mailbot.shipped import shipped_folder

    return shipped_folder("replies")


class ReplyRenderer:
    """Renders a reply's subject, text and HTML from `<kind>.txt.j2` and `<kind>.html.j2`."""

    def __init__(self, rules: Rules, templates_dir: Path | None = None) -> None:
        self.rules = rules
        self.templates_dir = templates_dir or templates_dir_default()
        self.env = Environment(
            loader=FileSystemLoader(self.templates_dir),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = money
        self.env.filters["vn_time"] = vn_time

    def context(self, content: ReplyContent) -> dict[str, Any]:
        """The values every template may use (the same names for every kind)."""
        call = self.rules.call
        column = self.rules.column("dinh_huong")
        orientations = {v.code: v.name for v in column.values} if column else {}
        errors = [f for f in content.findings if f.severity == "error"]
        warnings = [f for f in content.findings if f.severity != "error"]
        prefix = call.receipt_prefix
        return {
            "kind": content.kind,
            "subject": subject_for(content, self.rules),
            "receipt": one_line(content.receipt, 60),
            "version": content.version,
            "organization": one_line(content.organization) or None,
            "received": vn_time(content.received_at),
            "deadline": vn_time(call.deadline),
            "late": content.late,
            "reason": _reason_text(content.reason),
            "call": {"title": call.title, "document": call.document, "plan_year": call.plan_year},
            "contact": call.contact.model_dump(),
            "documents": {
                "phu_luc_1": self.rules.documents.phu_luc_1.title,
                "phu_luc_2": self.rules.documents.phu_luc_2.title,
            },
            "tasks": _task_rows(content.tasks, orientations),
            "totals": _totals(content.tasks),
            "error_count": len(errors),
            "warning_count": len(warnings),
            "errors": group_findings(errors, self.rules),
            "warnings": group_findings(warnings, self.rules),
            "blank_forms": [f"{prefix}_{TASK_LIST_NAME}", f"{prefix}_{DESCRIPTION_NAME}"],
            **Enclosures().context(),  # what the templates see of a reply that attaches nothing
            **content.attached,
        }

    def render(self, content: ReplyContent) -> tuple[str, str, str]:
        """(subject, text body, HTML body). A template naming a value that does not exist raises."""
        context = self.context(content)
        text = self.env.get_template(f"{content.kind}.txt.j2").render(context)
        html = self.env.get_template(f"{content.kind}.html.j2").render(context)
        return context["subject"], text, html


# ---------------------------------------------------------------- the message


def reply_message_id(inbound: Inbound, domain: str) -> str:
    """The same Message-ID for the same inbound message, so a resend after a crash is recognisable.

    Derived from the Message-ID and the SHA-256 of the content together, so a mailer that reuses a Message-ID
    for different content gets a distinct reply id for each message (RELIABILITY #71). The content is hashed
    with CRLF read as LF: the same message fetched over IMAP (CRLF) or from a Maildir (LF) gets the same id.
    """
    content = hashlib.sha256(inbound.raw.replace(b"\r\n", b"\n")).hexdigest()
    key = f"{inbound.message_id}\n{content}" if inbound.message_id else inbound.sha256
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    host = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"
    return f"<mailbot.{digest}@{host}>"


def _refused(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(ch.isspace() for ch in address):
        return True
    local = local.split("+", 1)[0].lower()
    return local.endswith("-request") or re.sub(r"[-_.]", "", local) in _REFUSED_LOCAL_PARTS


def _single_address(value: str | None) -> str | None:
    """The one address in a header value, exactly as written, or None when it holds none, several, a null
    one, or one that cannot go on the wire (a domain that is not a valid internationalised name …)."""
    if not value or not value.strip():
        return None
    found = [addr for _, addr in getaddresses([value]) if addr]
    if len(found) != 1:
        return None
    address = found[0].strip()
    return address if addresses.usable(address) else None


def choose_recipient(inbound: Inbound) -> str | None:
    """Reply-To when it names one address, else From; None when that address must not get an automatic reply."""
    address = _single_address(inbound.reply_to) or _single_address(inbound.from_addr)
    if address is None or _refused(address):
        return None
    return address


def _attachment_type(name: str) -> tuple[str, str]:
    suffix = Path(name).suffix.lower()
    mime = MIME_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    maintype, _, subtype = mime.partition("/")
    return maintype, subtype


_P = ParamSpec("_P")


def _encodable(build: Callable[_P, bytes]) -> Callable[_P, bytes]:
    """`build`, with any failure to encode the message (a lone surrogate, a header the email package
    refuses) raised as a ReplyBuildError that says why, so the caller records the reply as failed."""

    @functools.wraps(build)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> bytes:
        try:
            return build(*args, **kwargs)
        except ReplyBuildError:
            raise
        except (UnicodeError, ValueError, email.errors.MessageError) as exc:
            raise ReplyBuildError(f"the reply cannot be encoded: {exc}") from exc

    return guarded


def _mailbox(value: str, role: str) -> tuple[str, str]:
    """(display name, address) of the one mailbox in `value`, the address exactly as written."""
    try:
        return addresses.parse_mailbox(value)
    except addresses.AddressError as exc:
        raise ReplyBuildError(f"the {role} cannot be used: {exc}") from exc


def _mailbox_header(name: str, display_name: str, address: str, utf8: bool) -> str:
    try:
        return addresses.mailbox_header(name, clean_header(display_name), address, utf8=utf8)
    except addresses.AddressError as exc:
        raise ReplyBuildError(str(exc)) from exc


@_encodable
def build_reply(
    *,
    inbound: Inbound,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    attachments: Sequence[tuple[str, bytes]] = (),
    date: dt.datetime | None = None,
) -> bytes:
    """The reply as bytes ready for SMTP: one recipient, threaded under the inbound, marked auto-replied.

    Addresses are written unchanged but for their domains, which become A-labels when the local part is
    ASCII (the message stays ASCII); when a local part is not ASCII the whole message is RFC 6532 (UTF-8
    headers) and can only be sent with SMTPUTF8. ReplyBuildError when the recipient is not exactly one
    valid address or the message cannot be encoded.
    """
    _, to = _mailbox(recipient, "recipient")
    sender_name, sender_address = _mailbox(sender, "sender")
    sender_domain = addresses.ascii_domain(addresses.split(sender_address)[1]).lower()
    utf8 = addresses.needs_smtputf8(to) or addresses.needs_smtputf8(sender_address)
    msg = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
    msg["From"] = _mailbox_header("From", sender_name, sender_address, utf8)
    msg["To"] = _mailbox_header("To", "", to, utf8)
    msg["Subject"] = encoded_subject(subject, utf8=utf8)
    msg["Date"] = date_header(date)
    msg["Message-ID"] = clean_header(message_id)
    parent = [clean_header(inbound.message_id)] if inbound.message_id else []  # whole ids, limits in intake.headers
    if in_reply_to := thread_header("In-Reply-To", parent):
        msg["In-Reply-To"] = in_reply_to
    if references := thread_header("References", references_kept([*map(clean_header, inbound.references), *parent])):
        msg["References"] = references
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailbot-Loop"] = sender_domain
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for name, data in attachments:
        maintype, subtype = _attachment_type(name)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=clean_header(name))
    msg["Content-Language"] = "vi"  # last: set_content and add_attachment move Content-* fields into the parts
    return msg.as_bytes()
