"""The sheet "Đơn vị" of the tracking workbook: every roster unit with its state, then the submissions from
outside the roster ("Ngoài danh sách") and those whose unit is not clear ("Chưa rõ đơn vị").

Written only when there is a roster; no file I/O here. Text goes through the workbook's `put_text` (formula-safe).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.header_footer import HeaderFooterItem
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.adapters.xlsx_labels import RECEIPT_TERM as RECEIPT_HEADER
from mailbot.adapters.xlsx_labels import submission_label
from mailbot.adapters.xlsx_tracker_cells import Column, at, fill_table, put_text, to_vn
from mailbot.addresses import readable_address
from mailbot.model import SubmissionView, TrackerData
from mailbot.officer.matching import (
    AMBIGUOUS_LABEL,
    MATCHED_BY_LABELS,
    OUTSIDE_LABEL,
    STATE_LABELS,
    Ambiguous,
    RosterState,
    UnitState,
)

UNITS = "Đơn vị"
UNIT_COLUMNS = (
    Column("Mã", 10),
    Column("Đơn vị", 40, "wrap"),
    Column("Địa chỉ thư / tên miền", 32, "wrap"),
    Column("Trạng thái", 24),
    Column(RECEIPT_HEADER, 16),
    Column("Nhận lần cuối", 17, "date"),
    Column("Số lần nộp", 11, "int"),
    Column("Khớp theo", 14),
    Column("Ghi chú", 50, "wrap"),
)
STATE_COLUMN = 4
#: Soft fill, dark font (Excel's "Good", "Neutral", "Bad"; grey and blue for rows that are not roster units).
STATE_COLOURS = {
    STATE_LABELS["not_submitted"]: ("FFC7CE", "9C0006"),
    STATE_LABELS["submitted"]: ("C6EFCE", "006100"),
    STATE_LABELS["needs_correction"]: ("FFEB9C", "9C5700"),
    STATE_LABELS["late"]: ("FCE4D6", "833C0B"),
    STATE_LABELS["late_needs_correction"]: ("FCE4D6", "833C0B"),
    OUTSIDE_LABEL: ("EDEDED", "404040"),
    AMBIGUOUS_LABEL: ("DDEBF7", "1F4E78"),
}


def add_units_sheet(wb: Workbook, data: TrackerData) -> Workbook:
    """`wb` with the sheet "Đơn vị" second, when the data has a roster; `wb` unchanged otherwise."""
    if data.roster is not None:
        build_units(wb.create_sheet(UNITS, 1), data.roster, data.generated_at)
    return wb


def build_units(ws: Worksheet, state: RosterState, generated_at: dt.datetime | None = None) -> None:
    rows = [*_unit_rows(state), *_other_rows(state)]
    last = fill_table(ws, "DonVi", UNIT_COLUMNS, rows)
    for row, values in enumerate(rows, start=2):
        fill, font = STATE_COLOURS.get(values[STATE_COLUMN - 1], ("FFFFFF", "000000"))
        cell = at(ws, row, STATE_COLUMN)
        cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
        cell.font = Font(color=font)
    put_text(at(ws, max(last, 2) + 2, 2), _summary(state))
    at(ws, max(last, 2) + 2, 2).font = Font(bold=True)
    ws.freeze_panes = "C2"
    stamp = f" — cập nhật lúc {to_vn(generated_at).strftime('%d/%m/%Y %H:%M')}" if generated_at else ""
    _print_setup(ws, f"Tình hình nộp hồ sơ theo đơn vị{stamp}")


def _unit_rows(state: RosterState) -> Iterator[list[Any]]:
    for unit_state in state.units:
        unit, latest = unit_state.unit, unit_state.latest
        where = "\n".join([*unit.addresses, *(f"@{d}" for d in unit.domains)])
        how = MATCHED_BY_LABELS[unit_state.matched_by[latest.receipt]] if latest else None
        yield [
            unit.code, unit.name, where, unit_state.label, latest.receipt if latest else None,
            latest.last_received_at if latest else None, latest.version if latest else None, how,
            _unit_note(unit_state),
        ]  # fmt: skip


def _unit_note(unit_state: UnitState) -> str:
    notes = []
    if len(unit_state.submissions) > 1:
        notes.append("Các hồ sơ khác: " + ", ".join(s.receipt for s in unit_state.submissions[:-1]))
    if unit_state.possible:
        receipts = ", ".join(s.receipt for s in unit_state.possible)
        notes.append(f"Có thể đã nộp: {receipts} (chưa rõ đơn vị, xem cuối bảng)")
    return "\n".join(notes)


def _other_rows(state: RosterState) -> Iterator[list[Any]]:
    """Submissions from outside the roster, then the ambiguous ones, each oldest first."""
    for submission in state.outside:
        yield _submission_row(submission, OUTSIDE_LABEL, None, _status_note(submission))
    for item in state.ambiguous:
        yield _submission_row(item.submission, AMBIGUOUS_LABEL, MATCHED_BY_LABELS[item.matched_by], _candidates(item))


def _submission_row(s: SubmissionView, label: str, how: str | None, note: str) -> list[Any]:
    sender = readable_address(s.sender)
    return [None, s.organization, sender, label, s.receipt, s.last_received_at, s.version, how, note]


def _status_note(s: SubmissionView) -> str:
    return f"Hồ sơ: {submission_label(s)}"


def _candidates(item: Ambiguous) -> str:
    names = "; ".join(unit.label for unit in item.candidates)
    return f"{_status_note(item.submission)}\nCó thể là: {names} (cán bộ xác định đơn vị)"


def _summary(state: RosterState) -> str:
    counts = state.counts()
    parts = [f"{STATE_LABELS[key]}: {count}" for key, count in counts.items()]
    extra = [f"{OUTSIDE_LABEL}: {len(state.outside)}"] if state.outside else []
    if state.ambiguous:
        extra.append(f"{AMBIGUOUS_LABEL}: {len(state.ambiguous)}")
    return f"Tổng số đơn vị: {len(state.units)} — " + "; ".join([*parts, *extra])


def _print_setup(ws: Worksheet, title: str) -> None:
    """A4 landscape, one page wide, the header row on every page, page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = "1:1"
    ws.oddHeader = _header_footer(ws.oddHeader, title.replace("&", "&&"))
    ws.oddFooter = _header_footer(ws.oddFooter, "Trang &P/&N")


def _header_footer(item: HeaderFooterItem | None, text: str) -> HeaderFooterItem:
    item = item or HeaderFooterItem()
    item.center.text = text
    return item
