"""Everything the officer reads in the workbook, in plain Vietnamese.

The ledger and `export --json` keep their codes (`accepted`, `late`, `precedence: bulk`, `missing_document`);
they are translated here, at display time, so the codes other tools rely on never change. A reason this
module does not know is shown as a Vietnamese sentence with the code after it, never as the code alone.
"""

from __future__ import annotations

import re
from typing import Any

from mailbot.model import MessageView, SubmissionView

RECEIPT_TERM = "Số tiếp nhận"  # the same term as the replies (replies/*.j2) and the README

STATUS_ON_TIME = {"accepted": "Đã tiếp nhận", "needs_correction": "Cần chỉnh sửa"}
STATUS_LATE = {"accepted": "Nộp muộn", "needs_correction": "Nộp muộn – cần chỉnh sửa"}
#: The four states in the order the statistics show them; (status, late) → label.
STATES: tuple[tuple[str, bool], ...] = (
    ("accepted", False),
    ("accepted", True),
    ("needs_correction", False),
    ("needs_correction", True),
)
STATE_COLOURS = {  # soft fill, dark font: Excel's own "Good", "Neutral", "Bad"; the worst one bold
    ("accepted", False): ("C6EFCE", "006100"),
    ("accepted", True): ("FCE4D6", "833C0B"),
    ("needs_correction", False): ("FFEB9C", "9C5700"),
    ("needs_correction", True): ("FFC7CE", "9C0006"),
}

ACTION_LABELS = {
    "acknowledged": "Đã gửi xác nhận",
    "correction_sent": "Đã yêu cầu chỉnh sửa",
    "ignored": "Bỏ qua",
    "duplicate": "Trùng lặp",
    "quarantined": "Cách ly",
    "rate_limited": "Tạm không trả lời (vượt giới hạn gửi)",
    "noted": "Ghi nhận lời nhắn",
    "failed": "Lỗi xử lý (đã cách ly)",
    "reminder": "Đã gửi nhắc nhở",  # mail of mailbot's own (readmodel.notice_views)
    "digest": "Bản tin hằng ngày",
}
SIGNATURE_LABELS = {
    "valid": "Hợp lệ",
    "untrusted": "Không xác minh được tổ chức cấp chứng thư",
    "invalid": "Không hợp lệ",
}
REPLY_LABELS = {"pending": "Chờ gửi", "sent": "Đã gửi", "failed": "Gửi lỗi", "uncertain": "Chưa chắc đã gửi"}

AUTO_SUBMITTED = {"auto-replied": "Thư trả lời tự động", "auto-generated": "Thư do máy tạo tự động"}
PRECEDENCE = {"bulk": "Thư gửi hàng loạt (bản tin, quảng cáo)", "list": "Thư từ nhóm thư", "junk": "Thư rác"}

#: Fixed reasons the intake, the classifier and the limits write, word for word.
FIXED_REASONS = {
    "late": "Nộp sau hạn chót",
    "loop: our own reply": "Thư do chính hệ thống gửi (không trả lời để tránh vòng lặp)",
    "null return path": "Thư báo lỗi của máy chủ thư (không có địa chỉ hồi đáp)",
    "delivery or read report": "Thư báo kết quả gửi thư hoặc xác nhận đã đọc",
    "mailing list": "Thư từ nhóm thư (danh sách nhận thư)",
    "out-of-office subject": "Thư báo vắng mặt",
    "sender address cannot be parsed": "Không đọc được địa chỉ người gửi",
    "no address to reply to": "Không có địa chỉ để trả lời; hồ sơ vẫn được ghi nhận",
    "overall reply limit": "Đã đạt giới hạn tổng số thư trả lời trong khoảng thời gian; hồ sơ vẫn được ghi nhận",
}
#: Reasons with a variable part: (pattern, Vietnamese with the pattern's groups).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"automatic sender: (.+)"), "Thư gửi từ địa chỉ tự động ({0})"),
    (re.compile(r"auto-response suppressed: .*"), "Thư tự động (người gửi yêu cầu không trả lời tự động)"),
    (re.compile(r"autoresponder header: .*"), "Thư trả lời tự động"),
    (re.compile(r"(.+): per-sender limit"), "Đã đạt giới hạn số thư trả lời cho {0}; hồ sơ vẫn được ghi nhận"),
    (re.compile(r"message larger than (\d+) MB"), "Thư lớn hơn {0} MB, không mở để kiểm tra"),
    (re.compile(r"attachments could not be taken out: .*"), "Không tách được tệp đính kèm khỏi thư"),
    (re.compile(r"message could not be parsed: .*"), "Không đọc được cấu trúc thư"),
    (re.compile(r"MIME structure cannot be trusted: .*"), "Cấu trúc thư bất thường, không an toàn để mở"),
)
_DUPLICATE = re.compile(r"same message as #\d+ \((\w+)\)")
_BOUNCE = re.compile(r"; bounce of .*")


def state(status: str, late: bool) -> tuple[str, bool]:
    """(status, late) as one of STATES; a status written as 'late' by an old ledger counts as accepted and late."""
    return ("accepted", True) if status == "late" else (status, late)


def status_label(status: str, late: bool) -> str:
    status, late = state(status, late)
    return (STATUS_LATE if late else STATUS_ON_TIME).get(status, status)


def submission_label(s: SubmissionView) -> str:
    return status_label(s.status, s.late)


def reason_text(reason: str | None) -> str:
    """A reason code of the intake or the classifier, in Vietnamese."""
    if not reason:
        return ""
    bounce = _BOUNCE.search(reason)
    core = reason[: bounce.start()] if bounce else reason
    text = _known(core) or f"Lý do khác (mã kỹ thuật: {core})"
    return f"{text}; là thư trả lại của thư trả lời đã gửi" if bounce else text


def _known(reason: str) -> str | None:
    if reason in FIXED_REASONS:
        return FIXED_REASONS[reason]
    if reason.startswith("auto-submitted: "):
        return AUTO_SUBMITTED.get(reason.split(": ", 1)[1], "Thư tự động")
    if reason.startswith("precedence: "):
        return PRECEDENCE.get(reason.split(": ", 1)[1], "Thư gửi hàng loạt")
    if duplicate := _DUPLICATE.fullmatch(reason):
        done = ACTION_LABELS.get(duplicate.group(1), duplicate.group(1)).lower()
        return f"Trùng với một thư đã nhận trước đó (thư trước: {done})"
    for pattern, text in PATTERNS:
        if match := pattern.fullmatch(reason):
            return text.format(*match.groups())
    return None


def message_reason(m: MessageView) -> str:
    """What the log's "Lý do" shows: a note's message says so (its words go to "Lời nhắn"), a failure its id."""
    if m.action == "noted":
        return "Thư trả lời không kèm hồ sơ: ghi nhận lời nhắn"
    if m.action == "failed":
        what = f"mã lỗi {m.error_id}" if m.error_id else "không có mã lỗi"
        return f"Lỗi của chương trình khi xử lý thư ({what}); quản trị viên tra nhật ký chương trình theo mã này"
    if m.action in ("reminder", "digest"):  # mail of mailbot's own: its job's detail is written in Vietnamese
        return m.reason or ""
    return reason_text(m.reason)


def reply_text(m: MessageView) -> str | None:
    if not m.reply_state:
        return None
    label = REPLY_LABELS.get(m.reply_state, m.reply_state)
    if m.reply_state == "failed" and m.reply_error:
        bounced = m.reply_error.startswith("bounced:")
        if bounced:
            return f"{label}: thư bị trả lại, không đến được người nhận"
        return f"{label}: máy chủ thư không nhận thư — {m.reply_error}"  # the server's own words, for the admin
    if m.reply_state == "pending" and m.reply_error:
        return "Chờ gửi lại (máy chủ thư tạm thời không nhận)"
    return label


def finding_line(f: dict[str, Any]) -> str:
    """A finding as the officer reads it: its own Vietnamese message and where, never its code."""
    where = [str(f["file"])] if f.get("file") else []
    if f.get("cell"):
        where.append(f"ô {f['cell']}")
    kind = "Lỗi" if f.get("severity") == "error" else "Lưu ý"
    place = f" ({', '.join(where)})" if where else ""
    return f"{kind}: {f.get('message') or 'không rõ'}{place}"
