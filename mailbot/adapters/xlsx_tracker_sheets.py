"""The four sheets of the officer's tracking workbook, built from a `TrackerData` (no file I/O here).

Every string that may come from submitted data goes through `put_text`: cleaned of characters XML
cannot carry, truncated to Excel's cell limit, and stored as text (never a formula), with Excel's
quote prefix so that editing the cell by hand does not turn it into one either.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.addresses import readable_address
from mailbot.model import ArchivedFile, MessageView, SubmissionView, TrackerData

SUBMISSIONS = "Hồ sơ"
TASKS = "Nhiệm vụ"
LOG = "Nhật ký"
STATS = "Thống kê"
OLD_NOTES = "Ghi chú cũ"
RECEIPT_HEADER = "Số biên nhận"
NOTE_HEADER = "Ghi chú của cán bộ"

VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
DATE_FORMAT = "dd/mm/yyyy hh:mm"
MONEY_FORMAT = "#,##0.0##"
MAX_CELL_CHARS = 32_767
TRUNCATION_MARK = "… [đã cắt bớt]"
SUMMARY_FINDINGS = 5

STATUS_LABELS = {"accepted": "Đã tiếp nhận", "needs_correction": "Cần chỉnh sửa", "late": "Nộp muộn"}
STATUS_COLOURS = {  # soft fill, dark font: Excel's own "Good", "Neutral", "Bad"
    "accepted": ("C6EFCE", "006100"),
    "needs_correction": ("FFEB9C", "9C5700"),
    "late": ("FFC7CE", "9C0006"),
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
    "reminder": "Đã gửi nhắc nhở",  # mail of mailbot's own (readmodel.notice_views)
    "digest": "Bản tin hằng ngày",
}
SIGNATURE_LABELS = {"valid": "Hợp lệ", "untrusted": "Không xác minh được CA", "invalid": "Không hợp lệ"}
REPLY_LABELS = {"pending": "Chờ gửi", "sent": "Đã gửi", "failed": "Gửi lỗi", "uncertain": "Chưa chắc đã gửi"}

# Beyond openpyxl's control characters: lone surrogates and the two non-characters XML 1.0 forbids.
_UNWRITABLE_RE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_YEAR_MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")
_TOP = Alignment(vertical="top")
_WRAP = Alignment(vertical="top", wrap_text=True)
_BOLD = Font(bold=True)
_LINK_FONT = Font(color="0563C1", underline="single")


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = "text"  # text | wrap | int | money | date | link


# ---------------------------------------------------------------- cells


def clean_text(value: str) -> str:
    """Drop characters an xlsx cannot hold and cut to Excel's limit (counted in UTF-16 units, as Excel does)."""
    text = _UNWRITABLE_RE.sub("", ILLEGAL_CHARACTERS_RE.sub("", value))
    if len(text) * 2 <= MAX_CELL_CHARS:
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * MAX_CELL_CHARS:
        return text
    keep = units[: 2 * (MAX_CELL_CHARS - len(TRUNCATION_MARK))].decode("utf-16-le", errors="ignore")
    return keep + TRUNCATION_MARK


def put_text(cell: Cell, value: object) -> None:
    """Store `value` as a text cell, whatever it starts with."""
    text = clean_text(str(value))
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_FORMULA_STARTS):
        cell.quotePrefix = True


def to_vn(moment: dt.datetime) -> dt.datetime:
    """Viet Nam wall-clock time without tzinfo (xlsx has no time zones); a naive time is taken as UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(VN_TZ).replace(tzinfo=None)


def at(ws: Worksheet, row: int, column: int) -> Cell:
    cell = ws.cell(row, column)
    assert isinstance(cell, Cell)  # this workbook merges no cells
    return cell


def put_value(cell: Cell, value: Any, kind: str) -> None:
    if value is None or value == "":
        return
    if kind == "date" and isinstance(value, dt.datetime):
        cell.value = to_vn(value)
        cell.number_format = DATE_FORMAT
    elif kind in ("int", "money") and isinstance(value, int | float) and not isinstance(value, bool):
        cell.value = value
        if kind == "money":
            cell.number_format = MONEY_FORMAT
    elif kind == "link" and isinstance(value, list):
        put_files(cell, value)
    else:
        put_text(cell, value)


def put_files(cell: Cell, files: list[ArchivedFile]) -> None:
    """One cell for the archived files: every name, one per line; a link to the first file."""
    if not files:
        return
    put_text(cell, "\n".join(f.name for f in files))
    cell.hyperlink = file_uri(files[0].path)
    cell.font = _LINK_FONT


def file_uri(path: str) -> str:
    try:
        return Path(path).as_uri()
    except ValueError:  # a relative path: the best we can do
        return "file://" + path.replace("\\", "/")


# ---------------------------------------------------------------- tables


def fill_table(ws: Worksheet, name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], top: int = 1) -> int:
    """Write a header and rows as an Excel table with filters; returns the last row used."""
    for index, column in enumerate(columns, start=1):
        put_text(at(ws, top, index), column.header)
        at(ws, top, index).font = _BOLD
        ws.column_dimensions[get_column_letter(index)].width = column.width
    last = top
    for last, values in enumerate(rows, start=top + 1):
        for index, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = at(ws, last, index)
            put_value(cell, value, column.kind)
            cell.alignment = _WRAP if column.kind in ("wrap", "link") else _TOP
    add_table(ws, name, len(columns), top, last)
    return last


def add_table(ws: Worksheet, name: str, width: int, top: int, last: int) -> None:
    # An Excel table needs at least one row under its header: an empty one when there is no data.
    ref = f"A{top}:{get_column_letter(width)}{max(last, top + 1)}"
    table = Table(displayName=name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)


def colour_status(cell: Cell, status: str) -> None:
    fill, font = STATUS_COLOURS.get(status, ("FFFFFF", "000000"))
    cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
    cell.font = Font(color=font)


# ---------------------------------------------------------------- sheet 1: submissions

SUBMISSION_COLUMNS = (
    Column(RECEIPT_HEADER, 16),
    Column("Đơn vị", 36, "wrap"),
    Column("Người gửi", 28),
    Column("Nhận lần đầu", 17, "date"),
    Column("Nhận lần cuối", 17, "date"),
    Column("Số lần nộp", 11, "int"),
    Column("Trạng thái", 16),
    Column("Số nhiệm vụ", 12, "int"),
    Column("Tổng kinh phí (triệu đồng)", 16, "money"),
    Column("Kinh phí NSNN (triệu đồng)", 16, "money"),
    Column("Số lỗi", 9, "int"),
    Column("Tóm tắt lỗi", 60, "wrap"),
    Column("Chữ ký số", 36, "wrap"),
    Column("Tệp lưu trữ", 36, "link"),
    Column(NOTE_HEADER, 40, "wrap"),
)
STATUS_COLUMN = 7


def ordered(submissions: list[SubmissionView]) -> list[SubmissionView]:
    return sorted(submissions, key=lambda s: (to_vn(s.first_received_at), s.receipt))


def budget(tasks: list[dict[str, Any]], key: str) -> float:
    return round(sum(v for t in tasks if isinstance(v := t.get(key), int | float) and not isinstance(v, bool)), 6)


def finding_summary(findings: list[dict[str, Any]]) -> str:
    first = sorted(findings, key=lambda f: f.get("severity") != "error")  # errors first, order kept
    lines = [f"{f.get('code', '')}: {f.get('message', '')}" for f in first[:SUMMARY_FINDINGS]]
    if len(first) > SUMMARY_FINDINGS:
        lines.append(f"… và {len(first) - SUMMARY_FINDINGS} mục khác")
    return "\n".join(lines)


def signature_text(s: SubmissionView) -> str:
    """ "Hợp lệ — <O>, <CN>, <e-mail>" for the message's signature, then the PDFs that carry one of their own."""
    lines = []
    if s.signature:
        result = s.signature.get("result", "")
        who = ", ".join(str(s.signature[k]) for k in ("organization", "common_name", "email") if s.signature.get(k))
        lines.append(f"{SIGNATURE_LABELS.get(result, result)} — {who or s.signature.get('subject') or '?'}")
    if s.signed_copies:
        lines.append(f"Bản PDF đã ký số: {', '.join(s.signed_copies)}")
    return "\n".join(lines)


def submission_row(s: SubmissionView, notes: dict[str, str]) -> list[Any]:
    errors = sum(1 for f in s.findings if f.get("severity") == "error")
    return [
        s.receipt, s.organization, readable_address(s.sender), s.first_received_at, s.last_received_at, s.version,
        STATUS_LABELS.get(s.status, s.status), len(s.tasks), budget(s.tasks, "kinh_phi_tong"),
        budget(s.tasks, "kinh_phi_nsnn"), errors, finding_summary(s.findings), signature_text(s), s.files,
        notes.get(s.receipt),
    ]  # fmt: skip


def build_submissions(ws: Worksheet, submissions: list[SubmissionView], notes: dict[str, str]) -> None:
    fill_table(ws, "HoSo", SUBMISSION_COLUMNS, (submission_row(s, notes) for s in submissions))
    for row, s in enumerate(submissions, start=2):
        colour_status(at(ws, row, STATUS_COLUMN), s.status)
    ws.freeze_panes = "B2"


# ---------------------------------------------------------------- sheet 2: tasks

TASK_COLUMNS = (
    Column(RECEIPT_HEADER, 16),
    Column("Đơn vị", 30, "wrap"),
    Column("STT", 6, "int"),
    Column("Tên nhiệm vụ", 40, "wrap"),
    Column("Định hướng", 11, "int"),
    Column("Tên định hướng", 22, "wrap"),
    Column("Mục tiêu", 40, "wrap"),
    Column("Nội dung chính", 50, "wrap"),
    Column("Sản phẩm dự kiến", 36, "wrap"),
    Column("Đơn vị chủ trì", 26, "wrap"),
    Column("Đơn vị phối hợp", 26, "wrap"),
    Column("Bắt đầu", 10),
    Column("Kết thúc", 10),
    Column("Tổng", 12, "money"),
    Column("NSNN", 12, "money"),
    Column("Nguồn khác", 12, "money"),
    Column("Ghi chú", 30, "wrap"),
    Column("Loại", 22, "wrap"),
)


def month_year(value: Any) -> Any:
    """ "2024-03" → "03/2024"; anything else as it is."""
    match = _YEAR_MONTH_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    return f"{int(match.group(2)):02d}/{match.group(1)}" if match else value


def orientation_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def task_row(s: SubmissionView, task: dict[str, Any], orientations: dict[int, str]) -> list[Any]:
    code = orientation_code(task.get("dinh_huong"))
    return [
        s.receipt, s.organization, task.get("stt"), task.get("ten_nhiem_vu"), task.get("dinh_huong"),
        orientations.get(code) if code is not None else None, task.get("muc_tieu"), task.get("noi_dung"),
        task.get("san_pham"), task.get("don_vi_chu_tri"), task.get("don_vi_phoi_hop"),
        month_year(task.get("bat_dau")), month_year(task.get("ket_thuc")), task.get("kinh_phi_tong"),
        task.get("kinh_phi_nsnn"), task.get("kinh_phi_khac"), task.get("ghi_chu"), task.get("loai"),
    ]  # fmt: skip


def build_tasks(ws: Worksheet, submissions: list[SubmissionView], orientations: dict[int, str]) -> None:
    rows = (task_row(s, t, orientations) for s in submissions for t in s.tasks)
    fill_table(ws, "NhiemVu", TASK_COLUMNS, rows)
    ws.freeze_panes = "A2"


# ---------------------------------------------------------------- sheet 3: message log

LOG_COLUMNS = (
    Column("Thời gian", 17, "date"),
    Column("Người gửi", 30),
    Column("Tiêu đề", 50, "wrap"),
    Column("Xử lý", 22),
    Column("Lý do", 40, "wrap"),
    Column(RECEIPT_HEADER, 16),
    Column("Thư trả lời", 18),
)


def message_row(m: MessageView) -> list[Any]:
    reply = REPLY_LABELS.get(m.reply_state, m.reply_state) if m.reply_state else None
    if reply and m.reply_state == "failed" and m.reply_error:
        why = "thư bị trả lại, không đến được người nhận" if m.reply_error.startswith("bounced:") else m.reply_error
        reply = f"{reply}: {why}"
    reason = m.reason
    if m.error_id:
        reason = f"Mã lỗi {m.error_id}: {reason or ''}"
    if m.reprocessed_at:
        when = dt.datetime.fromisoformat(m.reprocessed_at).astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")
        reason = f"{reason or ''} (xử lý lại lúc {when})".strip()
    sender = readable_address(m.sender)  # a domain received as xn--… shown as the officer reads it
    return [m.received_at, sender, m.subject, ACTION_LABELS.get(m.action, m.action), reason, m.receipt, reply]


def build_log(ws: Worksheet, messages: list[MessageView]) -> None:
    newest_first = sorted(messages, key=lambda m: to_vn(m.received_at), reverse=True)
    fill_table(ws, "NhatKy", LOG_COLUMNS, (message_row(m) for m in newest_first))
    ws.freeze_panes = "A2"


# ---------------------------------------------------------------- sheet 4: statistics

UNKNOWN_ORIENTATION = "Chưa xác định"
STATUS_STATS_TOP = 3
STATUS_STATS_COLUMNS = (Column("Trạng thái", 26), Column("Số hồ sơ", 12, "int"))
ORIENTATION_STATS_COLUMNS = (
    Column("Mã", 6, "int"),
    Column("Định hướng", 26),
    Column("Số nhiệm vụ", 12, "int"),
    Column("Tổng kinh phí (triệu đồng)", 16, "money"),
    Column("Kinh phí NSNN (triệu đồng)", 16, "money"),
)


def status_counts(submissions: list[SubmissionView]) -> list[list[Any]]:
    return [[label, sum(1 for s in submissions if s.status == key)] for key, label in STATUS_LABELS.items()]


def orientation_rows(data: TrackerData) -> list[list[Any]]:
    """One row per orientation (all of them, zeros included); tasks with no known orientation last."""
    groups: dict[int | None, list[dict[str, Any]]] = {code: [] for code in sorted(data.orientations)}
    for task in (t for s in data.submissions for t in s.tasks):
        code = orientation_code(task.get("dinh_huong"))
        groups.setdefault(code if code in data.orientations else None, []).append(task)
    return [
        [code, data.orientations.get(code, UNKNOWN_ORIENTATION) if code is not None else UNKNOWN_ORIENTATION,
         len(tasks), budget(tasks, "kinh_phi_tong"), budget(tasks, "kinh_phi_nsnn")]
        for code, tasks in groups.items()
    ]  # fmt: skip


def put_total(ws: Worksheet, row: int, values: Sequence[Any], columns: Sequence[Column]) -> None:
    for index, (value, column) in enumerate(zip(values, columns, strict=True), start=1):
        put_value(at(ws, row, index), value, column.kind)
        at(ws, row, index).font = _BOLD


def build_stats(ws: Worksheet, data: TrackerData) -> None:
    stamp = to_vn(data.generated_at).strftime("%d/%m/%Y %H:%M")
    put_text(at(ws, 1, 1), f"Thống kê hồ sơ đề xuất nhiệm vụ — Cập nhật lúc {stamp}")
    at(ws, 1, 1).font = Font(bold=True, size=14)
    counts = status_counts(data.submissions)
    last = fill_table(ws, "ThongKeTrangThai", STATUS_STATS_COLUMNS, counts, top=STATUS_STATS_TOP)
    for row, key in enumerate(STATUS_LABELS, start=STATUS_STATS_TOP + 1):
        colour_status(at(ws, row, 1), key)
    put_total(ws, last + 1, ["Tổng cộng", len(data.submissions)], STATUS_STATS_COLUMNS)
    build_orientation_stats(ws, data, top=last + 3)
    for letter, width in zip("ABCDE", (16, 30, 14, 16, 16), strict=True):  # the two tables share columns
        ws.column_dimensions[letter].width = width


def build_orientation_stats(ws: Worksheet, data: TrackerData, top: int) -> None:
    rows = orientation_rows(data)
    last = fill_table(ws, "ThongKeDinhHuong", ORIENTATION_STATS_COLUMNS, rows, top=top)
    totals = [None, "Tổng cộng", *(round(sum(r[i] for r in rows), 6) for i in (2, 3, 4))]
    put_total(ws, max(last, top + 1) + 1, totals, ORIENTATION_STATS_COLUMNS)
    if rows:
        add_budget_chart(ws, top, last)


def add_budget_chart(ws: Worksheet, top: int, last: int) -> None:
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Kinh phí theo định hướng (triệu đồng)"
    chart.height, chart.width = 10, 20
    chart.add_data(Reference(ws, min_col=4, max_col=5, min_row=top, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=top + 1, max_row=last))
    ws.add_chart(chart, f"G{STATUS_STATS_TOP}")


# ---------------------------------------------------------------- the workbook


def build_old_notes(wb: Workbook, notes: dict[str, str]) -> None:
    ws = wb.create_sheet(OLD_NOTES)
    ws.sheet_state = "hidden"
    columns = (Column(RECEIPT_HEADER, 16), Column(NOTE_HEADER, 60, "wrap"))
    fill_table(ws, "GhiChuCu", columns, sorted(notes.items()))


def build_workbook(data: TrackerData, notes: dict[str, str]) -> Workbook:
    """The whole workbook; `notes` (receipt → the officer's note) go beside their receipts or to the hidden sheet."""
    wb = Workbook()
    submissions = ordered(data.submissions)
    first = wb.active
    assert first is not None  # a new Workbook always has one sheet
    first.title = SUBMISSIONS
    build_submissions(first, submissions, notes)
    build_tasks(wb.create_sheet(TASKS), submissions, data.orientations)
    build_log(wb.create_sheet(LOG), data.messages)
    build_stats(wb.create_sheet(STATS), data)
    present = {s.receipt for s in submissions}
    orphans = {receipt: note for receipt, note in notes.items() if receipt not in present}
    if orphans:
        build_old_notes(wb, orphans)
    wb.properties.creator = "mailbot"
    return wb
