"""The sheets of the officer's tracking workbook, built from a `TrackerData` (no file I/O here).

"Hồ sơ" (one row per submission, its latest version), "Nhiệm vụ" (one row per task), "Tệp hồ sơ" (one row
per submitted file, each with its own link), "Nhật ký" (one row per message), "Thống kê" and "Biểu đồ"
(the chart on a printable page of its own). Every text the officer reads comes from xlsx_labels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.adapters.xlsx_labels import (
    ACTION_LABELS,
    RECEIPT_TERM,
    SIGNATURE_LABELS,
    STATE_COLOURS,
    STATES,
    finding_line,
    message_reason,
    reply_text,
    state,
    status_label,
    submission_label,
)
from mailbot.adapters.xlsx_tracker_cells import (
    ASKS_FILL,
    BOLD,
    Column,
    Link,
    at,
    colour,
    fill_table,
    print_setup,
    put_text,
    put_value,
    to_vn,
    vn_stamp,
)
from mailbot.adapters.xlsx_tracker_files import Placed, folder_target
from mailbot.adapters.xlsx_tracker_tasks import build_tasks, orientation_code
from mailbot.addresses import readable_address
from mailbot.model import MessageView, SubmissionView, TrackerData
from mailbot.notes import asks_for_something

SUBMISSIONS = "Hồ sơ"
TASKS = "Nhiệm vụ"
FILES = "Tệp hồ sơ"
LOG = "Nhật ký"
STATS = "Thống kê"
CHART = "Biểu đồ"
OLD_NOTES = "Ghi chú cũ"
RECEIPT_HEADER = RECEIPT_TERM
LEGACY_RECEIPT_HEADERS = ("Số biên nhận",)  # what workbooks before issue 9 called it (their notes still read)
NOTE_HEADER = "Ghi chú của cán bộ"
DECISION_HEADER = "Quyết định"
OFFICER_HEADERS = (DECISION_HEADER, NOTE_HEADER)  # the officer's own columns, kept across rebuilds
SUMMARY_FINDINGS = 5
NOTES_SHOWN = 3


@dataclass
class Book:
    """What the sheet builders share: the data, the officer's own columns, where the files were put."""

    data: TrackerData
    kept: dict[str, dict[str, str]]  # receipt → {officer header: text}
    placed: Placed = field(default_factory=dict)
    orientation_table: tuple[int, int] = (0, 0)  # first and last row of the orientation table on "Thống kê"

    @property
    def stamp(self) -> str:
        return vn_stamp(self.data.generated_at)

    @property
    def submissions(self) -> list[SubmissionView]:
        return sorted(self.data.submissions, key=lambda s: (to_vn(s.first_received_at), s.receipt))

    def setup(self, ws: Worksheet, title_rows: str | None = "1:1") -> None:
        print_setup(ws, call=self.data.call or "Hồ sơ đề xuất nhiệm vụ", stamp=self.stamp, title_rows=title_rows)


#: A sheet builder adds its sheet(s) to the workbook. More sheets (e.g. "Đơn vị") are added by appending here
#: or through `build_workbook(extra=...)`; they run after the standard sheets, before the hidden one.
SheetBuilder = Callable[[Workbook, Book], None]


# ---------------------------------------------------------------- sheet 1: submissions

SUBMISSION_COLUMNS = (
    Column(RECEIPT_HEADER, 17),
    Column("Đơn vị", 24, "wrap"),
    Column("Người gửi", 20, "wrap"),
    Column("Nhận lần đầu", 16, "date"),
    Column("Nhận lần cuối", 16, "date"),
    Column("Số lần nộp", 7, "int"),
    Column("Trạng thái", 14, "wrap"),
    Column("Số nhiệm vụ", 8, "int"),
    Column("Tổng kinh phí (triệu đồng)", 11, "money"),
    Column("Kinh phí NSNN (triệu đồng)", 11, "money"),
    Column("Số lỗi", 6, "int"),
    Column("Tóm tắt lỗi", 36, "wrap"),
    Column("Lời nhắn", 26, "wrap"),
    Column("Chữ ký số", 16, "wrap"),
    Column("Tệp (lần nộp cuối)", 14, "link"),
    Column(DECISION_HEADER, 14, "wrap"),
    Column(NOTE_HEADER, 20, "wrap"),
)
STATUS_COLUMN = 7
NOTE_COLUMN = 13


def budget(tasks: list[dict[str, Any]], key: str) -> float:
    return round(sum(v for t in tasks if isinstance(v := t.get(key), int | float) and not isinstance(v, bool)), 6)


def finding_summary(findings: list[dict[str, Any]]) -> str:
    first = sorted(findings, key=lambda f: f.get("severity") != "error")  # errors first, order kept
    lines = [finding_line(f) for f in first[:SUMMARY_FINDINGS]]
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


def message_note(m: MessageView) -> tuple[str | None, bool]:
    """The sender's words in a message and whether they ask; a noted message without words keeps its subject."""
    if m.action == "noted":
        words = m.note if m.note and m.note != m.subject else None
        return words, asks_for_something(words)
    return m.note, m.note_asks


def notes_by_receipt(messages: list[MessageView]) -> dict[str, tuple[str, bool]]:
    """receipt → its last few notes, dated, oldest first; and whether one of them asks for something."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for m in sorted(messages, key=lambda m: to_vn(m.received_at)):
        words, asks = message_note(m)
        if m.receipt and words:
            found.setdefault(m.receipt, []).append((f"{vn_stamp(m.received_at)}: {words}", asks))
    return {
        receipt: ("\n".join(text for text, _ in notes[-NOTES_SHOWN:]), any(a for _, a in notes[-NOTES_SHOWN:]))
        for receipt, notes in found.items()
    }


def files_cell(s: SubmissionView, book: Book) -> Link | None:
    placed = book.placed.get((s.receipt, s.version))
    if not placed:
        return None
    return Link(f"{len(placed)} tệp – mở thư mục lần nộp {s.version}", folder_target(s.receipt, s.version))


def submission_row(s: SubmissionView, book: Book, notes: dict[str, tuple[str, bool]]) -> list[Any]:
    errors = sum(1 for f in s.findings if f.get("severity") == "error")
    kept = book.kept.get(s.receipt, {})
    note = notes.get(s.receipt, (s.note, s.note_asks))[0]
    return [
        s.receipt, s.organization, readable_address(s.sender), s.first_received_at, s.last_received_at, s.version,
        submission_label(s), len(s.tasks), budget(s.tasks, "kinh_phi_tong"), budget(s.tasks, "kinh_phi_nsnn"),
        errors, finding_summary(s.findings), note, signature_text(s), files_cell(s, book),
        kept.get(DECISION_HEADER), kept.get(NOTE_HEADER),
    ]  # fmt: skip


def build_submissions(wb: Workbook, book: Book) -> None:
    ws = wb.active
    assert ws is not None  # a new Workbook always has one sheet
    ws.title = SUBMISSIONS
    submissions = book.submissions
    notes = notes_by_receipt(book.data.messages)
    fill_table(ws, "HoSo", SUBMISSION_COLUMNS, (submission_row(s, book, notes) for s in submissions))
    for row, s in enumerate(submissions, start=2):
        key = state(s.status, s.late)
        colour(at(ws, row, STATUS_COLUMN), *STATE_COLOURS.get(key, ("FFFFFF", "000000")), bold=key[1])
        if notes.get(s.receipt, (None, s.note_asks))[1]:
            at(ws, row, NOTE_COLUMN).fill = ASKS_FILL
            at(ws, row, NOTE_COLUMN).font = BOLD
    ws.freeze_panes = "B2"
    book.setup(ws)


# ---------------------------------------------------------------- sheet 3: files, one link each

FILE_COLUMNS = (
    Column(RECEIPT_HEADER, 17),
    Column("Lần nộp", 8, "int"),
    Column("Nhận lúc", 16, "date"),
    Column("Tệp", 60, "link"),
)


def build_files(wb: Workbook, book: Book) -> None:
    ws = wb.create_sheet(FILES)
    times = {(f.receipt, f.version): f.received_at for f in book.data.files}
    rows = [
        [receipt, version, times.get((receipt, version)), Link(name, target)]
        for (receipt, version), files in book.placed.items()
        for name, target in files
    ]
    fill_table(ws, "TepHoSo", FILE_COLUMNS, rows)
    ws.freeze_panes = "A2"
    book.setup(ws)


# ---------------------------------------------------------------- sheet 4: message log

LOG_COLUMNS = (
    Column("Thời gian", 16, "date"),
    Column("Người gửi", 24, "wrap"),
    Column("Tiêu đề", 30, "wrap"),
    Column("Xử lý", 16, "wrap"),
    Column("Lý do", 36, "wrap"),
    Column("Lời nhắn", 32, "wrap"),
    Column(RECEIPT_HEADER, 17),
    Column("Thư trả lời", 18, "wrap"),
)
LOG_NOTE_COLUMN = 6


def message_row(m: MessageView) -> list[Any]:
    reason = message_reason(m)
    if m.reprocessed_at:
        when = vn_stamp(dt.datetime.fromisoformat(m.reprocessed_at))
        reason = f"{reason} (xử lý lại lúc {when})".strip()
    sender = readable_address(m.sender)  # a domain received as xn--… shown as the officer reads it
    words, _ = message_note(m)
    return [m.received_at, sender, m.subject, ACTION_LABELS.get(m.action, m.action), reason, words, m.receipt,
            reply_text(m)]  # fmt: skip


def build_log(wb: Workbook, book: Book) -> None:
    ws = wb.create_sheet(LOG)
    newest_first = sorted(book.data.messages, key=lambda m: to_vn(m.received_at), reverse=True)
    fill_table(ws, "NhatKy", LOG_COLUMNS, (message_row(m) for m in newest_first))
    for row, m in enumerate(newest_first, start=2):
        if message_note(m)[1]:
            at(ws, row, LOG_NOTE_COLUMN).fill = ASKS_FILL
    ws.freeze_panes = "A2"
    book.setup(ws)


# ---------------------------------------------------------------- sheets 5 and 6: statistics and the chart

UNKNOWN_ORIENTATION = "Chưa xác định"
STATUS_STATS_TOP = 3
STATUS_STATS_COLUMNS = (Column("Trạng thái", 30, "wrap"), Column("Số hồ sơ", 12, "int"))
ORIENTATION_STATS_COLUMNS = (
    Column("Mã", 6, "int"),
    Column("Định hướng", 26),
    Column("Số nhiệm vụ", 12, "int"),
    Column("Tổng kinh phí (triệu đồng)", 16, "money"),
    Column("Kinh phí NSNN (triệu đồng)", 16, "money"),
)
NEEDS_CORRECTION_ALL = "Trong đó cần chỉnh sửa (kể cả nộp muộn)"
LATE_ALL = "Trong đó nộp muộn (kể cả cần chỉnh sửa)"
ASKING = "Lời nhắn cần cán bộ trả lời"


def status_counts(submissions: list[SubmissionView]) -> list[list[Any]]:
    """One row per state: the same definitions as `export --json` (status, and late beside it)."""
    states = [state(s.status, s.late) for s in submissions]
    return [[status_label(*key), states.count(key)] for key in STATES]


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


def put_row(ws: Worksheet, row: int, values: list[Any], columns: tuple[Column, ...], *, bold: bool) -> None:
    for index, (value, column) in enumerate(zip(values, columns, strict=True), start=1):
        put_value(at(ws, row, index), value, column.kind)
        if bold:
            at(ws, row, index).font = BOLD


def build_stats(wb: Workbook, book: Book) -> None:
    ws = wb.create_sheet(STATS)
    put_text(at(ws, 1, 1), f"Thống kê hồ sơ đề xuất nhiệm vụ — Cập nhật lúc {book.stamp}")
    at(ws, 1, 1).font = Font(bold=True, size=14)
    subs = book.data.submissions
    last = fill_table(ws, "ThongKeTrangThai", STATUS_STATS_COLUMNS, status_counts(subs), top=STATUS_STATS_TOP)
    for row, key in enumerate(STATES, start=STATUS_STATS_TOP + 1):
        colour(at(ws, row, 1), *STATE_COLOURS[key], bold=key[1])
    put_row(ws, last + 1, ["Tổng cộng", len(subs)], STATUS_STATS_COLUMNS, bold=True)
    asking = sum(1 for m in book.data.messages if message_note(m)[1])
    extra = [
        [NEEDS_CORRECTION_ALL, sum(1 for s in subs if state(s.status, s.late)[0] == "needs_correction")],
        [LATE_ALL, sum(1 for s in subs if state(s.status, s.late)[1])],
        [ASKING, asking],
    ]
    for offset, values in enumerate(extra, start=2):
        put_row(ws, last + offset, values, STATUS_STATS_COLUMNS, bold=False)
    book.orientation_table = build_orientation_stats(ws, book.data, top=last + 2 + len(extra) + 1)
    for letter, width in zip("ABCDE", (30, 30, 14, 16, 16), strict=True):  # the two tables share columns
        ws.column_dimensions[letter].width = width
    book.setup(ws, title_rows=None)


def build_orientation_stats(ws: Worksheet, data: TrackerData, top: int) -> tuple[int, int]:
    rows = orientation_rows(data)
    last = fill_table(ws, "ThongKeDinhHuong", ORIENTATION_STATS_COLUMNS, rows, top=top)
    totals = [None, "Tổng cộng", *(round(sum(r[i] for r in rows), 6) for i in (2, 3, 4))]
    put_row(ws, max(last, top + 1) + 1, totals, ORIENTATION_STATS_COLUMNS, bold=True)
    return top, last


def build_chart(wb: Workbook, book: Book) -> None:
    """The budget chart on a sheet of its own, one landscape page; its data stay on "Thống kê"."""
    stats = wb[STATS]
    top, last = book.orientation_table
    ws = wb.create_sheet(CHART)
    put_text(at(ws, 1, 1), "Kinh phí theo định hướng (triệu đồng)")
    at(ws, 1, 1).font = Font(bold=True, size=14)
    if last > top:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Kinh phí theo định hướng (triệu đồng)"
        chart.height, chart.width = 15, 25  # cm: fits an A4 landscape page
        chart.add_data(Reference(stats, min_col=4, max_col=5, min_row=top, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(stats, min_col=2, min_row=top + 1, max_row=last))
        ws.add_chart(chart, "A3")
    ws.print_area = "A1:P32"
    book.setup(ws, title_rows=None)
    ws.page_setup.fitToHeight = 1


# ---------------------------------------------------------------- the workbook


def build_old_notes(wb: Workbook, orphans: dict[str, dict[str, str]]) -> None:
    ws = wb.create_sheet(OLD_NOTES)
    ws.sheet_state = "hidden"
    columns = (Column(RECEIPT_HEADER, 17), *(Column(h, 60, "wrap") for h in OFFICER_HEADERS))
    rows = [[receipt, *(kept.get(h) for h in OFFICER_HEADERS)] for receipt, kept in sorted(orphans.items())]
    fill_table(ws, "GhiChuCu", columns, rows)


STANDARD_SHEETS: tuple[SheetBuilder, ...] = (
    build_submissions,
    build_tasks,
    build_files,
    build_log,
    build_stats,
    build_chart,
)


def build_workbook(book: Book, extra: tuple[SheetBuilder, ...] = ()) -> Workbook:
    """The whole workbook; the officer's columns go beside their receipts, or to the hidden sheet when gone."""
    wb = Workbook()
    for builder in (*STANDARD_SHEETS, *extra):
        builder(wb, book)
    present = {s.receipt for s in book.data.submissions}
    orphans = {receipt: kept for receipt, kept in book.kept.items() if receipt not in present}
    if orphans:
        build_old_notes(wb, orphans)
    wb.properties.creator = "mailbot"
    return wb
