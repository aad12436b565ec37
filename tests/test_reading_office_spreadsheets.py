"""Phụ lục 1 as offices lay it out, in files LibreOffice wrote: every field of every task read exactly.

National header blocks, units of measure, sections with sub-totals, totals by formula, hidden rows
and columns, months as dates or text or quarters (fixtures: tests/office_fixtures/sheets_layout.py).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mailbot.model import CellValue, Finding, Grid, ValidationResult
from mailbot.readers.organization import find_money_unit, find_organization, money_factor, organization_from_lines
from mailbot.replies import ReplyContent, ReplyRenderer
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.documents import description_paragraphs, docx_bytes
from tests.office_fixtures import sheets_layout as plan

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "office" / "sheets_layout"
CLEAN = ["office_plan", "office_plan_groups", "office_plan_dong", "office_plan_nghin"]


def descriptions() -> tuple[str, bytes]:
    paragraphs: list[str] = []
    for task in plan.TASKS:
        amount = f"{task['kinh_phi_tong']:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        paragraphs += description_paragraphs(task["ten_nhiem_vu"], budget_text=f"Tổng kinh phí: {amount} triệu đồng")
    return "PhuLuc2.docx", docx_bytes(paragraphs_before=paragraphs)


def validate(rules: Rules, name: str, ext: str = "xlsx", data: bytes | None = None) -> ValidationResult:
    content = data if data is not None else (FIXTURES / f"{name}.{ext}").read_bytes()
    return validate_files([(f"{name}.{ext}", content), descriptions()], rules)


def errors(result: ValidationResult) -> list[Finding]:
    return [f for f in result.findings if f.severity == "error"]


def codes(result: ValidationResult) -> list[str]:
    return [f.code for f in result.findings]


def only(result: ValidationResult, code: str) -> Finding:
    matching = [f for f in result.findings if f.code == code]
    assert len(matching) == 1, result.findings
    return matching[0]


def task_row(name: str, index: int) -> int:
    """The sheet row LibreOffice wrote task `index` of fixture `name` in."""
    return plan.layout(plan.SHAPES[name])[1][index]


# ---------------------------------------------------------------- every shape, read exactly


@pytest.mark.parametrize("name", CLEAN)
def test_every_field_of_every_task_is_read_exactly_with_no_error_and_no_invented_row(rules: Rules, name: str) -> None:
    result = validate(rules, name)

    assert [t.to_dict() for t in result.tasks] == plan.expected_tasks()
    assert result.organization == plan.EXPECTED[name]["organization"]
    assert errors(result) == []


def test_the_same_plan_saved_as_xls_by_libreoffice_reads_the_same(rules: Rules) -> None:
    result = validate(rules, "office_plan", "xls")

    assert [t.to_dict() for t in result.tasks] == plan.expected_tasks()
    assert result.organization == plan.UNIT
    assert result.findings == []


def test_the_office_plan_gives_no_finding_at_all(rules: Rules) -> None:
    assert validate(rules, "office_plan").findings == []


# ---------------------------------------------------------------- sections and totals


def test_section_rows_with_sum_sub_totals_are_not_tasks_and_set_loai(rules: Rules) -> None:
    result = validate(rules, "office_plan")

    assert [t.stt for t in result.tasks] == [1, 2, 3, 4, 5]
    assert [t.loai for t in result.tasks] == [plan.CARRIED] * 2 + [plan.NEW] * 3


def test_sub_sections_numbered_1_and_2_1_are_group_rows_and_keep_the_section_as_loai(rules: Rules) -> None:
    result = validate(rules, "office_plan_groups")

    assert len(result.tasks) == 5
    assert [t.loai for t in result.tasks] == [plan.CARRIED] * 2 + [plan.NEW] * 3
    assert "subtotal_mismatch" not in codes(result)


def test_a_sub_total_that_differs_from_its_tasks_is_an_error_at_its_cell(rules: Rules) -> None:
    result = validate(rules, "office_plan_bad_subtotal")

    wrong = only(result, "subtotal_mismatch")
    section_row = task_row("office_plan_bad_subtotal", 0) - 1
    assert wrong.cell == f"{plan.column_letter(plan.SHAPES['office_plan_bad_subtotal'], 'kinh_phi_tong')}{section_row}"
    assert wrong.severity == "error"
    assert "Nhiệm vụ chuyển tiếp" in wrong.message and "3,000.0" in wrong.message and "3,500.5" in wrong.message
    assert wrong.hint
    # the total row sums the sections (=K12+K15): it is wrong too, and is compared with the tasks only
    assert "5,950.5" in only(result, "total_mismatch").message
    assert [t.to_dict() for t in result.tasks] == plan.expected_tasks()


def test_the_total_row_is_checked_against_the_tasks_only(rules: Rules) -> None:
    book = openpyxl.load_workbook(FIXTURES / "office_plan.xlsx", data_only=True)
    sheet = book.active
    assert sheet is not None
    total = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 2).value == "Tổng cộng")
    letter = plan.column_letter(plan.SHAPES["office_plan"], "kinh_phi_tong")
    sheet[f"{letter}{total}"] = 2 * 5950.5  # the tasks and the sub-totals counted together
    buffer = io.BytesIO()
    book.save(buffer)

    result = validate(rules, "office_plan", data=buffer.getvalue())

    wrong = only(result, "total_mismatch")
    assert wrong.cell == f"{letter}{total}"
    assert "5,950.5" in wrong.message
    assert len(result.tasks) == 5


def test_a_total_row_on_top_of_the_sections_does_not_end_the_table(rules: Rules) -> None:
    result = validate(rules, "office_plan_groups")

    assert len(result.tasks) == 5
    assert "total_mismatch" not in codes(result) and "no_tasks" not in codes(result)


# ---------------------------------------------------------------- the organisation and the unit


def test_the_unit_of_measure_is_never_taken_for_the_organisation(rules: Rules) -> None:
    for name in CLEAN:
        organization = validate(rules, name).organization
        assert organization is not None and "đồng" not in organization, name


def test_the_unit_below_the_ministry_in_the_national_header_is_the_organisation(rules: Rules) -> None:
    assert validate(rules, "office_plan").organization == "VIỆN NGHIÊN CỨU DA - GIẦY"


def test_a_header_block_in_one_multi_line_cell_gives_the_unit_not_the_ministry(rules: Rules) -> None:
    assert validate(rules, "office_plan_dong").organization == "VIỆN NGHIÊN CỨU DA - GIẦY"


def test_the_signature_block_names_the_unit_when_nothing_above_the_table_does(rules: Rules) -> None:
    assert validate(rules, "office_plan_nghin").organization == "VIỆN NGHIÊN CỨU DA - GIẦY"


@pytest.mark.parametrize(("name", "factor"), [("office_plan_dong", "1.000.000"), ("office_plan_nghin", "1.000")])
def test_amounts_in_dong_or_nghin_dong_are_converted_to_million_and_the_result_says_so(
    rules: Rules, name: str, factor: str
) -> None:
    result = validate(rules, name)

    assert [t.kinh_phi_tong for t in result.tasks] == [t["kinh_phi_tong"] for t in plan.TASKS]
    note = only(result, "money_unit_converted")
    assert note.severity == "warning"
    assert "quy đổi sang triệu đồng" in note.message and factor in note.message


def test_the_acknowledgement_shows_the_conversion_note(rules: Rules) -> None:
    result = validate(rules, "office_plan_dong")
    reply = ReplyContent(
        kind="acknowledgement",
        receipt="SXTDBV-2024-0001",
        version=1,
        organization=result.organization,
        tasks=result.tasks,
        findings=result.findings,
        received_at=dt.datetime(2023, 4, 20, 7, 5, tzinfo=dt.UTC),
    )

    _subject, text, html = ReplyRenderer(rules).render(reply)

    assert "quy đổi sang triệu đồng" in text and "quy đổi sang triệu đồng" in html
    assert "1.500" in text  # the amounts are shown in million VND


def test_an_unknown_unit_of_measure_is_a_finding_at_its_cell(rules: Rules) -> None:
    result = validate(rules, "office_plan_usd")

    unknown = only(result, "unknown_money_unit")
    assert unknown.value == "USD" and unknown.cell is not None
    assert result.organization == "Viện Nghiên cứu Da - Giày"
    assert len(result.tasks) == 5


# ---------------------------------------------------------------- hidden rows and columns


@pytest.mark.parametrize("ext", ["xlsx", "xls"])
def test_a_hidden_column_whose_header_matches_never_wins_over_the_visible_one(rules: Rules, ext: str) -> None:
    result = validate(rules, "office_plan_dong", ext)

    assert [t.to_dict() for t in result.tasks] == plan.expected_tasks()
    assert errors(result) == []


@pytest.mark.parametrize("ext", ["xlsx", "xls"])
def test_a_hidden_row_is_not_a_task_and_a_warning_names_it(rules: Rules, ext: str) -> None:
    result = validate(rules, "office_plan_dong", ext)

    assert len(result.tasks) == 5
    hidden = only(result, "hidden_row")
    assert hidden.severity == "warning"
    assert hidden.row == task_row("office_plan_dong", 4) + 1
    assert f"Dòng {hidden.row}" in hidden.message and "Nhiệm vụ đã bỏ" in hidden.message


# ---------------------------------------------------------------- formulas and months


def _never_opened_workbook() -> bytes:
    """A plan written by a program (openpyxl): formulas are stored without any computed result."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Phụ lục 1"
    sheet.append(["Tên đơn vị: Viện Nghiên cứu Da - Giày"])
    sheet.append([plan.HEADERS.get(k) or plan.CHILDREN[k] for k in plan.KEYS])
    letters = {k: plan.column_letter(plan.Shape(), k) for k in plan.KEYS}
    for task in plan.TASKS:
        row = len(sheet["A"]) + 1
        values: list[Any] = [task[k] for k in plan.KEYS]
        values[plan.KEYS.index("kinh_phi_tong")] = f"={letters['kinh_phi_nsnn']}{row}+{letters['kinh_phi_khac']}{row}"
        sheet.append(values)
    sheet.append([None, "Tổng cộng"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_formula_without_a_stored_result_is_a_warning_naming_its_cell_never_silently_empty(rules: Rules) -> None:
    result = validate(rules, "generated", data=_never_opened_workbook())

    warned = [f for f in result.findings if f.code == "formula_without_value"]
    letter = plan.column_letter(plan.Shape(), "kinh_phi_tong")
    assert [f.cell for f in warned] == [f"{letter}{row}" for row in range(3, 8)]
    assert all(f.severity == "warning" and f.cell and "công thức" in f.message for f in warned)
    assert "missing_value" not in codes(result)
    assert [t.kinh_phi_nsnn for t in result.tasks] == [t["kinh_phi_nsnn"] for t in plan.TASKS]


def test_months_written_as_real_dates_formatted_as_months_are_read(rules: Rules) -> None:
    result = validate(rules, "office_plan")

    assert [(t.bat_dau, t.ket_thuc) for t in result.tasks] == [(t["bat_dau"], t["ket_thuc"]) for t in plan.TASKS]


def test_months_written_as_text_and_quarters_are_read_and_a_quarter_is_noted(rules: Rules) -> None:
    result = validate(rules, "office_plan_groups")

    assert [(t.bat_dau, t.ket_thuc) for t in result.tasks] == [(t["bat_dau"], t["ket_thuc"]) for t in plan.TASKS]
    notes = [f for f in result.findings if f.code == "quarter_as_month"]
    assert {(f.field, f.value) for f in notes} == {
        ("bat_dau", "Quý I/2024"),
        ("ket_thuc", "Quý IV/2024"),
        ("bat_dau", "Quý II/2024"),
    }
    assert all(f.severity == "warning" for f in notes)
    assert any("tháng cuối quý" in f.message and "12/2024" in f.message for f in notes)


# ---------------------------------------------------------------- the organisation, line by line


@pytest.mark.parametrize(
    "lines",
    [
        ["Đơn vị tính: triệu đồng", "Tên đơn vị: Viện Cơ khí"],
        ["ĐVT: đồng", "Đơn vị đề xuất: Viện Cơ khí"],
        ["Đơn vị: triệu đồng", "Đơn vị: Viện Cơ khí"],
        ["Đơn vị đề xuất: Trường Cao đẳng Công Thương", "Tên đơn vị: Viện Cơ khí"],
    ],
)
def test_a_unit_of_measure_line_is_never_the_organisation_and_tên_đơn_vị_is_trusted_most(lines: list[str]) -> None:
    assert organization_from_lines(lines) == "Viện Cơ khí"


def test_a_unit_of_measure_alone_gives_no_organisation() -> None:
    assert organization_from_lines(["Đơn vị tính: triệu đồng", "ĐVT: nghìn đồng", "Đơn vị: đồng"]) is None


def test_a_long_unit_name_wrapped_over_two_header_lines_is_read_whole() -> None:
    rows: list[list[CellValue]] = [
        ["BỘ CÔNG THƯƠNG", None, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"],
        ["TRƯỜNG ĐẠI HỌC CÔNG NGHIỆP", None, "Độc lập - Tự do - Hạnh phúc"],
        ["THỰC PHẨM TP. HỒ CHÍ MINH", None, None],
        ["-------", None, None],
        [],
    ]
    grid = Grid("t.xlsx", "Phụ lục 1", rows)

    assert find_organization(grid, header_row=4) == "TRƯỜNG ĐẠI HỌC CÔNG NGHIỆP THỰC PHẨM TP. HỒ CHÍ MINH"


@pytest.mark.parametrize(
    ("written", "factor"),
    [("triệu đồng", 1.0), ("Tr.đồng", 1.0), ("nghìn đồng", 1e-3), ("1.000 đồng", 1e-3), ("đồng", 1e-6), ("VNĐ", 1e-6)],
)
def test_units_of_measure_are_understood_in_their_usual_spellings(written: str, factor: float) -> None:
    assert money_factor(written) == factor


def test_a_unit_in_nested_parentheses_of_a_word_style_header_is_read_as_million() -> None:
    header: list[CellValue] = ["STT", "Tên nhiệm vụ", "Tổng (Kinh phí dự kiến (triệu đồng))", "NSNN (Kinh phí (đồng))"]
    grid = Grid("t.docx", "Bảng 1", [header, [1, "Nhiệm vụ", 5, 5]])

    units = find_money_unit(grid, header_row=0, depth=1, money_cols=[2, 3])

    assert [(u.written, u.factor) for u in units] == [("triệu đồng", 1.0), ("đồng", 1e-6)]
