"""The "Nhiệm vụ" sheet: one row per task of every submission's latest version, as the officer compiles them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook

from mailbot.adapters.xlsx_labels import RECEIPT_TERM
from mailbot.adapters.xlsx_tracker_cells import Column, fill_table
from mailbot.model import SubmissionView

if TYPE_CHECKING:
    from mailbot.adapters.xlsx_tracker_sheets import Book

TASKS = "Nhiệm vụ"
_YEAR_MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")

TASK_COLUMNS = (
    Column(RECEIPT_TERM, 17),
    Column("Đơn vị", 20, "wrap"),
    Column("STT", 5, "int"),
    Column("Tên nhiệm vụ", 30, "wrap"),
    Column("Định hướng", 7, "int"),
    Column("Tên định hướng", 14, "wrap"),
    Column("Mục tiêu", 28, "wrap"),
    Column("Nội dung chính", 34, "wrap"),
    Column("Sản phẩm dự kiến", 24, "wrap"),
    Column("Đơn vị chủ trì", 18, "wrap"),
    Column("Đơn vị phối hợp", 16, "wrap"),
    Column("Bắt đầu", 9),
    Column("Kết thúc", 9),
    Column("Tổng (triệu đồng)", 11, "money"),
    Column("NSNN (triệu đồng)", 11, "money"),
    Column("Nguồn khác (triệu đồng)", 11, "money"),
    Column("Ghi chú", 16, "wrap"),
    Column("Loại", 14, "wrap"),
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


def build_tasks(wb: Workbook, book: Book) -> None:
    ws = wb.create_sheet(TASKS)
    orientations = book.data.orientations
    rows = (task_row(s, t, orientations) for s in book.submissions for t in s.tasks)
    fill_table(ws, "NhiemVu", TASK_COLUMNS, rows)
    ws.freeze_panes = "A2"
    book.setup(ws)
