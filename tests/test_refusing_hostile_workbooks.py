"""A workbook that would make reading slow or large (RELIABILITY #70) is refused as file_too_complex
before it is loaded: in-process (`mailbot validate`) and in the reading child alike, and what the
child sends back stays small. An ordinary workbook is still read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.cli import main
from mailbot.isolation import IsolatedReader
from mailbot.readers import MAX_COLS, read_file
from tests.builders.documents import docx_bytes
from tests.builders.sheets import hostile_workbooks, part_xlsx_bytes, with_member, xlsx_bytes, zip_members
from tests.builders.submissions import task_list

HOSTILE = hostile_workbooks(task_list().rows)


@pytest.fixture(scope="module")
def reader() -> Iterator[IsolatedReader]:
    isolated = IsolatedReader(memory_mb=512, timeout_seconds=60, max_bytes=20_000_000, max_uncompressed=200_000_000)
    yield isolated
    isolated.close()


def validate_json(tmp_path: Path, name: str, data: bytes) -> tuple[int, dict[str, object]]:
    path = tmp_path / name
    path.write_bytes(data)
    run = CliRunner().invoke(main, ["validate", "--json", str(path)])
    return run.exit_code, json.loads(run.output)


def codes(findings: object) -> list[str]:
    return [f["code"] for f in findings]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_workbook_is_refused_by_mailbot_validate_before_it_is_loaded(tmp_path: Path, kind: str) -> None:
    exit_code, result = validate_json(tmp_path, f"{kind}.xlsx", HOSTILE[kind])
    assert exit_code == 1
    refused = [f for f in result["findings"] if f["code"] == "file_too_complex"]  # type: ignore[attr-defined]
    assert len(refused) == 1 and refused[0]["file"] == f"{kind}.xlsx" and refused[0]["hint"]
    assert result["tasks"] == []


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_workbook_is_refused_in_the_reading_child_by_inspection_not_by_its_caps(
    reader: IsolatedReader, kind: str
) -> None:
    result = reader.read(f"{kind}.xlsx", HOSTILE[kind])
    assert [f.code for f in result.findings] == ["file_too_complex"] and result.grids == []
    message = result.findings[0].message
    assert "quá phức tạp (" in message and "bộ nhớ" not in message and "giây" not in message


def test_an_ordinary_workbook_is_still_read_in_process_and_in_the_child(tmp_path: Path, reader: IsolatedReader) -> None:
    layout = task_list(two_row_header=True, numbering=True, total=True, signature=True)
    for data in (
        xlsx_bytes(layout.rows, merges=layout.merge_ranges()),
        part_xlsx_bytes(layout.rows, merges=layout.merge_ranges(), dimension="A1:N20", styled_empty_rows=500),
    ):
        _, result = validate_json(tmp_path, "PhuLuc1.xlsx", data)
        assert len(result["tasks"]) == 3 and "file_too_complex" not in codes(result["findings"])  # type: ignore[arg-type]
        read = reader.read("PhuLuc1.xlsx", data)
        assert read.findings == [] and read.grids[0].rows[4][1] == "Tên nhiệm vụ"


def test_a_workbook_just_inside_the_limits_is_read(reader: IsolatedReader) -> None:
    rows = [[f"ô {r}-{c}" for c in range(14)] for r in range(4000)]
    data = part_xlsx_bytes(rows, dimension="A1:N99999", merges=["A3001:N3999"])  # 13,986 merged cells
    result = read_file("Lon.xlsx", data)
    assert result.findings == [] and len(result.grids[0].rows) == 4000
    assert result.grids[0].merges == [(3000, 0, 3998, 13)]


def test_a_word_table_cell_spanning_a_billion_columns_is_laid_out_within_the_column_limit() -> None:
    data = docx_bytes(["Phụ lục 2"], table=[["Tên nhiệm vụ", "Kinh phí"], ["Một", "1.500"]])
    document = zip_members(data)["word/document.xml"].decode()
    document = re.sub(r"<w:tc>", '<w:tc><w:tcPr><w:gridSpan w:val="1000000000"/></w:tcPr>', document, count=1)
    result = read_file("PhuLuc2.docx", with_member(data, "word/document.xml", document.encode()))
    assert result.grids and all(len(row) <= MAX_COLS for row in result.grids[0].rows)
