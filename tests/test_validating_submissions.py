"""A submission's files in every shape DOMAIN.md names: every task field read exactly as written,
and every injected error reported at its field, row and cell."""

from __future__ import annotations

from typing import Any

import pytest

from mailbot.model import Finding, ValidationResult
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.documents import description_paragraphs, docx_bytes
from tests.builders.sheets import encrypted_xlsx_bytes, pdf_bytes, xls_bytes, xlsx_bytes
from tests.builders.submissions import ORGANIZATION, TASKS, Layout, expected_tasks, task_list

SECTIONS = {0: "I. Nhiệm vụ chuyển tiếp", 1: "II. Nhiệm vụ mở mới"}


def descriptions_file(tasks: list[dict[str, Any]] = TASKS, **budget: str) -> tuple[str, bytes]:
    """All descriptions in one Word document (Phụ lục 2 all-in-one)."""
    paragraphs: list[str] = []
    for task in tasks:
        text = budget.get(task["ten_nhiem_vu"], f"Tổng kinh phí: {_vn(task['kinh_phi_tong'])} triệu đồng")
        paragraphs += description_paragraphs(task["ten_nhiem_vu"], budget_text=text)
    return "PhuLuc2.docx", docx_bytes(paragraphs_before=paragraphs)


def _vn(amount: float) -> str:
    whole = f"{int(amount):,}".replace(",", ".")
    return whole + (f",{str(amount).split('.')[1]}" if amount != int(amount) else "")


def xlsx_file(layout: Layout, **kw: Any) -> tuple[str, bytes]:
    return "PhuLuc1.xlsx", xlsx_bytes(layout.rows, merges=layout.merge_ranges(), **kw)


def errors(result: ValidationResult) -> list[Finding]:
    return [f for f in result.findings if f.severity == "error"]


def assert_reads_all_tasks(result: ValidationResult, sections: dict[int, str] | None = None) -> None:
    assert result.organization == ORGANIZATION
    assert [t.to_dict() for t in result.tasks] == expected_tasks(sections)
    assert errors(result) == []


def only(result: ValidationResult, code: str) -> Finding:
    matching = [f for f in result.findings if f.code == code]
    assert len(matching) == 1, result.findings
    return matching[0]


# ---------------------------------------------------------------- every shape, read exactly


def test_a_clean_xlsx_with_its_descriptions_is_read_exactly_with_no_finding(rules: Rules) -> None:
    result = validate_files([xlsx_file(task_list()), descriptions_file()], rules)
    assert_reads_all_tasks(result)
    assert result.findings == []


def test_two_row_merged_headers_with_sections_text_numbers_and_a_total_row_are_read(rules: Rules) -> None:
    layout = task_list(
        two_row_header=True, numbering=True, sections=SECTIONS, total=True, signature=True, vn_numbers=True
    )
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    assert_reads_all_tasks(result, SECTIONS)


def test_upper_case_headers_without_diacritics_are_matched(rules: Rules) -> None:
    layout = task_list(header_style="upper_ascii", two_row_header=True)
    assert_reads_all_tasks(validate_files([xlsx_file(layout), descriptions_file()], rules))


def test_headers_in_nfd_are_matched(rules: Rules) -> None:
    layout = task_list(header_style="nfd", two_row_header=True)
    assert_reads_all_tasks(validate_files([xlsx_file(layout), descriptions_file()], rules))


def test_orientation_written_as_name_or_paraphrase_without_marks_maps_to_its_code(rules: Rules) -> None:
    layout = task_list(orientation_text=True)
    assert_reads_all_tasks(validate_files([xlsx_file(layout), descriptions_file()], rules))


def test_the_table_on_a_second_sheet_is_found(rules: Rules) -> None:
    cover = ("Hướng dẫn", [["Hướng dẫn điền biểu mẫu"], ["Ghi đầy đủ các cột"]])
    files = [xlsx_file(task_list(), sheets_before=[cover]), descriptions_file()]
    assert_reads_all_tasks(validate_files(files, rules))


def test_a_word_table_with_merged_headers_is_read_like_a_sheet(rules: Rules) -> None:
    layout = task_list(two_row_header=True, sections=SECTIONS, total=True)
    body = layout.rows[4:]  # the organisation is written as a paragraph above a Word table
    shifted = [(r1 - 4, c1, r2 - 4, c2) for r1, c1, r2, c2 in layout.merges]
    data = docx_bytes([f"Tên đơn vị: {ORGANIZATION}"], body, merges=shifted)
    assert_reads_all_tasks(validate_files([("PhuLuc1.docx", data), descriptions_file()], rules), SECTIONS)


def test_a_legacy_xls_is_read(rules: Rules) -> None:
    layout = task_list(two_row_header=True, vn_numbers=True)
    data = xls_bytes(layout.rows, merges=layout.xlwt_merges())
    assert_reads_all_tasks(validate_files([("PhuLuc1.xls", data), descriptions_file()], rules))


def test_one_description_file_per_task_is_matched_to_each_task(rules: Rules) -> None:
    files = [xlsx_file(task_list())]
    for n, task in enumerate(TASKS):
        budget = f"Tổng kinh phí: {_vn(task['kinh_phi_tong'])} triệu đồng"
        paragraphs = description_paragraphs(task["ten_nhiem_vu"], budget_text=budget, style="roman_upper")
        files.append((f"ThuyetMinh_{n + 1}.docx", docx_bytes(paragraphs)))
    result = validate_files(files, rules)
    assert_reads_all_tasks(result)
    assert len(result.descriptions) == 3


# ---------------------------------------------------------------- injected errors, at their cells


@pytest.mark.parametrize(
    ("key", "written", "code"),
    [
        ("kinh_phi_tong", "khoảng 500", "not_a_number"),
        ("kinh_phi_nsnn", "1,500", "not_a_number"),
        ("bat_dau", "đầu năm 2024", "not_a_month"),
        ("dinh_huong", "Năng lượng tái tạo", "unknown_orientation"),
        ("dinh_huong", 11, "unknown_orientation"),
        ("muc_tieu", None, "missing_value"),
        ("kinh_phi_tong", -5, "out_of_range"),
    ],
)
def test_a_bad_cell_is_reported_at_its_field_row_and_cell(rules: Rules, key: str, written: Any, code: str) -> None:
    layout = task_list(two_row_header=True, numbering=True, overrides={(1, key): written})
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, result.findings
    cell = layout.cells[(1, key)]
    assert (found[0].field, found[0].task_index, found[0].cell) == (key, 1, cell)
    assert found[0].row == int(cell[1:]) and found[0].column == cell[0]
    assert found[0].file == "PhuLuc1.xlsx" and found[0].sheet == "Phụ lục 1"
    assert found[0].severity == "error" and found[0].message and found[0].hint


def test_a_budget_whose_parts_do_not_add_up_is_reported_at_the_total_cell(rules: Rules) -> None:
    layout = task_list(overrides={(2, "kinh_phi_khac"): 300})
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    f = only(result, "budget_sum_mismatch")
    assert (f.cell, f.task_index) == (layout.cells[(2, "kinh_phi_tong")], 2)


def test_state_budget_above_the_total_is_reported_at_the_nsnn_cell(rules: Rules) -> None:
    layout = task_list(overrides={(0, "kinh_phi_nsnn"): 1600})
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    assert only(result, "nsnn_exceeds_total").cell == layout.cells[(0, "kinh_phi_nsnn")]


def test_an_end_before_the_start_and_a_month_outside_the_plan_year_are_reported(rules: Rules) -> None:
    layout = task_list(overrides={(0, "ket_thuc"): "12/2023", (2, "bat_dau"): "11/2024"})
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    assert only(result, "outside_plan_year").cell == layout.cells[(0, "ket_thuc")]
    reversed_ = [f for f in result.findings if f.code == "period_reversed"]
    assert {f.cell for f in reversed_} == {layout.cells[(0, "ket_thuc")], layout.cells[(2, "ket_thuc")]}


def test_a_total_row_that_differs_from_the_sum_is_reported_at_its_cell(rules: Rules) -> None:
    layout = task_list(total=9999.0, vn_numbers=True)
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    assert only(result, "total_mismatch").cell == layout.total_cells["kinh_phi_tong"]


def test_a_missing_required_column_is_reported_by_name(rules: Rules) -> None:
    layout = task_list()
    for row in layout.rows[4:]:
        if len(row) > 3:
            row[3] = None  # no Mục tiêu column at all
    result = validate_files([xlsx_file(layout), descriptions_file()], rules)
    f = only(result, "missing_column")
    assert f.field == "muc_tieu" and f.row == 5 and "Mục tiêu" in f.message


def test_a_description_with_another_budget_is_reported_with_both_figures(rules: Rules) -> None:
    name = TASKS[1]["ten_nhiem_vu"]
    files = [xlsx_file(task_list()), descriptions_file(**{name: "Tổng kinh phí: 2.500 triệu đồng"})]
    f = only(validate_files(files, rules), "description_budget_mismatch")
    assert f.file == "PhuLuc2.docx" and "2,500.0" in f.message and "2,000.5" in f.message


def test_a_task_without_a_description_is_reported_at_its_name_cell(rules: Rules) -> None:
    layout = task_list()
    result = validate_files([xlsx_file(layout), descriptions_file(TASKS[:2])], rules)
    assert only(result, "missing_description").cell == layout.cells[(2, "ten_nhiem_vu")]


def test_a_description_name_with_small_differences_still_matches(rules: Rules) -> None:
    renamed = [dict(t) for t in TASKS]
    renamed[1]["ten_nhiem_vu"] = "Xay dung dinh muc tieu hao nguyen vat lieu nganh da giay."
    result = validate_files([xlsx_file(task_list()), descriptions_file(renamed)], rules)
    assert errors(result) == []


# ---------------------------------------------------------------- whole files


def test_a_password_protected_xlsx_is_an_encrypted_file_finding(rules: Rules) -> None:
    data = encrypted_xlsx_bytes(task_list().rows)
    result = validate_files([("PhuLuc1.xlsx", data), descriptions_file()], rules)
    assert only(result, "encrypted_file").file == "PhuLuc1.xlsx"
    assert result.tasks == []


def test_a_corrupt_xlsx_is_an_unreadable_file_finding(rules: Rules) -> None:
    data = xlsx_bytes(task_list().rows)
    result = validate_files([("PhuLuc1.xlsx", data[: len(data) // 2]), descriptions_file()], rules)
    assert only(result, "unreadable_file").file == "PhuLuc1.xlsx"
    assert only(result, "missing_document").severity == "error"


def test_a_pdf_only_submission_asks_for_the_editable_files(rules: Rules) -> None:
    result = validate_files([("KeHoach2024.pdf", pdf_bytes())], rules)
    assert {f.code for f in result.findings} == {"pdf_only"}
    assert all(f.file == "KeHoach2024.pdf" and f.severity == "error" for f in result.findings)


def test_a_signed_pdf_beside_the_editable_files_is_no_problem(rules: Rules) -> None:
    files = [xlsx_file(task_list()), descriptions_file(), ("CongVan.pdf", pdf_bytes("Cong van de xuat"))]
    assert errors(validate_files(files, rules)) == []


def test_no_files_at_all_means_both_appendices_are_missing(rules: Rules) -> None:
    result = validate_files([], rules)
    assert [f.code for f in result.findings] == ["missing_document", "missing_document"]


def test_a_macro_enabled_workbook_is_read_with_a_warning(rules: Rules) -> None:
    data = xlsx_bytes(task_list().rows, macro=True)
    result = validate_files([("PhuLuc1.xlsm", data), descriptions_file()], rules)
    assert_reads_all_tasks(result)
    assert only(result, "macro_file").severity == "warning"


def test_a_severity_can_be_overridden_by_the_rules(rules: Rules) -> None:
    softer = rules.model_copy(
        update={"checks": rules.checks.model_copy(update={"severity": {"total_mismatch": "warning"}})}
    )
    result = validate_files([xlsx_file(task_list(total=1.0)), descriptions_file()], softer)
    assert only(result, "total_mismatch").severity == "warning"
