"""Reading Word documents: tables on their true grid, the text in reading order, broken files."""

from __future__ import annotations

import io
import zipfile

import docx

from mailbot.readers import read_file
from mailbot.readers.docx import read_docx
from tests.builders.documents import add_table, docx_bytes, docx_with_nested_table, save

HEADER_TOP = ["STT", "Tên nhiệm vụ", "Kinh phí dự kiến (triệu đồng)", None, None]
HEADER_BOTTOM = [None, None, "Tổng", "NSNN", "Nguồn khác"]
TASK_ROW = [1, "Xây dựng định mức tiêu hao ngành thép", "1.500", "1.000", "500"]
#: STT and Tên nhiệm vụ span both header rows; Kinh phí is the parent of three children.
HEADER_MERGES = [(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 0, 4)]


def two_row_header_document() -> bytes:
    return docx_bytes(
        ["PHỤ LỤC 1", "Tên đơn vị: Viện Nghiên cứu Da - Giày"],
        [HEADER_TOP, HEADER_BOTTOM, TASK_ROW],
        merges=HEADER_MERGES,
        paragraphs_after=["Người liên hệ: Trần Thị B"],
    )


def test_merged_header_cells_appear_once_in_their_top_left_position() -> None:
    result = read_docx("phu_luc_1.docx", two_row_header_document())

    grid = result.grids[0]
    assert grid.rows[0] == ["STT", "Tên nhiệm vụ", "Kinh phí dự kiến (triệu đồng)", None, None]
    assert grid.rows[1] == [None, None, "Tổng", "NSNN", "Nguồn khác"]
    assert grid.rows[2] == ["1", "Xây dựng định mức tiêu hao ngành thép", "1.500", "1.000", "500"]


def test_merged_ranges_are_recorded_zero_based_and_inclusive() -> None:
    grid = read_docx("phu_luc_1.docx", two_row_header_document()).grids[0]

    assert sorted(grid.merges) == sorted(HEADER_MERGES)


def test_tables_are_named_bang_in_document_order() -> None:
    result = read_docx("phu_luc_1.docx", two_row_header_document())

    assert [(grid.file, grid.sheet) for grid in result.grids] == [("phu_luc_1.docx", "Bảng 1")]
    assert result.kind == "docx"
    assert result.findings == []


def test_paragraphs_written_above_a_table_are_its_preamble() -> None:
    grid = read_docx("phu_luc_1.docx", two_row_header_document()).grids[0]

    assert grid.preamble == ["PHỤ LỤC 1", "Tên đơn vị: Viện Nghiên cứu Da - Giày"]


def test_text_interleaves_paragraphs_and_table_rows_in_reading_order() -> None:
    result = read_docx("phu_luc_1.docx", two_row_header_document())

    assert result.text is not None
    assert result.text.paragraphs == [
        "PHỤ LỤC 1",
        "Tên đơn vị: Viện Nghiên cứu Da - Giày",
        "STT | Tên nhiệm vụ | Kinh phí dự kiến (triệu đồng)",
        "Tổng | NSNN | Nguồn khác",
        "1 | Xây dựng định mức tiêu hao ngành thép | 1.500 | 1.000 | 500",
        "Người liên hệ: Trần Thị B",
    ]


def test_empty_cells_are_none_and_cell_paragraphs_join_with_line_breaks() -> None:
    data = docx_bytes(table=[["Tên nhiệm vụ\nDòng hai", ""], ["  ", "x"]])

    grid = read_docx("t.docx", data).grids[0]

    assert grid.rows == [["Tên nhiệm vụ\nDòng hai", None], [None, "x"]]


def test_second_table_preamble_holds_only_paragraphs_since_the_first_table() -> None:
    document = docx.Document()
    document.add_paragraph("Trước bảng 1")
    add_table(document, [["a"]])
    document.add_paragraph("Giữa hai bảng")
    add_table(document, [["b"]])

    grids = read_docx("two.docx", save(document)).grids

    assert [(g.sheet, g.preamble) for g in grids] == [
        ("Bảng 1", ["Trước bảng 1"]),
        ("Bảng 2", ["Giữa hai bảng"]),
    ]


def test_a_nested_table_is_read_as_text_of_its_outer_cell_without_a_grid_of_its_own() -> None:
    data = docx_with_nested_table([["outer", "right"], ["below", None]], [["in 1", "in 2"]])

    result = read_docx("nested.docx", data)

    assert result.findings == []
    assert len(result.grids) == 1
    grid = result.grids[0]
    assert grid.rows[0][1] == "right"
    assert grid.rows[1] == ["below", None]
    assert isinstance(grid.rows[0][0], str)
    assert grid.rows[0][0].startswith("outer")
    assert "in 1 | in 2" in grid.rows[0][0]


def test_a_macro_enabled_document_is_read_with_exactly_one_macro_warning() -> None:
    data = docx_bytes(["Tên đơn vị: Viện Cơ khí"], [["STT", "Tên nhiệm vụ"]], macro=True)

    result = read_file("phu_luc_1.docm", data)

    assert result.kind == "docm"
    assert [(f.code, f.severity, f.file) for f in result.findings] == [("macro_file", "warning", "phu_luc_1.docm")]
    assert result.grids[0].rows == [["STT", "Tên nhiệm vụ"]]
    assert result.text is not None
    assert result.text.paragraphs[0] == "Tên đơn vị: Viện Cơ khí"


def corrupt_zip_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


def test_a_corrupt_document_becomes_an_unreadable_file_finding_not_an_exception() -> None:
    broken = {
        "garbage.docx": b"PK\x03\x04 this is not really a zip",
        "truncated.docx": docx_bytes(["Một đoạn văn"])[:500],
        "empty_package.docx": corrupt_zip_without_document(),
        "empty.docx": b"",
    }
    for name, data in broken.items():
        result = read_docx(name, data)

        assert result.grids == [], name
        assert result.text is None, name
        assert [(f.code, f.severity, f.file) for f in result.findings] == [("unreadable_file", "error", name)]
        assert result.findings[0].message and result.findings[0].hint


def test_text_is_kept_as_written_without_normalisation() -> None:
    decomposed = "Te\u0302n nhie\u0323\u0302m vu\u0323"

    result = read_docx("nfd.docx", docx_bytes([decomposed]))

    assert result.text is not None
    assert result.text.paragraphs == [decomposed]
