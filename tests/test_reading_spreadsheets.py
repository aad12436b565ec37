"""Reading the spreadsheets submitters attach: every sheet, faithfully, with merges and real types."""

from __future__ import annotations

import datetime as dt
import unicodedata

import openpyxl
import pytest

from mailbot.readers import MAX_ROWS, ensure_safe_xml, read_file
from mailbot.readers.sniff import sniff
from tests.builders.sheets import part_xlsx_bytes, pdf_bytes, with_member, xls_bytes, xlsx_bytes, zip_bytes, zip_members

HEADER = ["STT", "Tên nhiệm vụ", "Định hướng", "Kinh phí", "Bắt đầu"]
TASK = [1, "Truyền thông về sản xuất bền vững", "1", 1500.5, dt.datetime(2024, 1, 1)]


def codes(result: object) -> list[str]:
    return [f.code for f in result.findings]  # type: ignore[attr-defined]


def test_a_clean_xlsx_is_read_cell_for_cell_with_text_numbers_and_dates() -> None:
    result = read_file("phu_luc_1.xlsx", xlsx_bytes([HEADER, TASK, [2, "Mô hình", 2, 300, None]]))

    assert result.kind == "xlsx"
    assert result.findings == []
    [grid] = result.grids
    assert grid.file == "phu_luc_1.xlsx"
    assert grid.sheet == "Phụ lục 1"
    assert grid.rows == [HEADER, TASK, [2, "Mô hình", 2, 300, None]]
    assert type(grid.rows[1][0]) is int and type(grid.rows[1][3]) is float


def test_rows_start_at_a1_so_that_rows_r_c_is_the_cell_of_sheet_row_r_plus_1_column_c_plus_1() -> None:
    result = read_file("t.xlsx", xlsx_bytes([[None, None], [None, None, "C3"]]))

    assert result.grids[0].rows == [[None, None, None], [None, None, "C3"]]


def test_every_non_empty_sheet_is_delivered_in_order_so_a_table_on_the_second_sheet_is_there() -> None:
    data = xlsx_bytes(
        [HEADER, TASK],
        sheets_before=[("Hướng dẫn", [["Điền bảng ở trang sau"]]), ("Trống", [])],
    )

    result = read_file("t.xlsx", data)

    assert [g.sheet for g in result.grids] == ["Hướng dẫn", "Phụ lục 1"]
    assert result.grids[1].rows == [HEADER, TASK]


def test_merged_header_ranges_are_reported_and_only_the_top_left_cell_keeps_the_value() -> None:
    rows: list[list[object]] = [
        ["STT", "Tên nhiệm vụ", "Kinh phí dự kiến (triệu đồng)", None, None],
        [None, None, "Tổng", "NSNN", "Nguồn khác"],
        [1, "Truyền thông", 100, 60, 40],
    ]

    result = read_file("t.xlsx", xlsx_bytes(rows, merges=["A1:A2", "B1:B2", "C1:E1"]))

    grid = result.grids[0]
    assert grid.merges == [(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 0, 4)]
    assert grid.rows[0] == ["STT", "Tên nhiệm vụ", "Kinh phí dự kiến (triệu đồng)", None, None]
    assert grid.rows[1] == [None, None, "Tổng", "NSNN", "Nguồn khác"]


def test_a_value_stored_in_a_cell_a_merge_covers_is_not_read_as_a_spreadsheet_program_does_not_show_it() -> None:
    # LibreOffice can keep the contents of the cells it merges; only the top left cell is shown
    rows: list[list[object]] = [
        ["STT", "Tên nhiệm vụ", "ẩn dưới ô gộp", None, None],
        [1, "Truyền thông", None, None, "chỉ ô bị gộp có chữ"],
        [2, "Mô hình", None, None, None],
    ]

    result = read_file("t.xlsx", part_xlsx_bytes(rows, merges=["B1:C1", "D2:E3"]))

    grid = result.grids[0]
    assert grid.rows == [["STT", "Tên nhiệm vụ", None], [1, "Truyền thông", None], [2, "Mô hình", None]]
    assert grid.merges == [(0, 1, 0, 2)]  # the other shows nothing: the grid ends where the values do


def test_a_link_over_empty_cells_leaves_them_empty() -> None:
    rows: list[list[object]] = [["STT", "Tên nhiệm vụ"], [1, "Truyền thông"]]

    result = read_file("t.xlsx", part_xlsx_bytes(rows, hyperlinks=["A1:C4"]))

    assert result.grids[0].rows == rows


def test_nfd_text_is_delivered_exactly_as_written_normalisation_comes_later() -> None:
    nfd = unicodedata.normalize("NFD", "Tên nhiệm vụ")

    result = read_file("t.xlsx", xlsx_bytes([[nfd, "  có khoảng trắng  "]]))

    assert result.grids[0].rows[0][0] == nfd
    assert result.grids[0].rows[0][0] != "Tên nhiệm vụ"
    assert result.grids[0].rows[0][1] == "  có khoảng trắng  "


def test_a_cell_holding_only_white_space_is_empty() -> None:
    result = read_file("t.xlsx", xlsx_bytes([["a", "   ", "\u00a0", "b"]]))

    assert result.grids[0].rows[0] == ["a", None, None, "b"]


def test_text_that_starts_with_an_equals_sign_is_read_as_text() -> None:
    result = read_file("t.xlsx", xlsx_bytes([['=HYPERLINK("http://x")']]))

    assert result.grids[0].rows[0] == ['=HYPERLINK("http://x")']


def test_cached_formula_results_are_read_not_the_formula() -> None:
    data = xlsx_bytes([[2, 3, None]])
    sheet = '<c r="C1"><f>A1+B1</f><v>5</v></c></row>'
    data = _rewrite(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"</row>", sheet.encode(), 1))

    result = read_file("t.xlsx", data)

    assert result.grids[0].rows[0] == [2, 3, 5]


def test_the_file_name_is_nfc_normalised() -> None:
    nfd_name = unicodedata.normalize("NFD", "Phụ lục 1.xlsx")

    result = read_file(nfd_name, xlsx_bytes([["x"]]))

    assert result.file == "Phụ lục 1.xlsx"
    assert result.grids[0].file == "Phụ lục 1.xlsx"


def test_an_xls_with_a_merge_and_a_date_cell_is_read_with_real_types() -> None:
    rows: list[list[object]] = [
        ["Thời gian thực hiện", None, "Kinh phí"],
        ["Bắt đầu", "Kết thúc", None],
        [dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 1), 250.0],
        [None, None, 12.5],
    ]

    result = read_file("cu.xls", xls_bytes(rows, sheet="Nhiệm vụ", merges=[(0, 0, 0, 1)]))

    assert result.kind == "xls"
    assert result.findings == []
    [grid] = result.grids
    assert grid.sheet == "Nhiệm vụ"
    assert grid.merges == [(0, 0, 0, 1)]
    assert grid.rows[0] == ["Thời gian thực hiện", None, "Kinh phí"]
    assert grid.rows[2] == [dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 1), 250]
    assert type(grid.rows[2][2]) is int
    assert grid.rows[3] == [None, None, 12.5]


def test_an_xlsx_renamed_xls_is_read_by_content_with_a_type_mismatch_warning() -> None:
    result = read_file("bang.xls", xlsx_bytes([HEADER, TASK]))

    assert result.kind == "xlsx"
    assert [(f.code, f.severity) for f in result.findings] == [("type_mismatch", "warning")]
    assert ".xls" in result.findings[0].message
    assert result.grids[0].rows == [HEADER, TASK]


def test_an_xls_renamed_xlsx_is_read_by_content_with_a_type_mismatch_warning() -> None:
    result = read_file("bang.xlsx", xls_bytes([["STT", "Tên"], [1, "A"]]))

    assert result.kind == "xls"
    assert [(f.code, f.severity) for f in result.findings] == [("type_mismatch", "warning")]
    assert result.grids[0].rows == [["STT", "Tên"], [1, "A"]]


def test_a_macro_enabled_workbook_gets_a_macro_warning_and_its_values_are_still_read() -> None:
    result = read_file("bang.xlsm", xlsx_bytes([HEADER, TASK], macro=True))

    assert result.kind == "xlsm"
    assert [(f.code, f.severity) for f in result.findings] == [("macro_file", "warning")]
    assert result.grids[0].rows == [HEADER, TASK]


def test_a_workbook_named_xlsx_that_holds_a_vba_project_is_recognised_as_macro_by_content() -> None:
    result = read_file("bang.xlsx", xlsx_bytes([HEADER], macro=True))

    assert result.kind == "xlsm"
    assert codes(result) == ["macro_file"]


def test_a_workbook_with_an_excel4_macro_sheet_is_recognised_as_macro() -> None:
    data = with_member(xlsx_bytes([HEADER]), "xl/macrosheets/sheet1.xml", b"<xm/>")

    assert codes(read_file("bang.xlsx", data)) == ["macro_file"]


def test_a_sheet_longer_than_the_cap_is_truncated_with_a_warning() -> None:
    rows: list[list[object]] = [[i] for i in range(MAX_ROWS + 10)]

    result = read_file("dai.xlsx", xlsx_bytes(rows))

    assert len(result.grids[0].rows) == MAX_ROWS
    [finding] = result.findings
    assert (finding.code, finding.severity, finding.sheet) == ("sheet_truncated", "warning", "Phụ lục 1")


def test_a_pdf_with_a_text_layer_is_recognised_as_having_text() -> None:
    result = read_file("cong_van.pdf", pdf_bytes("Phu luc 1 - Danh muc nhiem vu"))

    assert (result.kind, result.has_text, result.grids, result.findings) == ("pdf", True, [], [])


def test_a_blank_page_pdf_like_a_scan_has_no_text() -> None:
    result = read_file("scan.pdf", pdf_bytes())

    assert (result.kind, result.has_text, result.findings) == ("pdf", False, [])


def test_a_docx_and_a_docm_are_recognised_by_their_parts() -> None:
    docx = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    docm = with_member(docx, "word/vbaProject.bin", b"vba")

    assert (sniff("a.docx", docx).read_as, sniff("a.docx", docx).findings) == ("docx", [])
    verdict = sniff("a.docx", docm)
    assert verdict.read_as == "docm"
    assert [f.code for f in verdict.findings] == ["macro_file"]


def test_a_docx_named_xlsx_is_read_as_a_docx_with_a_warning() -> None:
    docx = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})

    verdict = sniff("bang.xlsx", docx)

    assert verdict.read_as == "docx"
    assert [(f.code, f.severity) for f in verdict.findings] == [("type_mismatch", "warning")]


def test_safe_xml_parsing_is_confirmed_at_start_up_when_defusedxml_is_active() -> None:
    assert openpyxl.DEFUSEDXML is True
    ensure_safe_xml()


def test_start_up_refuses_when_openpyxl_would_parse_xml_without_defusedxml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)

    with pytest.raises(RuntimeError, match="defusedxml"):
        ensure_safe_xml()


# --- helpers ----------------------------------------------------------------------------------------


def _rewrite(data: bytes, name: str, change: object) -> bytes:
    members = zip_members(data)
    members[name] = change(members[name])  # type: ignore[operator]
    return zip_bytes(members)
