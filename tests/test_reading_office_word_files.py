"""Word files as LibreOffice writes them: a Phụ lục 1 table over landscape pages, split in parts, and
Phụ lục 2 with headings numbered by automatic list numbering and budgets stated every way offices do."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.model import ValidationResult
from mailbot.readers import read_file
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.submissions import ORGANIZATION
from tests.office_fixtures.word_layout import BUDGET_STYLES, SPLIT_PARTS, TASKS, description_texts

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "office" / "word_layout"


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def both(rules: Rules) -> ValidationResult:
    return validate_files([fixture("phu_luc_1_split.docx"), fixture("phu_luc_2_numbered.docx")], rules)


def test_a_table_split_by_a_page_break_and_a_paragraph_is_read_as_one_table() -> None:
    read = read_file(*fixture("phu_luc_1_split.docx"))

    assert len(read.grids) == 1  # three Word tables, one Phụ lục 1
    grid = read.grids[0]
    header_rows, total_rows = 2, 1
    assert len(grid.rows) == header_rows + SPLIT_PARTS[-1][1] + total_rows  # the repeated header is left out
    assert [row[0] for row in grid.rows[header_rows:-1]] == [str(t["stt"]) for t in TASKS]


def test_every_task_of_the_split_landscape_table_is_read_exactly_with_no_finding(both: ValidationResult) -> None:
    assert both.organization == ORGANIZATION
    assert [t.to_dict() for t in both.tasks] == TASKS
    assert both.findings == []


def test_merged_header_cells_are_read_once_in_their_top_left_position() -> None:
    grid = read_file(*fixture("phu_luc_1_split.docx")).grids[0]

    assert grid.rows[0][8] == "Thời gian thực hiện" and grid.rows[0][9] is None
    assert (0, 8, 0, 9) in grid.merges and (0, 0, 1, 0) in grid.merges
    assert grid.rows[1][8:10] == ["Bắt đầu", "Kết thúc"]


def test_headings_numbered_by_list_numbering_split_every_description_into_its_sections(
    both: ValidationResult,
) -> None:
    assert [d.ten_nhiem_vu for d in both.descriptions] == [t["ten_nhiem_vu"] for t in TASKS]
    for description, task in zip(both.descriptions, TASKS, strict=True):
        sections = {key: text for key, text in description.sections.items() if key != "kinh_phi"}
        assert sections == description_texts(task)


@pytest.mark.parametrize("style", sorted(set(BUDGET_STYLES)))
def test_the_budget_is_read_from_a_du_toan_total_row_figures_words_or_ty(style: str, both: ValidationResult) -> None:
    stated = zip(both.descriptions, TASKS, BUDGET_STYLES, strict=True)
    budgets = [(d.kinh_phi_tong, t["kinh_phi_tong"]) for d, t, s in stated if s == style]

    assert budgets
    assert [read for read, _ in budgets] == [written for _, written in budgets]
