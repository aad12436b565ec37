"""Broken, hostile and mislabelled attachments become precise findings, never exceptions."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest

from mailbot.model import ReadResult
from mailbot.readers import read_file
from mailbot.readers.convert import ConvertSettings
from mailbot.readers.pdf import read_pdf
from mailbot.readers.xlsx import read_xlsx
from tests.builders.sheets import (
    cfb_bytes,
    encrypted_xls_bytes,
    encrypted_xlsx_bytes,
    pdf_bytes,
    with_member,
    xls_bytes,
    xlsx_bytes,
    zip_bytes,
    zip_members,
)
from tests.converter import converting

ROWS: list[list[object]] = [["STT", "Tên nhiệm vụ"], [1, "Truyền thông"]]
SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.replace("&lol0;", "&lol;").encode() for i in range(1, 10))
    + b"]>"
)
WORKSHEET = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
)


def only(result: ReadResult) -> tuple[str, str]:
    [finding] = result.findings
    return finding.code, finding.severity


def test_a_password_protected_xlsx_is_reported_as_encrypted_not_corrupt() -> None:
    result = read_file("bang.xlsx", encrypted_xlsx_bytes(ROWS))

    assert only(result) == ("encrypted_file", "error")
    assert "mật khẩu" in result.findings[0].hint
    assert result.grids == []


def test_a_password_protected_xls_is_reported_as_encrypted_not_corrupt() -> None:
    result = read_file("bang.xls", encrypted_xls_bytes(ROWS))

    assert only(result) == ("encrypted_file", "error")
    assert result.grids == []


def test_a_truncated_xlsx_cannot_be_opened() -> None:
    data = xlsx_bytes(ROWS)

    result = read_file("bang.xlsx", data[: len(data) // 2])

    assert only(result) == ("unreadable_file", "error")
    assert result.grids == []


def test_an_xlsx_with_a_flipped_byte_in_a_compressed_member_cannot_be_opened() -> None:
    data = _flip_byte_inside(xlsx_bytes(ROWS), SHEET)

    assert only(read_file("bang.xlsx", data)) == ("unreadable_file", "error")


def test_the_xlsx_reader_on_its_own_turns_a_bad_crc_into_a_finding() -> None:
    data = _flip_byte_inside(xlsx_bytes(ROWS), SHEET)

    assert only(read_xlsx("bang.xlsx", data)) == ("unreadable_file", "error")


def test_a_billion_laughs_sheet_is_rejected_as_malformed_without_expanding_entities() -> None:
    data = with_member(xlsx_bytes(ROWS), SHEET, LAUGHS + WORKSHEET)

    result = read_file("bang.xlsx", data)

    assert only(result) == ("unreadable_file", "error")
    assert "định dạng" in result.findings[0].message
    assert result.grids == []


def test_entities_hidden_behind_a_long_comment_are_still_refused_by_the_xml_parser() -> None:
    head = b'<?xml version="1.0"?>\n<!--' + b"x" * 100_000 + b"-->\n"
    data = with_member(xlsx_bytes(ROWS), SHEET, head + LAUGHS.split(b"\n", 1)[1] + WORKSHEET)

    result = read_file("bang.xlsx", data)

    assert only(result) == ("unreadable_file", "error")
    assert result.grids == []


def test_an_external_entity_never_reads_a_local_file() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY lol9 SYSTEM "file:///etc/hostname">]>'
    data = with_member(xlsx_bytes(ROWS), SHEET, xxe + WORKSHEET)

    result = read_file("bang.xlsx", data)

    assert only(result) == ("unreadable_file", "error")
    assert result.grids == []


def test_a_member_that_expands_a_thousandfold_is_refused_before_parsing() -> None:
    bomb = xlsx_bytes(ROWS)
    bomb = with_member(bomb, SHEET, zip_members(bomb)[SHEET] + b" " * 5_000_000)

    result = read_file("bang.xlsx", bomb)

    assert only(result) == ("file_too_complex", "error")
    assert "sheet1.xml" in result.findings[0].message
    assert result.grids == []


def test_a_workbook_that_expands_beyond_the_configured_size_is_refused() -> None:
    result = read_file("bang.xlsx", xlsx_bytes(ROWS), max_uncompressed=5_000)

    assert only(result) == ("file_too_complex", "error")


def test_a_zip_with_more_than_ten_thousand_members_is_refused() -> None:
    members = {f"xl/media/{i}.bin": b"" for i in range(10_001)}
    data = zip_bytes({**zip_members(xlsx_bytes(ROWS)), **members})

    assert only(read_file("bang.xlsx", data)) == ("file_too_complex", "error")


def test_a_file_over_the_size_limit_is_refused_and_the_limit_is_named_in_megabytes() -> None:
    data = xlsx_bytes(ROWS)

    result = read_file("bang.xlsx", data, max_bytes=1_000)

    assert only(result) == ("file_too_large", "error")
    assert "0,001 MB" in result.findings[0].message
    assert result.grids == []


def test_a_pdf_named_xlsx_is_a_type_mismatch_error_and_nothing_is_read() -> None:
    result = read_file("bang.xlsx", pdf_bytes("hello"))

    assert only(result) == ("type_mismatch", "error")
    assert "PDF" in result.findings[0].message
    assert (result.kind, result.grids, result.has_text) == ("xlsx", [], False)


def test_an_html_page_saved_as_xls_is_a_type_mismatch_error() -> None:
    html = b"<html xmlns:o='urn:schemas-microsoft-com:office:office'><body><table><tr><td>1</td></tr>"

    result = read_file("bang.xls", html)

    assert only(result) == ("type_mismatch", "error")
    assert "HTML" in result.findings[0].message


def test_an_executable_named_xlsx_is_a_type_mismatch_error() -> None:
    assert only(read_file("bang.xlsx", b"MZ\x90\x00" + b"\x00" * 200)) == ("type_mismatch", "error")


def test_a_plain_zip_named_xlsx_is_a_type_mismatch_error() -> None:
    assert only(read_file("bang.xlsx", zip_bytes({"a.txt": b"hello"}))) == ("type_mismatch", "error")


@pytest.mark.parametrize("data", [b"", b"\x00\x13garbage that is no known format" * 10])
def test_empty_or_garbage_bytes_cannot_be_opened(data: bytes) -> None:
    assert only(read_file("bang.xlsx", data)) == ("unreadable_file", "error")


def test_a_legacy_word_doc_is_unsupported_where_nothing_converts_it_and_docx_or_xlsx_is_asked_for() -> None:
    with converting(ConvertSettings(enabled=False)):
        result = read_file("thuyet_minh.doc", cfb_bytes(["WordDocument", "1Table"]))

    assert only(result) == ("unsupported_format", "error")
    assert ".docx" in result.findings[0].hint and ".xlsx" in result.findings[0].hint


def test_a_legacy_office_file_mentioning_workbook_in_its_text_is_not_taken_for_an_xls() -> None:
    data = cfb_bytes(["1Table"]) + b"x" + "Workbook\0 in the body text".encode("utf-16-le")

    assert only(read_file("a.doc", data)) == ("unsupported_format", "error")


def test_an_opendocument_spreadsheet_is_unsupported_where_nothing_converts_it() -> None:
    ods = zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})

    with converting(ConvertSettings(enabled=False)):
        assert only(read_file("bang.ods", ods)) == ("unsupported_format", "error")


def test_a_legacy_workbook_whose_stream_is_garbage_cannot_be_opened() -> None:
    assert only(read_file("bang.xls", cfb_bytes(["Workbook"]))) == ("unreadable_file", "error")


def test_a_truncated_xls_cannot_be_opened() -> None:
    data = xls_bytes(ROWS)

    assert only(read_file("bang.xls", data[: len(data) // 2]))[0] == "unreadable_file"


def test_a_broken_pdf_cannot_be_opened() -> None:
    assert only(read_pdf("a.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n%%EOF")) == (
        "unreadable_file",
        "error",
    )


BROKEN: list[tuple[str, Callable[[], bytes]]] = [
    ("bang.xlsx", lambda: encrypted_xlsx_bytes(ROWS)),
    ("bang.xlsx", lambda: xlsx_bytes(ROWS)[:500]),
    ("bang.xls", lambda: b"<html><body>x</body></html>"),
    ("a.doc", lambda: cfb_bytes(["WordDocument"])),
    ("bang.xlsx", lambda: b""),
]


@pytest.mark.parametrize(("name", "build"), BROKEN)
def test_every_file_finding_names_the_file_and_says_in_vietnamese_how_to_fix_it(
    name: str, build: Callable[[], bytes]
) -> None:
    [finding] = read_file(name, build()).findings

    assert finding.file == name
    assert name in finding.message
    assert finding.hint.startswith(("Vui lòng", "Lưu lại"))


# --- helpers ----------------------------------------------------------------------------------------


def _flip_byte_inside(data: bytes, member: str) -> bytes:
    """`data` with one byte changed in the middle of `member`'s compressed bytes (the CRC no longer fits)."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    header = data[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    at = start + info.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1 :]
