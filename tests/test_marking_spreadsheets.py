"""The submitter's own workbook back, marked where to fix it: coloured, commented cells and a first "Hướng dẫn sửa"
sheet that links to them, with everything else of the workbook unchanged."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.marking import COMMENT_AUTHOR, ERROR_FILL, GUIDE_TITLE, WARNING_FILL, comment_text
from mailbot.marking.xlsx import MAX_MARKED_CELLS, mark_xlsx
from mailbot.model import Finding, Severity
from mailbot.readers import read_file
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_reads
from tests.builders.sheets import xlsx_bytes
from tests.builders.submissions import task_list
from tests.converter import needs_libreoffice
from tests.office import convert

OFFICE = Path(__file__).resolve().parent / "fixtures" / "office"
OFFICE_WORKBOOKS = sorted(OFFICE.glob("*/*.xlsx"))
SHEET = "Phụ lục 1"
FILE = "Phu luc 1.xlsx"


def found(
    cell: str | None,
    severity: Severity = "error",
    *,
    sheet: str | None = SHEET,
    file: str | None = FILE,
    message: str = "Số tiền không hợp lệ.",
    hint: str = "Ghi số, ví dụ 1500.",
    row: int | None = None,
) -> Finding:
    column = cell.rstrip("0123456789") if cell else None
    number = int(cell[len(column or "") :]) if cell else row
    return Finding("x", severity, message, hint, file=file, sheet=sheet, row=number, column=column, cell=cell)


def book_of(data: bytes) -> Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def marked(data: bytes, findings: list[Finding], file: str = FILE) -> Workbook:
    out = mark_xlsx(data, findings, file)
    assert out is not None
    return book_of(out)


def fill_of(sheet: Worksheet, cell: str) -> str | None:
    fill = sheet[cell].fill
    return str(fill.fgColor.rgb)[-6:] if fill.fill_type == "solid" else None


def styled_book() -> bytes:
    """A Phụ lục 1 with formulas, merges, number formats, dates, styles, a comment, and a second sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = SHEET
    sheet.append(["PHỤ LỤC 1"])
    sheet.merge_cells("A1:E1")
    sheet.append(["STT", "Tên nhiệm vụ", "Bắt đầu", "Tổng kinh phí", "NSNN"])
    sheet.append([1, "Truyền thông về tiêu dùng bền vững", dt.datetime(2024, 1, 1), 1500.5, 1000])
    sheet.append([2, "Định mức tiêu hao", dt.datetime(2024, 3, 1), 2000, 2000])
    sheet.append([None, "Tổng cộng", None, "=SUM(D3:D4)", "=SUM(E3:E4)"])
    sheet["C3"].number_format = sheet["C4"].number_format = "mm/yyyy"
    sheet["D3"].number_format = "#,##0.0"
    sheet["D3"].font = Font(name="Times New Roman", bold=True, color="FF0000FF")
    sheet["D3"].border = Border(left=Side(style="thin"), bottom=Side(style="double"))
    sheet["D3"].alignment = Alignment(horizontal="right", wrap_text=True)
    sheet["B4"].comment = Comment("Tên do phòng Kế hoạch đề xuất", "Chị Lan")
    sheet.column_dimensions["B"].width = 40
    other = book.create_sheet("Tom's ghi chú")
    other["A1"] = "Ghi chú riêng"
    other.merge_cells("A2:B3")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- the marks


def test_a_cell_with_an_error_is_red_and_one_with_only_warnings_is_yellow() -> None:
    findings = [found("D3"), found("D3", "warning"), found("E4", "warning")]

    sheet = marked(styled_book(), findings)[SHEET]

    assert fill_of(sheet, "D3") == ERROR_FILL
    assert fill_of(sheet, "E4") == WARNING_FILL
    assert fill_of(sheet, "D4") is None


def test_the_comment_holds_every_finding_on_the_cell_by_our_author_with_a_blank_line_between() -> None:
    first, second = found("D3", message="Thiếu số.", hint="Ghi số."), found("D3", "warning", message="Số lẻ.")

    out = mark_xlsx(styled_book(), [first, second], FILE)
    assert out is not None
    comment = book_of(out)[SHEET]["D3"].comment

    assert comment is not None and comment.author == COMMENT_AUTHOR
    assert comment.text.endswith(f"{comment_text(first)}\n\n{comment_text(second)}")
    drawing = next(n for n in zipfile.ZipFile(io.BytesIO(out)).namelist() if n.endswith(".vml"))
    assert b"width:360px" in zipfile.ZipFile(io.BytesIO(out)).read(drawing)  # wide enough to read the text


def test_marking_a_cell_changes_its_fill_and_nothing_else_of_its_style() -> None:
    before = book_of(styled_book())[SHEET]["D3"]

    after = marked(styled_book(), [found("D3")])[SHEET]["D3"]

    def style(cell: Any) -> list[str]:  # openpyxl's style proxies compare by identity: compare what they hold
        return [repr(part) for part in (cell.font, cell.border, cell.alignment, cell.number_format, cell.protection)]

    assert style(after) == style(before)
    assert repr(after.fill) != repr(before.fill)


def test_a_submitters_own_comment_is_kept_and_ours_follows_it() -> None:
    comment = marked(styled_book(), [found("B4")])[SHEET]["B4"].comment

    assert comment is not None
    own, ours = comment.text.split("\n\n", 1)
    assert own == "Tên do phòng Kế hoạch đề xuất" and comment_text(found("B4")) in ours


def test_a_finding_with_a_row_but_no_cell_marks_the_rows_first_cell_holding_a_value() -> None:
    sheet = marked(styled_book(), [found(None, row=5)])[SHEET]

    assert fill_of(sheet, "B5") == ERROR_FILL  # A5 is empty: "Tổng cộng" is the row's first value
    assert sheet["B5"].comment is not None


def test_a_finding_inside_a_merged_range_marks_the_ranges_top_left_cell() -> None:
    sheet = marked(styled_book(), [found("C1")])[SHEET]

    assert fill_of(sheet, "A1") == ERROR_FILL and sheet["A1"].comment is not None
    assert "A1:E1" in {str(span) for span in sheet.merged_cells.ranges}


def test_findings_without_a_cell_on_an_unknown_sheet_or_of_another_file_mark_nothing() -> None:
    findings = [
        found(None),
        found("D3", sheet="Không có"),
        found("D4", file="khac.xlsx"),
        found(None, file=None, message="Thiếu Phụ lục 2."),
    ]

    book = marked(styled_book(), findings)

    assert not [c for row in book[SHEET].iter_rows() for c in row if c.comment and c.comment.author == COMMENT_AUTHOR]
    listed = [row[3] for row in book[GUIDE_TITLE].iter_rows(min_row=4, values_only=True)]
    assert sorted(str(m) for m in listed) == ["Số tiền không hợp lệ.", "Số tiền không hợp lệ.", "Thiếu Phụ lục 2."]


# ---------------------------------------------------------------- the guide


def guide_rows(book: Workbook) -> list[tuple[Any, ...]]:
    return list(book[GUIDE_TITLE].iter_rows(min_row=4, values_only=True))


def two_tabs_selected() -> bytes:
    """The styled book with its second sheet active and both tabs selected (a group, as Ctrl+click leaves it)."""
    book = book_of(styled_book())
    book.active = 1
    for sheet in book.worksheets:
        sheet.sheet_view.tabSelected = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "sheets"),
    [
        (two_tabs_selected(), [SHEET, "Tom's ghi chú"]),
        ((OFFICE / "sheets_layout" / "office_plan.xlsx").read_bytes(), [SHEET]),
    ],
    ids=["openpyxl", "libreoffice"],
)
def test_the_guide_is_the_first_active_sheet_and_the_only_selected_tab(data: bytes, sheets: list[str]) -> None:
    book = marked(data, [found("D3")])

    assert book.sheetnames == [GUIDE_TITLE, *sheets]
    assert book.active is not None and book.active.title == GUIDE_TITLE
    assert [ws.title for ws in book.worksheets if ws.sheet_view.tabSelected] == [GUIDE_TITLE]


def test_the_guide_lists_every_problem_in_vietnamese_with_a_link_to_its_cell() -> None:
    findings = [found("D3", message="=Sai công thức"), found("A1", "warning", sheet="Tom's ghi chú"), found(None)]

    book = marked(styled_book(), findings)
    guide = book[GUIDE_TITLE]

    assert [c.value for c in guide[3]] == ["STT", "Mức độ", "Vị trí", "Nội dung", "Cách sửa"]
    assert [(r[0], r[1], r[3]) for r in guide_rows(book)] == [
        (1, "Lỗi", "Số tiền không hợp lệ."),  # the finding without a cell: row 0 of its sheet
        (2, "Lỗi", "=Sai công thức"),
        (3, "Lưu ý", "Số tiền không hợp lệ."),
    ]
    assert guide["D5"].data_type == "s"  # a message starting with "=" is text, not a formula
    links = {guide.cell(r, 3).hyperlink.location for r in range(4, 7) if guide.cell(r, 3).hyperlink}
    assert links == {"'Phụ lục 1'!D3", "'Tom''s ghi chú'!A1"}
    assert "Phu luc 1.xlsx" in str(guide["A1"].value) and "2 lỗi, 1 lưu ý" in str(guide["A1"].value)


def test_the_guide_is_printable_landscape_one_page_wide_with_a_frozen_wrapped_header() -> None:
    guide = marked(styled_book(), [found("D3")])[GUIDE_TITLE]

    assert guide.freeze_panes == "A4"
    assert guide.page_setup.orientation == "landscape" and guide.page_setup.fitToWidth == 1
    assert guide.sheet_properties.pageSetUpPr is not None and guide.sheet_properties.pageSetUpPr.fitToPage
    assert guide["D4"].alignment.wrap_text and guide.column_dimensions["D"].width >= 50


def test_more_than_the_bound_of_cells_marks_only_the_first_and_the_guide_lists_all_and_says_so() -> None:
    findings = [found(f"F{row}") for row in range(1, MAX_MARKED_CELLS + 51)]

    book = marked(styled_book(), findings)

    commented = [c for row in book[SHEET].iter_rows() for c in row if c.comment]
    assert len(commented) == MAX_MARKED_CELLS + 1  # and the submitter's own comment on B4
    assert len(guide_rows(book)) == MAX_MARKED_CELLS + 50
    assert f"chỉ {MAX_MARKED_CELLS} ô đầu tiên" in str(book[GUIDE_TITLE]["A1"].value)


# ---------------------------------------------------------------- marked again


def test_a_copy_marked_again_replaces_its_guide_and_our_comments_and_unmarks_fixed_cells() -> None:
    once = mark_xlsx(styled_book(), [found("D3"), found("D4"), found("B4")], FILE)
    assert once is not None

    book = marked(once, [found("D3", message="Vẫn sai.")])
    sheet = book[SHEET]

    assert book.sheetnames.count(GUIDE_TITLE) == 1 and len(guide_rows(book)) == 1
    assert sheet["D3"].comment is not None and sheet["D3"].comment.text.count(COMMENT_AUTHOR) == 1
    assert "Vẫn sai." in sheet["D3"].comment.text and "không hợp lệ" not in sheet["D3"].comment.text
    assert sheet["D4"].comment is None and fill_of(sheet, "D4") is None
    assert sheet["B4"].comment is not None and sheet["B4"].comment.text == "Tên do phòng Kế hoạch đề xuất"


# ---------------------------------------------------------------- everything else untouched


def everything(book: Workbook, *, skip: str = GUIDE_TITLE) -> dict[str, Any]:
    """Every sheet's values (formulas as written), merges, number formats, column widths, in order."""
    return {
        ws.title: (
            {c.coordinate: (c.value, c.number_format) for row in ws.iter_rows() for c in row if c.value is not None},
            sorted(str(span) for span in ws.merged_cells.ranges),
            {k: d.width for k, d in ws.column_dimensions.items()},
        )
        for ws in book.worksheets
        if ws.title != skip
    }


@pytest.mark.parametrize("path", OFFICE_WORKBOOKS, ids=lambda p: p.name)
def test_every_value_merge_formula_and_number_format_of_a_libreoffice_workbook_is_unchanged(path: Path) -> None:
    original = path.read_bytes()
    sheet = book_of(original).worksheets[0].title
    findings = [found(cell, sheet=sheet, file=path.name) for cell in ("B7", "K11", "A1", "N20")]

    copy = marked(original, findings, path.name)

    assert everything(copy) == everything(book_of(original))
    assert list(everything(copy)) == book_of(original).sheetnames


def test_every_value_merge_formula_and_number_format_of_an_openpyxl_workbook_is_unchanged() -> None:
    copy = marked(styled_book(), [found("D3"), found("E5", "warning"), found("A2", sheet="Tom's ghi chú")])

    assert everything(copy) == everything(book_of(styled_book()))
    assert copy[SHEET]["D5"].value == "=SUM(D3:D4)"


def test_the_results_the_submitters_program_stored_with_its_formulas_are_kept() -> None:
    path = OFFICE / "sheets_layout" / "office_plan.xlsx"
    values = openpyxl.load_workbook(path, data_only=True).worksheets[0]
    out = mark_xlsx(path.read_bytes(), [found("K11", sheet=values.title, file=path.name)], path.name)
    assert out is not None

    copy = openpyxl.load_workbook(io.BytesIO(out), data_only=True)[values.title]

    assert {c.coordinate: c.value for row in copy.iter_rows() for c in row} == {
        c.coordinate: c.value for row in values.iter_rows() for c in row
    }
    assert copy["K11"].value == 3500.5


def test_text_with_a_bold_word_inside_a_cell_keeps_its_runs() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = SHEET
    sheet["B2"] = CellRichText(["Nhiệm vụ ", TextBlock(InlineFont(b=True), "trọng điểm"), " năm 2024"])
    source = io.BytesIO()
    book.save(source)
    out = mark_xlsx(source.getvalue(), [found("B2")], FILE)
    assert out is not None

    value = openpyxl.load_workbook(io.BytesIO(out), rich_text=True)[SHEET]["B2"].value

    assert isinstance(value, CellRichText) and str(value) == "Nhiệm vụ trọng điểm năm 2024"
    assert [block.font.b for block in value if isinstance(block, TextBlock)] == [True]


def test_a_macro_workbook_comes_back_as_a_plain_xlsx_without_its_macros() -> None:
    layout = task_list()
    out = mark_xlsx(xlsx_bytes(layout.rows, macro=True), [found("K6", file="a.xlsm")], "a.xlsm")
    assert out is not None

    members = zipfile.ZipFile(io.BytesIO(out)).namelist()

    assert "xl/vbaProject.bin" not in members
    assert b"macroEnabled" not in zipfile.ZipFile(io.BytesIO(out)).read("[Content_Types].xml")


@pytest.mark.parametrize("data", [b"", b"not a workbook", xlsx_bytes([["a"]])[:200]], ids=["empty", "text", "cut"])
def test_a_workbook_openpyxl_cannot_load_gives_no_marked_copy(data: bytes) -> None:
    assert mark_xlsx(data, [found("A1")], FILE) is None


# ---------------------------------------------------------------- sent back with the errors fixed


def read_back(name: str, data: bytes, rules: Rules) -> tuple[list[dict[str, Any]], list[tuple[str, str | None]], Any]:
    result = validate_reads([read_file(name, data)], rules)
    return [t.to_dict() for t in result.tasks], [(f.code, f.cell) for f in result.findings], result.organization


@pytest.mark.parametrize(
    "name",
    ["office_plan_bad_subtotal.xlsx", "office_plan_usd.xlsx", "office_plan_groups.xlsx", "office_plan_dong.xlsx"],
)
def test_a_marked_libreoffice_workbook_reads_and_validates_exactly_like_the_original(rules: Rules, name: str) -> None:
    original = (OFFICE / "sheets_layout" / name).read_bytes()
    result = validate_reads([read_file(name, original)], rules)
    out = mark_xlsx(original, result.findings, name)
    assert out is not None and any(f.cell for f in result.findings)

    assert read_back(name, out, rules) == read_back(name, original, rules)


@pytest.mark.parametrize("organization", [None, "Viện Nghiên cứu Da - Giày"])
def test_a_marked_copy_with_its_errors_fixed_reads_as_the_correct_file(rules: Rules, organization: str | None) -> None:
    wrong = task_list(organization=organization, overrides={(0, "kinh_phi_tong"): "một nghìn", (1, "bat_dau"): "x"})
    right = task_list(organization=organization)
    result = validate_reads([read_file(FILE, xlsx_bytes(wrong.rows))], rules)
    out = mark_xlsx(xlsx_bytes(wrong.rows), result.findings, FILE)
    assert out is not None
    book = book_of(out)
    for key, index in (("kinh_phi_tong", 0), ("bat_dau", 1)):
        cell = right.cells[(index, key)]
        book[SHEET][cell] = book_of(xlsx_bytes(right.rows))[SHEET][cell].value
    fixed = io.BytesIO()
    book.save(fixed)

    assert read_back(FILE, fixed.getvalue(), rules) == read_back(FILE, xlsx_bytes(right.rows), rules)


# ---------------------------------------------------------------- LibreOffice opens it


@needs_libreoffice
def test_libreoffice_opens_the_marked_copy_with_its_comments_and_its_guide(tmp_path: Path) -> None:
    message = "Tổng kinh phí phải là một số, không phải chữ."
    out = mark_xlsx(styled_book(), [found("D3", message=message, hint="Ghi 1500,5.")], FILE)
    assert out is not None
    source = tmp_path / "Phu luc 1_can-sua.xlsx"
    source.write_bytes(out)

    flat = convert(source, "fods", tmp_path / "out").read_text("utf-8")

    assert f"Lỗi: {message}" in flat and "Cách sửa: Ghi 1500,5." in flat  # the comment
    assert f'table:name="{GUIDE_TITLE}"' in flat and "Nội dung" in flat  # the guide sheet
    assert flat.index(f'table:name="{GUIDE_TITLE}"') < flat.index(f'table:name="{SHEET}"')
    assert 'xlink:href="#&apos;Phụ lục 1&apos;.D3"' in flat  # the link to the cell


@needs_libreoffice
def test_an_ods_is_marked_in_the_xlsx_it_was_read_as_and_that_copy_reads_back_alike(rules: Rules) -> None:
    name = "sai_tong.ods"
    read = read_file(name, (OFFICE / "plan14" / name).read_bytes())
    result = validate_reads([read], rules)
    assert read.converted is not None and any(f.cell for f in result.findings)

    out = mark_xlsx(read.converted, result.findings, name)
    assert out is not None
    again = validate_reads([read_file("sai_tong_can-sua.xlsx", out)], rules)

    assert [t.to_dict() for t in again.tasks] == [t.to_dict() for t in result.tasks]
    assert [(f.code, f.cell) for f in again.findings] == [(f.code, f.cell) for f in result.findings]
    wrong = next(f for f in result.findings if f.cell and f.sheet and f.severity == "error")
    assert wrong.sheet and wrong.cell and fill_of(book_of(out)[wrong.sheet], wrong.cell) == ERROR_FILL
