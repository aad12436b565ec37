"""Cells, tables and page setup of the officer's workbook (no file I/O here).

Every string that may come from submitted data goes through `put_text`: cleaned of characters XML
cannot carry, truncated to Excel's cell limit, and stored as text (never a formula), with Excel's
quote prefix so that editing the cell by hand does not turn it into one either.

Number formats are stored the way the file format defines them, in the invariant (en-US) syntax: ","
groups thousands and "." marks the decimals. Excel and LibreOffice show them with the separators of the
reader's locale, so `#,##0.0` is displayed as 1.234,5 by a Vietnamese (vi-VN) Excel and as 1,234.5 by an
English one. Writing the Vietnamese-looking `#.##0,0` would be wrong: in the stored syntax "." is the decimal
point and a trailing "," divides by a thousand, so 1234.5 would show as "1.2".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
DATE_FORMAT = "dd/mm/yyyy hh:mm"
MONEY_FORMAT = "#,##0.0"  # shown as #.##0,0 by a Vietnamese Excel: see the module's docstring
MAX_CELL_CHARS = 32_767
TRUNCATION_MARK = "… [đã cắt bớt]"
HEADER_ROW_HEIGHT = 45  # three lines of a wrapped header
MAX_HEADER_PART = 80  # characters of the call's title in the printed header (Excel allows 255 in all)

# Beyond openpyxl's control characters: lone surrogates and the two non-characters XML 1.0 forbids.
_UNWRITABLE_RE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TOP = Alignment(vertical="top")
_WRAP = Alignment(vertical="top", wrap_text=True)
_HEADER = Alignment(vertical="center", horizontal="center", wrap_text=True)
BOLD = Font(bold=True)
LINK_FONT = Font(color="0563C1", underline="single")
ASKS_FILL = PatternFill("solid", start_color="FFD966", end_color="FFD966")


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = "text"  # text | wrap | int | money | date | link


@dataclass(frozen=True)
class Link:
    """A cell that opens a file or a folder, relative to the workbook."""

    text: str
    target: str | None  # None: the file is not there (shown without a link)


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


def vn_stamp(moment: dt.datetime) -> str:
    return to_vn(moment).strftime("%d/%m/%Y %H:%M")


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
    elif isinstance(value, Link):
        put_link(cell, value)
    else:
        put_text(cell, value)


def put_link(cell: Cell, link: Link) -> None:
    put_text(cell, link.text)
    if link.target:
        cell.hyperlink = link.target
        cell.font = LINK_FONT


def fill_table(ws: Worksheet, name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], top: int = 1) -> int:
    """Write a header and rows as an Excel table with filters; returns the last row used."""
    for index, column in enumerate(columns, start=1):
        put_text(at(ws, top, index), column.header)
        at(ws, top, index).font = BOLD
        at(ws, top, index).alignment = _HEADER
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.row_dimensions[top].height = HEADER_ROW_HEIGHT
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


def colour(cell: Cell, fill: str, font: str, *, bold: bool = False) -> None:
    cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
    cell.font = Font(color=font, bold=bold)


def header_text(text: str) -> str:
    """Text for a printed header or footer: '&' doubled (it starts a code there), cut short."""
    short = text if len(text) <= MAX_HEADER_PART else text[: MAX_HEADER_PART - 1] + "…"
    return clean_text(short).replace("&", "&&")


def print_setup(ws: Worksheet, *, call: str, stamp: str, title_rows: str | None = "1:1") -> None:
    """A4 landscape, one page wide, the header row on every page; the call, the sheet and the page in the margins."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.75, bottom=0.75, header=0.3, footer=0.3)
    ws.print_options.horizontalCentered = True
    if title_rows:
        ws.print_title_rows = title_rows
    header, footer = ws.oddHeader, ws.oddFooter
    assert header is not None and footer is not None  # a new worksheet has both
    for part, text in (
        (header.left, header_text(call)),
        (header.right, "&A"),
        (footer.left, f"Cập nhật lúc {stamp}"),
        (footer.right, "Trang &P/&N"),
    ):
        part.text, part.size = text, 9
