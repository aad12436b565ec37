"""The compiled plan as an Excel workbook: sheet "Tổng hợp" (the plan) and sheet "Theo đơn vị" (per unit).

Rows of "Tổng hợp" (1-based): 1–2 the national header (issuer left, the country's motto right), 4 title,
5 the call, 6 when it was compiled, 7 the money unit, 8–9 the form's two-row header, 10 the column numbers,
data from 11. Every sub-total is `=SUBTOTAL(9, <its group's task rows>)` and every section total
`=SUBTOTAL(9, <the whole section>)`: SUBTOTAL leaves other SUBTOTAL cells out, so no sum counts twice.
The per-unit sheet sums the plan's rows of each unit with SUMPRODUCT (an exact comparison: a unit's name
with `*` or `?` in it would be a wildcard to SUMIF).

Money is in million VND with the number format `#,##0.0`. A format code is stored in the file in Excel's
invariant notation, where `,` is the thousands separator and `.` the decimal point; Excel shows it with the
reader's locale, so a Vietnamese Excel shows 1234.5 as "1.234,5" (and lists the format as `#.##0,0`).
Writing `#.##0,0` itself into the file would be wrong: an English Excel would read it as a literal.
"""

from __future__ import annotations

import io
import math
from itertools import groupby

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.forms.xlsx import put_text
from mailbot.officer.compiled import (
    MONEY_UNIT,
    SECTION_STATES,
    UNIT_LABEL,
    CompiledPlan,
    PlanColumn,
    PlanSection,
    PlanTask,
    cell_text,
    money,
)

PLAN_SHEET = "Tổng hợp"
UNITS_SHEET = "Theo đơn vị"
MONEY_FORMAT = "#,##0.0"
FONT = "Times New Roman"
HEADER_ROW, SUBHEADER_ROW, NUMBER_ROW, FIRST_DATA_ROW = 8, 9, 10, 11
UNITS_HEADER_ROW, UNITS_FIRST_ROW = 4, 6
COUNTRY = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FILLS = {"section": "FFD9E1F2", "group": "FFF2F2F2", "header": "FFDDEBF7"}
_LINE_HEIGHT = 14.0  # points per line of 11-point text
_CHARS_PER_WIDTH = 1.1  # characters of Times New Roman 11 that fit in one unit of column width


def plan_xlsx(plan: CompiledPlan) -> bytes:
    workbook = Workbook()
    for style in _styles():
        workbook.add_named_style(style)
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)  # a new Workbook always starts with one worksheet
    sheet.title = PLAN_SHEET
    ranges = _PlanSheet(sheet, plan).write()
    units = workbook.create_sheet(UNITS_SHEET)
    _UnitsSheet(units, plan, ranges).write()
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _styles() -> list[NamedStyle]:
    def style(
        name: str, *, bold: bool = False, italic: bool = False, number: str = "General", **align: str
    ) -> NamedStyle:
        alignment = Alignment(wrap_text=True, vertical=align.get("vertical", "top"), horizontal=align.get("horizontal"))
        font = Font(name=FONT, size=11, bold=bold, italic=italic)
        return NamedStyle(name, font=font, alignment=alignment, border=_BORDER, number_format=number)

    return [
        style("plan_text"),
        style("plan_money", number=MONEY_FORMAT),
        style("plan_count", number="0", horizontal="center"),
        style("plan_label", bold=True, vertical="center"),
        style("plan_sum", bold=True, number=MONEY_FORMAT, vertical="center"),
        style("plan_head", bold=True, horizontal="center", vertical="center"),
    ]


# --- the plan sheet -------------------------------------------------------------------------------------


class _PlanSheet:
    """Writes the plan row by row; `write` returns each section's first and last data rows (for the unit sheet)."""

    def __init__(self, sheet: Worksheet, plan: CompiledPlan) -> None:
        self.sheet, self.plan, self.columns = sheet, plan, plan.columns
        self.width = len(plan.columns)
        self.row = FIRST_DATA_ROW
        money_at = [i for i, c in enumerate(plan.columns, start=1) if c.type == "money"]
        self.label_end = money_at[0] - 1 if money_at and money_at[0] > 1 else self.width

    def write(self) -> dict[str, tuple[int, int]]:
        _national_header(self.sheet, self.plan, self.columns, self.plan.title.upper())
        _header(self.sheet, self.columns, HEADER_ROW, numbers=True)
        ranges: dict[str, tuple[int, int]] = {}
        for section in self.plan.sections:
            ranges[section.key] = self._section(section)
            self.row += 1  # a blank row between sections
        _print_setup(self.sheet, self.plan, f"{HEADER_ROW}:{NUMBER_ROW}")
        self.sheet.freeze_panes = f"A{FIRST_DATA_ROW}"
        return ranges

    def _section(self, section: PlanSection) -> tuple[int, int]:
        self._banner(section.title, "section")
        first = self.row
        number = 0
        for group in section.groups:
            self._banner(f"{group.number}. {group.title}", "group")
            start = self.row
            for task in group.tasks:
                number += 1
                self._task(number, task)
            self._sums(group.subtotal_label, start, self.row - 1)
        self._sums(section.total_label, first, self.row - 1)
        return first, self.row - 1

    def _banner(self, text: str, kind: str) -> None:
        put_text(self.sheet, self.row, 1, text)
        self._style_row("plan_label", fill=_FILLS[kind])
        self.sheet.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=self.width)
        self.sheet.row_dimensions[self.row].height = _LINE_HEIGHT * _lines(text, sum(c.width for c in self.columns))
        self.row += 1

    def _task(self, number: int, task: PlanTask) -> None:
        self._style_row("plan_text")
        lines = 1
        for index, column in enumerate(self.columns, start=1):
            cell = self.sheet.cell(self.row, index)
            if column.type == "money":
                cell.value, cell.style = money(task, column.key), "plan_money"
            elif column.key == "stt":
                cell.value, cell.style = number, "plan_count"
            else:
                text = cell_text(column, task)
                put_text(self.sheet, self.row, index, text)
                lines = max(lines, _lines(text, column.width))
        self.sheet.row_dimensions[self.row].height = _LINE_HEIGHT * lines + 2
        self.row += 1

    def _sums(self, label: str, first: int, last: int) -> None:
        self._style_row("plan_sum")
        put_text(self.sheet, self.row, 1, label)
        self.sheet.cell(self.row, 1).style = "plan_label"
        if self.label_end > 1:
            self.sheet.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=self.label_end)
        for index, column in enumerate(self.columns, start=1):
            if column.type == "money":
                letter = get_column_letter(index)
                self.sheet.cell(self.row, index).value = f"=SUBTOTAL(9,{letter}{first}:{letter}{last})"
        self.sheet.row_dimensions[self.row].height = _LINE_HEIGHT + 4
        self.row += 1

    def _style_row(self, style: str, fill: str | None = None) -> None:
        for index in range(1, self.width + 1):
            cell = self.sheet.cell(self.row, index)
            cell.style = style
            if fill is not None:
                cell.fill = PatternFill(fill_type="solid", start_color=fill, end_color=fill)


# --- the per-unit sheet -------------------------------------------------------------------------------


class _UnitsSheet:
    """STT, unit, receipts, state, number of tasks, and each money column: formulas over the plan's rows."""

    def __init__(self, sheet: Worksheet, plan: CompiledPlan, ranges: dict[str, tuple[int, int]]) -> None:
        self.sheet, self.plan, self.ranges = sheet, plan, ranges
        self.money = [(i, c) for i, c in enumerate(plan.columns, start=1) if c.type == "money"]
        unit_at = next(i for i, c in enumerate(plan.columns, start=1) if c.label == UNIT_LABEL)
        self.unit_letter = get_column_letter(unit_at)
        self.columns = [
            PlanColumn("stt", "STT", None, 6),
            PlanColumn("unit", UNIT_LABEL, None, 40),
            PlanColumn("receipts", "Số tiếp nhận", None, 22),
            PlanColumn("state", "Tình trạng", None, 16),
            PlanColumn("count", "Số nhiệm vụ", None, 11),
            *(PlanColumn(c.key, c.label, c.group, 15, "money") for _, c in self.money),
        ]
        self.row = UNITS_FIRST_ROW

    def write(self) -> None:
        title = f"TỔNG HỢP THEO {UNIT_LABEL.upper()}"
        for row, text in ((1, title), (2, self.plan.title), (3, MONEY_UNIT)):
            put_text(self.sheet, row, 1, text)
            self.sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(self.columns))
            self.sheet.cell(row, 1).font = Font(name=FONT, size=14 if row == 1 else 11, bold=row == 1, italic=row > 1)
            self.sheet.cell(row, 1).alignment = Alignment(horizontal="right" if row == 3 else "center")
        _header(self.sheet, self.columns, UNITS_HEADER_ROW, numbers=False)
        for section in self.plan.sections:
            self._section(section)
        _print_setup(self.sheet, self.plan, f"{UNITS_HEADER_ROW}:{UNITS_HEADER_ROW + 1}")

    def _section(self, section: PlanSection) -> None:
        put_text(self.sheet, self.row, 1, section.title)
        for index in range(1, len(self.columns) + 1):
            self.sheet.cell(self.row, index).style = "plan_label"
        self.sheet.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=len(self.columns))
        self.row += 1
        first_row, last_row = self.ranges[section.key]
        first = self.row
        for number, line in enumerate(section.units, start=1):
            values: list[str | int] = [number, line.unit, ", ".join(line.receipts), SECTION_STATES[section.key]]
            self._unit(values, first_row, last_row)
        self._total(section, first, self.row - 1)

    def _unit(self, values: list[str | int], first: int, last: int) -> None:
        for index, value in enumerate(values, start=1):
            cell = self.sheet.cell(self.row, index)
            cell.style = "plan_count" if index == 1 else "plan_text"
            if isinstance(value, str):
                put_text(self.sheet, self.row, index, value)
            else:
                cell.value = value
        plan = quote_sheetname(PLAN_SHEET)
        same = f"({plan}!${self.unit_letter}${first}:${self.unit_letter}${last}=$B{self.row})"
        count = self.sheet.cell(self.row, 5, f"=SUMPRODUCT(--{same})")
        count.style = "plan_count"
        for offset, (plan_index, _) in enumerate(self.money, start=6):
            letter = get_column_letter(plan_index)
            cell = self.sheet.cell(self.row, offset, f"=SUMPRODUCT({same}*{plan}!${letter}${first}:${letter}${last})")
            cell.style = "plan_money"
        self.sheet.row_dimensions[self.row].height = _LINE_HEIGHT * _lines(str(values[1]), 40) + 2
        self.row += 1

    def _total(self, section: PlanSection, first: int, last: int) -> None:
        letter = "A" if section.key == "accepted" else "B"
        put_text(self.sheet, self.row, 1, f"Cộng {letter}")
        self.sheet.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=4)
        for index in range(1, len(self.columns) + 1):
            cell = self.sheet.cell(self.row, index)
            cell.style = "plan_label" if index < 5 else "plan_sum"
            if index >= 5:
                column = get_column_letter(index)
                cell.value = f"=SUM({column}{first}:{column}{last})"
        self.sheet.cell(self.row, 5).number_format = "0"
        self.row += 2


# --- shared: national header, two-row column header, print setup -----------------------------------------


def _national_header(sheet: Worksheet, plan: CompiledPlan, columns: list[PlanColumn], title: str) -> None:
    width = len(columns)
    split = _split(columns)
    left, right = (plan.issuer.ministry, plan.issuer.office), COUNTRY
    for row in (1, 2):
        put_text(sheet, row, 1, left[row - 1])
        put_text(sheet, row, split + 1, right[row - 1])
        for first, last in ((1, split), (split + 1, width)):
            if last > first:
                sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
            sheet.cell(row, first).font = Font(name=FONT, size=12, bold=row == 2 or first > 1)
            sheet.cell(row, first).alignment = Alignment(horizontal="center", vertical="center")
    for row, text, size in ((4, title, 14), (5, plan.call_title, 12), (6, plan.updated_line, 11), (7, MONEY_UNIT, 11)):
        put_text(sheet, row, 1, text)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        sheet.cell(row, 1).font = Font(name=FONT, size=size, bold=row == 4, italic=row > 4)
        horizontal = "right" if row == 7 else "center"
        sheet.cell(row, 1).alignment = Alignment(horizontal=horizontal, vertical="center", wrap_text=True)
    sheet.row_dimensions[4].height = 24
    sheet.row_dimensions[5].height = _LINE_HEIGHT * 2 + 4


def _split(columns: list[PlanColumn]) -> int:
    """How many columns the issuer's block spans: about two fifths of the table's width."""
    total, run = sum(c.width for c in columns), 0.0
    for index, column in enumerate(columns, start=1):
        run += column.width
        if run >= total * 0.4:
            return min(index, len(columns) - 1) if len(columns) > 1 else 1
    return 1


def _header(sheet: Worksheet, columns: list[PlanColumn], row: int, *, numbers: bool) -> None:
    """The two-row header (a group over its columns, an ungrouped label over both rows), as the form lays it out."""
    index = 1
    for group, run in groupby(columns, key=lambda c: c.group):
        members = list(run)
        last = index + len(members) - 1
        if group is not None:
            put_text(sheet, row, index, group)
            if last > index:
                sheet.merge_cells(start_row=row, start_column=index, end_row=row, end_column=last)
        for offset, column in enumerate(members):
            at = index + offset
            put_text(sheet, row if group is None else row + 1, at, column.label)
            if group is None:
                sheet.merge_cells(start_row=row, start_column=at, end_row=row + 1, end_column=at)
        index = last + 1
    last_row = row + 2 if numbers else row + 1
    for at, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(at)].width = column.width
        if numbers:
            put_text(sheet, row + 2, at, f"({at})")
        for r in range(row, last_row + 1):
            cell = sheet.cell(r, at)
            cell.style = "plan_head"
            if r < row + 2:
                cell.fill = PatternFill(fill_type="solid", start_color=_FILLS["header"], end_color=_FILLS["header"])
    sheet.row_dimensions[row].height = sheet.row_dimensions[row + 1].height = 32


def _print_setup(sheet: Worksheet, plan: CompiledPlan, title_rows: str) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True  # type: ignore[union-attr]  # always set on a new sheet
    sheet.print_title_rows = title_rows
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    header, footer = sheet.oddHeader, sheet.oddFooter
    assert header is not None and footer is not None  # a new sheet always has both
    header.left.text = plan.title
    header.right.text = "&A"
    footer.center.text = "Trang &P/&N"
    footer.right.text = plan.updated_line


def _lines(text: str, width: float) -> int:
    """How many lines `text` takes when wrapped in a column `width` wide (an estimate: Excel does not size rows)."""
    per_line = max(1, int(width * _CHARS_PER_WIDTH))
    return max(1, sum(math.ceil(max(1, len(part)) / per_line) for part in text.split("\n")))
