"""The rules' column labels and aliases are folded once, not once per grid, row and header cell; what is
remembered is bounded and follows the rules' text, so an edited alias counts at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailbot.model import Grid
from mailbot.readers import table
from mailbot.readers.table import find_task_table, locate_header
from mailbot.validation.schema import Rules
from tests.builders.submissions import task_list


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the header matcher folds itself (cell texts go through match_key and are not counted)."""
    folded: list[str] = []
    real: Callable[[str], str] = table.fold

    def fold(text: str) -> str:
        folded.append(text)
        return real(text)

    monkeypatch.setattr(table, "fold", fold)
    return folded


def grid(rows: list[list[object]], name: str = "PL1.xlsx") -> Grid:
    return Grid(name, "Phụ lục 1", rows)  # type: ignore[arg-type]  # builder rows are plain Python values


def test_the_labels_and_aliases_are_folded_once_however_many_grids_are_searched(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    table._header_index.cache_clear()
    folded = counting(monkeypatch)
    layout = task_list(two_row_header=True, numbering=True, total=True)
    first = find_task_table(grid(layout.rows), rules.columns)
    once = len(folded)
    for n in range(30):
        again = find_task_table(grid(layout.rows, f"PL1-{n}.xlsx"), rules.columns)
        assert again is not None and first is not None and again.columns == first.columns
    names = sum(1 + len(c.aliases) + (1 if c.group else 0) for c in rules.columns)
    assert 0 < once <= names
    assert len(folded) == once


def test_an_alias_added_to_the_rules_names_its_column_the_next_time(rules: Rules) -> None:
    header = ["STT", "Tên công việc", "Đơn vị chủ trì", "Tổng kinh phí", "Ghi chú"]
    rows: list[list[object]] = [header, [1, "Nhiệm vụ A", "Viện X", 100, None]]
    assert locate_header(grid(rows), rules.columns) is None
    edited = [
        c.model_copy(update={"aliases": [*c.aliases, "tên công việc"]}) if c.key == "ten_nhiem_vu" else c
        for c in rules.columns
    ]
    located = locate_header(grid(rows), edited)
    assert located is not None and located[2]["ten_nhiem_vu"] == 1
    assert locate_header(grid(rows), rules.columns) is None


def test_what_is_remembered_of_the_rules_stays_bounded_whatever_rules_come(rules: Rules) -> None:
    layout = task_list()
    for n in range(40):
        columns = [c.model_copy(update={"aliases": [*c.aliases, f"bí danh {n}"]}) for c in rules.columns]
        assert find_task_table(grid(layout.rows), columns) is not None
    info = table._header_index.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize <= 16
