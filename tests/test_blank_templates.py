"""The blank Phụ lục 1 / Phụ lục 2 templates are generated from the rules and follow the reader's layout."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.forms import (
    DESCRIPTION_NAME,
    TASK_LIST_NAME,
    blank_forms,
    description_template,
    task_list_template,
    write_blank_forms,
)
from mailbot.validation.rules_file import parse_rules
from mailbot.validation.schema import Rules

SEED = Path(__file__).resolve().parents[1] / "rules" / "sxtdbv-2024.toml"
HEADER_ROW, SUBHEADER_ROW, NUMBER_ROW, FIRST_DATA_ROW = 8, 9, 10, 11


@pytest.fixture(scope="module")
def rules() -> Rules:
    return parse_rules(SEED.read_text(encoding="utf-8"), SEED)


@pytest.fixture(scope="module")
def workbook(rules: Rules) -> Workbook:
    return load_workbook(io.BytesIO(task_list_template(rules)))


@pytest.fixture(scope="module")
def sheet(workbook: Workbook) -> Worksheet:
    data = workbook["Phụ lục 1"]
    assert isinstance(data, Worksheet)
    return data


def _merges(sheet: Worksheet) -> set[str]:
    return {str(r) for r in sheet.merged_cells.ranges}


def _column_index(rules: Rules, key: str) -> int:
    return next(i for i, c in enumerate(rules.columns, start=1) if c.key == key)


def _paragraphs(content: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]


# --- Phụ lục 1 ---------------------------------------------------------------------------------


def test_the_workbook_has_the_data_sheet_first_and_active_then_the_instructions_then_the_hidden_list(
    workbook: Workbook,
) -> None:
    assert workbook.sheetnames == ["Phụ lục 1", "Hướng dẫn", "Danh mục"]
    assert workbook.active is not None and workbook.active.title == "Phụ lục 1"
    assert workbook["Danh mục"].sheet_state == "hidden"
    assert workbook["Hướng dẫn"].sheet_state == "visible"


def test_the_preamble_holds_the_title_the_call_and_the_four_contact_cells(sheet: Worksheet, rules: Rules) -> None:
    assert sheet["A1"].value == "PHỤ LỤC 1 — DANH MỤC NHIỆM VỤ ĐỀ XUẤT"
    assert sheet["A1"].font.bold
    assert sheet["A2"].value == rules.call.title
    contact = [sheet.cell(row, 1).value for row in range(3, 7)]
    assert contact == ["Tên đơn vị: ", "Người liên hệ: ", "Điện thoại: ", "Email: "]
    last = get_column_letter(len(rules.columns))
    assert {f"A1:{last}1", f"A2:{last}2"} <= _merges(sheet)


def test_row_8_holds_each_ungrouped_label_or_the_group_and_row_9_the_grouped_labels(
    sheet: Worksheet, rules: Rules
) -> None:
    for index, column in enumerate(rules.columns, start=1):
        top = sheet.cell(HEADER_ROW, index).value
        below = sheet.cell(SUBHEADER_ROW, index).value
        if column.group is None:
            assert (top, below) == (column.label, None), column.key
        else:
            assert below == column.label, column.key
            first_of_group = index == 1 or rules.columns[index - 2].group != column.group
            assert top == (column.group if first_of_group else None), column.key


def test_a_group_is_merged_over_its_columns_and_an_ungrouped_label_over_both_header_rows(
    sheet: Worksheet, rules: Rules
) -> None:
    merges = _merges(sheet)
    assert "I8:J8" in merges  # Thời gian thực hiện over Bắt đầu, Kết thúc
    assert "K8:M8" in merges  # Kinh phí dự kiến over Tổng, NSNN, Nguồn khác
    for index, column in enumerate(rules.columns, start=1):
        letter = get_column_letter(index)
        assert (f"{letter}8:{letter}9" in merges) == (column.group is None), column.key
    header_merges = [m for m in merges if (range_boundaries(m)[1] or 0) >= HEADER_ROW]
    assert len(header_merges) == 2 + sum(1 for c in rules.columns if c.group is None)


def test_the_header_cells_are_bold_centered_wrapped_and_bordered(sheet: Worksheet) -> None:
    for cell in (sheet["B8"], sheet["K8"], sheet["L9"]):
        assert cell.font.bold
        assert cell.alignment.horizontal == "center" and cell.alignment.wrap_text
        assert cell.border.left.style == "thin"


def test_row_10_numbers_every_column_in_italics(sheet: Worksheet, rules: Rules) -> None:
    numbers = [sheet.cell(NUMBER_ROW, i).value for i in range(1, len(rules.columns) + 1)]
    assert numbers == [f"({i})" for i in range(1, len(rules.columns) + 1)]
    assert sheet.cell(NUMBER_ROW, 1).font.italic
    assert sheet.cell(NUMBER_ROW, len(rules.columns) + 1).value is None


def test_the_panes_are_frozen_below_the_header(sheet: Worksheet) -> None:
    assert sheet.freeze_panes == "A11"


def test_the_column_widths_are_the_rules_widths(sheet: Worksheet, rules: Rules) -> None:
    for index, column in enumerate(rules.columns, start=1):
        assert sheet.column_dimensions[get_column_letter(index)].width == column.width, column.key


def test_fifty_data_rows_are_bordered_and_left_empty(sheet: Worksheet, rules: Rules) -> None:
    last_column = len(rules.columns)
    for row in (FIRST_DATA_ROW, FIRST_DATA_ROW + 49):
        assert sheet.cell(row, 1).border.bottom.style == "thin"
        assert sheet.cell(row, last_column).border.bottom.style == "thin"
    assert sheet.cell(FIRST_DATA_ROW + 50, 1).border.bottom.style is None
    cells = sheet.iter_rows(min_row=FIRST_DATA_ROW, max_row=FIRST_DATA_ROW + 49, values_only=True)
    assert all(value is None for row in cells for value in row)


def test_data_cells_carry_the_number_format_of_their_column_type(sheet: Worksheet, rules: Rules) -> None:
    def number_format(key: str, row: int = FIRST_DATA_ROW) -> str:
        return str(sheet.cell(row, _column_index(rules, key)).number_format)

    assert number_format("kinh_phi_tong") == "#,##0.0##"
    assert number_format("kinh_phi_nsnn", FIRST_DATA_ROW + 49) == "#,##0.0##"
    assert number_format("stt") == "0"
    assert number_format("bat_dau") == "@"
    assert sheet.cell(FIRST_DATA_ROW, _column_index(rules, "noi_dung")).alignment.wrap_text


def test_the_dinh_huong_column_has_a_drop_down_of_the_ten_orientations_on_the_hidden_sheet(
    workbook: Workbook, sheet: Worksheet, rules: Rules
) -> None:
    letter = get_column_letter(_column_index(rules, "dinh_huong"))
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert len(lists) == 1
    (drop_down,) = lists
    assert str(drop_down.sqref) == f"{letter}11:{letter}60"
    assert drop_down.allow_blank
    assert drop_down.prompt == rules.columns[_column_index(rules, "dinh_huong") - 1].hint
    source_sheet, _, source_range = drop_down.formula1.lstrip("=").partition("!")
    assert source_sheet == "'Danh mục'"
    items = [row[0].value for row in workbook["Danh mục"][source_range.replace("$", "")]]
    assert len(items) == 10
    assert items[0] == "1. Truyền thông"
    assert items[2] == "3. Định mức tiêu hao"
    assert items[-1] == "10. Kinh tế tuần hoàn"


def test_no_cell_in_any_sheet_holds_a_formula(workbook: Workbook) -> None:
    for worksheet in workbook.worksheets:
        formulas = [c.coordinate for row in worksheet.iter_rows() for c in row if c.data_type == "f"]
        assert formulas == [], worksheet.title


def test_text_from_the_rules_that_starts_with_an_equals_sign_stays_text() -> None:
    text = SEED.read_text(encoding="utf-8").replace('label = "Ghi chú"', 'label = "=Ghi chú"')
    changed = parse_rules(text)
    data = load_workbook(io.BytesIO(task_list_template(changed)))["Phụ lục 1"]
    cell = data.cell(HEADER_ROW, _column_index(changed, "ghi_chu"))
    assert (cell.value, cell.data_type) == ("=Ghi chú", "s")


def _instructions(workbook: Workbook) -> str:
    guide = workbook["Hướng dẫn"]
    return "\n".join(str(v) for row in guide.iter_rows(values_only=True) for v in row if v is not None)


def test_the_instructions_give_the_deadline_and_the_contact(workbook: Workbook, rules: Rules) -> None:
    text = _instructions(workbook)
    assert "23 giờ 59 ngày 30/4/2023" in text
    assert rules.call.title in text
    assert rules.call.document in text
    assert "quangch@moit.gov.vn" in text
    assert "0983377379" in text


def test_the_instructions_explain_every_column_and_every_orientation(workbook: Workbook, rules: Rules) -> None:
    lines = _instructions(workbook).splitlines()
    for number, column in enumerate(rules.columns, start=1):
        line = next(x for x in lines if x.startswith(f"({number}) "))
        assert column.label in line
        assert ("(bắt buộc)" in line) == column.required, column.key
    text = "\n".join(lines)
    assert "MM/YYYY" in text and "triệu đồng" in text
    assert "1.500" in text and "2.000,5" in text
    assert "3. Định mức tiêu hao: Xây dựng định mức tiêu hao nguyên vật liệu" in text
    assert "Phụ lục 2" in text


# --- Phụ lục 2 ---------------------------------------------------------------------------------


def test_the_description_opens_with_the_two_title_lines_and_the_call(rules: Rules) -> None:
    paragraphs = _paragraphs(description_template(rules))
    assert paragraphs[:3] == ["PHỤ LỤC 2", "THUYẾT MINH NHIỆM VỤ", rules.call.title]
    assert any(p.startswith("Mỗi nhiệm vụ ở Phụ lục 1 cần một bản thuyết minh") for p in paragraphs)


def test_the_description_has_one_numbered_heading_per_rules_section_in_order(rules: Rules) -> None:
    paragraphs = _paragraphs(description_template(rules))
    headings = [p for p in paragraphs if p[:1].isdigit()]
    sections = rules.documents.phu_luc_2.sections
    assert headings == [f"{n}. {s}: " for n, s in enumerate(sections, start=1)]


def test_each_heading_is_followed_by_an_empty_paragraph_to_write_in(rules: Rules) -> None:
    document = docx.Document(io.BytesIO(description_template(rules)))
    paragraphs = document.paragraphs
    for index, paragraph in enumerate(paragraphs):
        if paragraph.text.startswith("1. "):
            assert paragraph.runs[1].bold and paragraph.runs[1].text == "Tên nhiệm vụ"
        if paragraph.text[:1].isdigit():
            after = 2 if paragraphs[index + 1].text.startswith("Tổng kinh phí:") else 1
            assert paragraphs[index + after].text == "", paragraph.text


def test_the_budget_section_shows_an_example_line_in_italics(rules: Rules) -> None:
    paragraphs = docx.Document(io.BytesIO(description_template(rules))).paragraphs
    texts = [p.text for p in paragraphs]
    at = texts.index("9. Kinh phí (dự toán): ")
    example = paragraphs[at + 1]
    assert example.text.startswith("Tổng kinh phí: … triệu đồng, trong đó NSNN: … triệu đồng")
    assert example.runs[0].italic
    assert texts[at + 2] == ""
    assert sum(t.startswith("Tổng kinh phí:") for t in texts) == 1


# --- generated from the rules ---------------------------------------------------------------------


def test_a_changed_label_in_the_rules_file_changes_both_the_header_and_the_instructions() -> None:
    text = SEED.read_text(encoding="utf-8").replace('label = "Mục tiêu"', 'label = "Mục tiêu cụ thể"')
    changed = parse_rules(text)
    book = load_workbook(io.BytesIO(task_list_template(changed)))
    data = book["Phụ lục 1"]
    assert data.cell(HEADER_ROW, _column_index(changed, "muc_tieu")).value == "Mục tiêu cụ thể"
    assert "(4) Mục tiêu cụ thể (bắt buộc)" in _instructions(book)


def test_changed_sections_in_the_rules_file_change_the_description_headings() -> None:
    text = SEED.read_text(encoding="utf-8").replace('"Tính cấp thiết",', '"Sự cần thiết",')
    paragraphs = _paragraphs(description_template(parse_rules(text)))
    assert "4. Sự cần thiết: " in paragraphs
    assert "4. Tính cấp thiết: " not in paragraphs


# --- file names and writing ---------------------------------------------------------------------


def test_blank_forms_are_named_with_the_receipt_prefix_in_ascii(rules: Rules) -> None:
    names = [name for name, _ in blank_forms(rules)]
    assert names == [f"SXTDBV-2024_{TASK_LIST_NAME}", f"SXTDBV-2024_{DESCRIPTION_NAME}"]
    assert names[0] == "SXTDBV-2024_PhuLuc1_DanhMucNhiemVu.xlsx"
    assert all(name.isascii() for name in names)


def test_write_blank_forms_creates_the_folder_and_writes_two_readable_files(rules: Rules, tmp_path: Path) -> None:
    out = tmp_path / "templates" / "2024"
    paths = write_blank_forms(rules, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    assert len(paths) == 2
    assert load_workbook(paths[0]).sheetnames[0] == "Phụ lục 1"
    assert _paragraphs(paths[1].read_bytes())[0] == "PHỤ LỤC 2"
