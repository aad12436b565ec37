"""Builders for Word documents and Phụ lục 2 texts, made in memory for the tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import docx
from docx.document import Document as WordDocument
from docx.table import Table

_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
_VBA_OVERRIDE = '<Override PartName="/word/vbaProject.bin" ContentType="application/vnd.ms-office.vbaProject"/>'


def docx_bytes(
    paragraphs_before: Sequence[str] = (),
    table: list[list[object]] | None = None,
    *,
    merges: Sequence[tuple[int, int, int, int]] = (),
    paragraphs_after: Sequence[str] = (),
    macro: bool = False,
) -> bytes:
    """A Word document: paragraphs, then optionally one table, then paragraphs.

    `merges` are 0-based inclusive (first_row, first_col, last_row, last_col); only the top-left cell
    of a merged range keeps its text. `macro=True` makes it a macro-enabled document (.docm).
    """
    document = docx.Document()
    for text in paragraphs_before:
        document.add_paragraph(text)
    if table is not None:
        add_table(document, table, merges)
    for text in paragraphs_after:
        document.add_paragraph(text)
    data = save(document)
    return with_macro(data) if macro else data


def add_table(
    document: WordDocument, table: list[list[object]], merges: Sequence[tuple[int, int, int, int]] = ()
) -> Table:
    """Append `table` (None → empty cell) to `document`, merging the given ranges."""
    width = max((len(row) for row in table), default=0)
    word_table: Table = document.add_table(rows=len(table), cols=width)
    covered = {
        (r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1) if (r, c) != (r0, c0)
    }
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            if value is not None and (r, c) not in covered:
                word_table.cell(r, c).text = str(value)
    for r0, c0, r1, c1 in merges:
        word_table.cell(r0, c0).merge(word_table.cell(r1, c1))
    return word_table


def docx_with_nested_table(outer: list[list[object]], inner: list[list[object]]) -> bytes:
    """A document with one table whose first cell holds another table."""
    document = docx.Document()
    word_table = add_table(document, outer)
    cell = word_table.cell(0, 0)
    nested = cell.add_table(rows=len(inner), cols=max(len(row) for row in inner))
    for r, row in enumerate(inner):
        for c, value in enumerate(row):
            nested.cell(r, c).text = "" if value is None else str(value)
    return save(document)


def save(document: WordDocument) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def with_macro(data: bytes) -> bytes:
    """The same document as a .docm: macro-enabled main part and a `word/vbaProject.bin` member."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                text = content.decode("utf-8").replace(_DOCX_MAIN, _DOCM_MAIN)
                content = text.replace("</Types>", _VBA_OVERRIDE + "</Types>").encode("utf-8")
            target.writestr(item, content)
        target.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0not-really-vba")
    return buffer.getvalue()


_SECTION_TITLES: tuple[str, ...] = (
    "Tên nhiệm vụ",
    "Đơn vị chủ trì",
    "Chủ nhiệm nhiệm vụ",
    "Tính cấp thiết",
    "Mục tiêu",
    "Nội dung thực hiện",
    "Sản phẩm dự kiến",
    "Tiến độ thực hiện",
    "Kinh phí",
    "Hiệu quả dự kiến",
)
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def description_contents(name: str, *, budget_text: str, unit: str) -> list[list[str]]:
    """The content paragraphs of the ten sections, in order; some sections run over paragraphs."""
    return [
        [name],
        [unit],
        ["Nguyễn Văn A, Trưởng phòng, 0912345678, a@vien.vn"],
        [
            "Ngành công nghiệp tiêu thụ nhiều nguyên liệu và năng lượng.",
            "Chưa có bộ định mức tiêu hao được cập nhật cho giai đoạn mới.",
        ],
        ["Xây dựng và ban hành bộ định mức tiêu hao nguyên liệu."],
        [
            "Nội dung 1: Khảo sát hiện trạng tiêu hao tại 20 doanh nghiệp.",
            "Nội dung 2: Đề xuất bộ định mức và lấy ý kiến chuyên gia.",
        ],
        ["Báo cáo tổng hợp; dự thảo bộ định mức."],
        ["Từ tháng 01/2024 đến tháng 12/2024."],
        [budget_text],
        ["Giảm tiêu hao nguyên liệu ít nhất 5% tại các doanh nghiệp áp dụng."],
    ]


def description_paragraphs(
    name: str,
    *,
    budget_text: str = "Tổng kinh phí: 1.500 triệu đồng",
    unit: str = "Viện Cơ khí",
    style: str = "numbered",
) -> list[str]:
    """The ten sections of one thuyết minh nhiệm vụ as paragraphs.

    style "numbered": "1. Tên nhiệm vụ: …"; "roman_upper": "I. TÊN NHIỆM VỤ" then the content as its
    own paragraph; "plain": "Tên nhiệm vụ: …" without numbers.
    """
    paragraphs: list[str] = []
    contents = description_contents(name, budget_text=budget_text, unit=unit)
    for number, (title, content) in enumerate(zip(_SECTION_TITLES, contents, strict=True), start=1):
        first, rest = content[0], content[1:]
        if style == "numbered":
            paragraphs.append(f"{number}. {title}: {first}")
        elif style == "roman_upper":
            paragraphs.extend([f"{_ROMAN[number - 1]}. {title.upper()}", first])
        elif style == "plain":
            paragraphs.append(f"{title}: {first}")
        else:
            raise ValueError(f"unknown style {style!r}")
        paragraphs.extend(rest)
    return paragraphs
