"""Phụ lục 1 (the task table) as a blank Excel workbook, generated from the rules of a call.

The layout is a contract with mailbot's table finder: a filled-in copy must read back cleanly.
Rows (1-based): 1 title, 2 call title, 3–6 the submitter's organisation and contact (one "Label: "
cell each, written after the colon), 8–9 a two-row header (a group over its columns, an ungrouped
label merged over both rows), 10 the column numbers "(1)", "(2)", …, data from row 11.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.validation.schema import Column, Rules

DATA_SHEET = "Phụ lục 1"
GUIDE_SHEET = "Hướng dẫn"
LIST_SHEET = "Danh mục"
TITLE_ROW = 1
CALL_ROW = 2
FIRST_CONTACT_ROW = 3
CONTACT_LABELS = ("Tên đơn vị: ", "Người liên hệ: ", "Điện thoại: ", "Email: ")
HEADER_ROW = 8
SUBHEADER_ROW = 9
NUMBER_ROW = 10
FIRST_DATA_ROW = 11
DATA_ROW_COUNT = 50
LAST_DATA_ROW = FIRST_DATA_ROW + DATA_ROW_COUNT - 1

NUMBER_FORMATS = {"money": "#,##0.0##", "integer": "0", "month": "@"}

_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_PROMPT_TITLE_MAX = 32  # Excel's limits on a data validation's input prompt
_PROMPT_MAX = 255


@dataclass(frozen=True)
class HeaderSpan:
    """One row-8 header cell: a group over columns first..last, or one ungrouped column's label."""

    text: str
    first: int  # 1-based column index
    last: int
    is_group: bool


def header_spans(columns: list[Column]) -> list[HeaderSpan]:
    """The row-8 header cells: consecutive columns with the same group share one span."""
    spans: list[HeaderSpan] = []
    index = 1
    for group, run in groupby(columns, key=lambda c: c.group):
        members = list(run)
        if group is None:
            spans.extend(HeaderSpan(c.label, index + i, index + i, False) for i, c in enumerate(members))
        else:
            spans.append(HeaderSpan(group, index, index + len(members) - 1, True))
        index += len(members)
    return spans


def task_list_template(rules: Rules) -> bytes:
    """A blank Phụ lục 1 workbook (sheets "Phụ lục 1", "Hướng dẫn", hidden "Danh mục") as .xlsx bytes."""
    workbook = Workbook()
    data = workbook.active
    assert isinstance(data, Worksheet)  # a new Workbook always starts with one worksheet
    data.title = DATA_SHEET
    guide = workbook.create_sheet(GUIDE_SHEET)
    lists = workbook.create_sheet(LIST_SHEET)
    lists.sheet_state = "hidden"
    _fill_data_sheet(data, lists, rules)
    _fill_guide_sheet(guide, rules)
    workbook.active = 0
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def put_text(sheet: Worksheet, row: int, column: int, text: str) -> None:
    """Write `text` as text: never a formula (even when it starts with '='), no illegal characters."""
    cell = sheet.cell(row=row, column=column, value=ILLEGAL_CHARACTERS_RE.sub("", text))
    cell.data_type = "s"


# --- the data sheet ---------------------------------------------------------------------------


def _fill_data_sheet(sheet: Worksheet, lists: Worksheet, rules: Rules) -> None:
    width = len(rules.columns)
    _write_preamble(sheet, rules, width)
    _write_header(sheet, rules.columns)
    _write_numbers(sheet, width)
    _format_data_rows(sheet, rules.columns)
    _add_drop_downs(sheet, lists, rules.columns)
    _add_prompts(sheet, rules.columns)
    for index, column in enumerate(rules.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"
    _page_setup(sheet)


def _write_preamble(sheet: Worksheet, rules: Rules, width: int) -> None:
    put_text(sheet, TITLE_ROW, 1, rules.documents.phu_luc_1.title.upper())
    put_text(sheet, CALL_ROW, 1, rules.call.title)
    for row in (TITLE_ROW, CALL_ROW):
        if width > 1:
            sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    sheet.cell(TITLE_ROW, 1).font = Font(bold=True, size=14)
    sheet.cell(TITLE_ROW, 1).alignment = Alignment(horizontal="center", vertical="center")
    sheet.cell(CALL_ROW, 1).font = Font(italic=True)
    sheet.cell(CALL_ROW, 1).alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.row_dimensions[CALL_ROW].height = 33
    for offset, label in enumerate(CONTACT_LABELS):
        put_text(sheet, FIRST_CONTACT_ROW + offset, 1, label)
        sheet.cell(FIRST_CONTACT_ROW + offset, 1).font = Font(bold=True)


def _write_header(sheet: Worksheet, columns: list[Column]) -> None:
    for span in header_spans(columns):
        put_text(sheet, HEADER_ROW, span.first, span.text)
        if span.is_group and span.last > span.first:
            sheet.merge_cells(start_row=HEADER_ROW, start_column=span.first, end_row=HEADER_ROW, end_column=span.last)
        elif not span.is_group:
            sheet.merge_cells(
                start_row=HEADER_ROW, start_column=span.first, end_row=SUBHEADER_ROW, end_column=span.first
            )
    for index, column in enumerate(columns, start=1):
        if column.group is not None:
            put_text(sheet, SUBHEADER_ROW, index, column.label)
    for cell in _cells(sheet, HEADER_ROW, SUBHEADER_ROW, len(columns)):
        cell.font = Font(bold=True)
        cell.alignment = _CENTER
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
    sheet.row_dimensions[HEADER_ROW].height = 30
    sheet.row_dimensions[SUBHEADER_ROW].height = 30


def _write_numbers(sheet: Worksheet, width: int) -> None:
    for index in range(1, width + 1):
        put_text(sheet, NUMBER_ROW, index, f"({index})")
    for cell in _cells(sheet, NUMBER_ROW, NUMBER_ROW, width):
        cell.font = Font(italic=True)
        cell.alignment = _CENTER
        cell.border = _BORDER


def _format_data_rows(sheet: Worksheet, columns: list[Column]) -> None:
    for index, column in enumerate(columns, start=1):
        number_format = NUMBER_FORMATS.get(column.type)
        wrap = column.type in ("text", "enum")
        for row in range(FIRST_DATA_ROW, LAST_DATA_ROW + 1):
            cell = sheet.cell(row=row, column=index)
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=wrap)
            if number_format is not None:
                cell.number_format = number_format


def _data_range(index: int) -> str:
    letter = get_column_letter(index)
    return f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_DATA_ROW}"


def enum_items(column: Column) -> list[str]:
    """The drop-down items of an enum column: "<code>. <name>"."""
    return [f"{value.code}. {value.name}" for value in column.values]


def _add_drop_downs(sheet: Worksheet, lists: Worksheet, columns: list[Column]) -> None:
    """A list validation per enum column, items on the hidden sheet (a list literal is ≤255 chars)."""
    list_column = 0
    for index, column in enumerate(columns, start=1):
        if column.type != "enum":
            continue
        list_column += 1
        items = enum_items(column)
        for row, item in enumerate(items, start=1):
            put_text(lists, row, list_column, item)
        letter = get_column_letter(list_column)
        source = f"{quote_sheetname(LIST_SHEET)}!${letter}$1:${letter}${len(items)}"
        validation = DataValidation(type="list", formula1=source, allow_blank=True, showErrorMessage=False)
        _set_prompt(validation, column)
        validation.add(_data_range(index))
        sheet.add_data_validation(validation)


def _add_prompts(sheet: Worksheet, columns: list[Column]) -> None:
    """An input prompt (no restriction) on every other column that has a hint."""
    for index, column in enumerate(columns, start=1):
        if column.type == "enum" or not column.hint:
            continue
        validation = DataValidation(allow_blank=True, showErrorMessage=False)
        _set_prompt(validation, column)
        validation.add(_data_range(index))
        sheet.add_data_validation(validation)


def _set_prompt(validation: DataValidation, column: Column) -> None:
    if not column.hint:
        return
    validation.showInputMessage = True
    validation.promptTitle = column.label[:_PROMPT_TITLE_MAX]
    validation.prompt = column.hint[:_PROMPT_MAX]


def _page_setup(sheet: Worksheet) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True  # type: ignore[union-attr]  # always set on a new sheet
    sheet.print_title_rows = f"{HEADER_ROW}:{NUMBER_ROW}"


def _cells(sheet: Worksheet, first_row: int, last_row: int, width: int) -> Iterator[Cell | MergedCell]:
    for row in sheet.iter_rows(min_row=first_row, max_row=last_row, min_col=1, max_col=width):
        yield from row


# --- the instructions sheet -------------------------------------------------------------------


def format_deadline(deadline: dt.datetime) -> str:
    """The deadline as "23 giờ 59 ngày 30/4/2023", in its own time zone."""
    return f"{deadline.hour} giờ {deadline.minute:02d} ngày {deadline.day}/{deadline.month}/{deadline.year}"


def instruction_lines(rules: Rules) -> list[str]:
    """The "Hướng dẫn" text, one line per row, generated from the rules."""
    call = rules.call
    lines = [f"HƯỚNG DẪN ĐIỀN {rules.documents.phu_luc_1.title.upper()}", call.title]
    if call.document:
        lines.append(f"Theo {call.document}.")
    lines.append(f"Hạn gửi: {format_deadline(call.deadline)}.")
    lines += ["", "CÁCH ĐIỀN", *_layout_lines(), "", "CÁC CỘT"]
    for number, column in enumerate(rules.columns, start=1):
        lines += column_lines(number, column, rules.call.plan_year)
    lines += ["", "LƯU Ý", *_rule_lines(rules), "", "NƠI NHẬN VÀ LIÊN HỆ", *_contact_lines(rules)]
    return lines


def _layout_lines() -> list[str]:
    first, last = FIRST_CONTACT_ROW, FIRST_CONTACT_ROW + len(CONTACT_LABELS) - 1
    return [
        f"- Ghi tên đơn vị, người liên hệ, điện thoại và email ngay sau dấu hai chấm, trong cùng một ô "
        f"(ô A{first} đến A{last}), ví dụ: «Tên đơn vị: Viện Nghiên cứu ABC».",
        f"- Mỗi nhiệm vụ ghi trên một dòng, bắt đầu từ dòng {FIRST_DATA_ROW}; cần thêm dòng thì ghi tiếp xuống dưới.",
        f"- Giữ nguyên các dòng tiêu đề (dòng {HEADER_ROW} đến {NUMBER_ROW}), tên và thứ tự các cột.",
    ]


def column_lines(number: int, column: Column, plan_year: int) -> list[str]:
    """The instruction for one column; an enum column adds one line per value."""
    name = f"{column.group} — {column.label}" if column.group else column.label
    need = "bắt buộc" if column.required else "không bắt buộc"
    what = _what_to_write(column, plan_year)
    if column.hint:
        what += f" {column.hint}"
    lines = [f"({number}) {name} ({need}): {what}"]
    for value in column.values:
        about = f": {value.description}" if value.description else ""
        lines.append(f"      {value.code}. {value.name}{about}")
    return lines


def _what_to_write(column: Column, plan_year: int) -> str:
    kinds = {
        "text": "nội dung bằng chữ",
        "integer": "số nguyên",
        "number": "số",
        "money": "số tiền, đơn vị triệu đồng",
        "month": "tháng/năm dạng MM/YYYY",
        "enum": "một giá trị trong danh sách dưới đây (chọn ở danh sách thả xuống, hoặc ghi số hoặc tên)",
    }
    parts = [kinds[column.type], *_bounds(column)]
    if column.type == "month" and not column.hint:
        parts.append(f"ví dụ 01/{plan_year}")
    if column.max_length is not None:
        parts.append(f"tối đa {column.max_length} ký tự")
    return ", ".join(parts) + "."


def _bounds(column: Column) -> list[str]:
    out: list[str] = []
    if column.min is not None:
        word = "lớn hơn" if column.exclusive_min else "không nhỏ hơn"
        out.append(f"{word} {_number(column.min)}")
    if column.max is not None:
        out.append(f"không lớn hơn {_number(column.max)}")
    return out


def _number(value: float) -> str:
    """A bound written the Vietnamese way: 1.500 and 2.000,5."""
    whole, _, fraction = f"{value:,.2f}".rstrip("0").rstrip(".").partition(".")
    whole = whole.replace(",", ".")
    return f"{whole},{fraction}" if fraction else whole


def _rule_lines(rules: Rules) -> list[str]:
    lines = [
        "- Cách ghi số: không kèm đơn vị; một nghìn năm trăm ghi 1.500 hoặc 1500; phần thập phân dùng "
        "dấu phẩy, ví dụ 2.000,5. Nên ghi giá trị, không dùng công thức.",
    ]
    budget = [rules.column(key) for key in ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac")]
    if all(budget):
        total, state, other = (c.label for c in budget if c is not None)
        lines.append(f"- Kinh phí: {total} = {state} + {other}.")
    if rules.checks.period_inside_plan_year:
        lines.append(f"- Thời gian thực hiện nằm trong năm {rules.call.plan_year}.")
    lines.append(_description_line(rules))
    return lines


def _description_line(rules: Rules) -> str:
    rule = rules.documents.phu_luc_2
    need = "cần" if rule.required else "nên"
    same = "tên nhiệm vụ và kinh phí" if rule.budget_must_match else "tên nhiệm vụ"
    return f"- Mỗi nhiệm vụ {need} có một bản {rule.title} (theo mẫu gửi kèm), {same} trùng với Phụ lục 1."


def _contact_lines(rules: Rules) -> list[str]:
    contact = rules.call.contact
    return [
        contact.office,
        f"Địa chỉ: {contact.address}",
        f"Người liên hệ: {contact.person}, điện thoại {contact.phone}, email {contact.email}",
    ]


def _fill_guide_sheet(sheet: Worksheet, rules: Rules) -> None:
    sheet.column_dimensions["A"].width = 120
    for row, line in enumerate(instruction_lines(rules), start=1):
        put_text(sheet, row, 1, line)
        sheet.cell(row, 1).alignment = Alignment(vertical="top", wrap_text=True)
        if line.isupper():
            sheet.cell(row, 1).font = Font(bold=True)
