"""Build real spreadsheet, PDF and legacy Office files in memory for tests."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import zipfile
from collections.abc import Sequence

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.demo_mail import zip_of
from tests.builders.submissions import task_list

Rows = list[list[object]]

_MACRO_BOOK = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_PLAIN_BOOK = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def _fill(ws: Worksheet, rows: Rows) -> None:
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)  # type: ignore[arg-type]
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text even when it starts with "="


def xlsx_bytes(
    rows: Rows,
    *,
    sheet: str = "Phụ lục 1",
    merges: Sequence[str] = (),
    sheets_before: Sequence[tuple[str, Rows]] = (),
    macro: bool = False,
) -> bytes:
    """An .xlsx (or, with `macro`, an .xlsm holding a vbaProject.bin) with `rows` from A1."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, before in sheets_before:
        _fill(book.create_sheet(title), before)
    main = book.create_sheet(sheet)
    _fill(main, rows)
    for span in merges:
        main.merge_cells(span)
    out = io.BytesIO()
    book.save(out)
    return _add_macro(out.getvalue()) if macro else out.getvalue()


def _add_macro(data: bytes) -> bytes:
    """The workbook with a (dummy) VBA project, declared as Excel does for an .xlsm."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                override = (
                    '<Override PartName="/xl/vbaProject.bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                )
                content = content.replace(_PLAIN_BOOK.encode(), _MACRO_BOOK.encode())
                content = content.replace(b"</Types>", override.encode() + b"</Types>")
            target.writestr(info.filename, content)
        target.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0not-really-vba" * 8)
    return out.getvalue()


def xls_bytes(
    rows: Rows,
    *,
    sheet: str = "Phụ lục 1",
    merges: Sequence[tuple[int, int, int, int]] = (),
) -> bytes:
    """A legacy .xls written by xlwt; merges as 0-based (first_row, last_row, first_col, last_col)."""
    import xlwt  # type: ignore[import-untyped]

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet(sheet)
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    covered = {(r, c) for r1, r2, c1, c2 in merges for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and (r, c) not in covered:
                ws.write(r, c, value, *_style(value, date_style))
    for r1, r2, c1, c2 in merges:
        value = rows[r1][c1] if r1 < len(rows) and c1 < len(rows[r1]) else None
        ws.write_merge(r1, r2, c1, c2, "" if value is None else value, *_style(value, date_style))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _style(value: object, date_style: object) -> tuple[object, ...]:
    return (date_style,) if isinstance(value, dt.date) else ()


def encrypted_xlsx_bytes(rows: Rows, password: str = "secret") -> bytes:
    """A really password-protected workbook (ECMA-376 agile encryption in a CFB container)."""
    from msoffcrypto.format.ooxml import OOXMLFile  # type: ignore[import-untyped]

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx_bytes(rows))).encrypt(password, out)
    return out.getvalue()


def encrypted_xls_bytes(rows: Rows) -> bytes:
    """A legacy .xls that announces encryption: its first record after BOF becomes a FILEPASS record.

    xlwt cannot encrypt; xlrd refuses any workbook with FILEPASS, as it does with real encrypted ones.
    """
    data = xls_bytes(rows)
    at = data.index(b"\x09\x08\x10\x00") + 4 + 16  # BIFF8 BOF: type, length 16, then its data
    assert data[at : at + 4] == b"\xe1\x00\x02\x00", "xlwt no longer starts with INTERFACEHDR"
    return data[:at] + b"\x2f\x00" + data[at + 2 :]


def pdf_bytes(text: str | None = None) -> bytes:
    """A one-page PDF: blank like a scan when `text` is None, else with `text` extractable (ASCII)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    if text is not None:
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 770 Td ({escaped}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def cfb_bytes(streams: Sequence[str]) -> bytes:
    """A minimal but valid Compound File (the container of .doc/.xls) holding empty-ish `streams`.

    Version 3, 512-byte sectors: sector 0 is the FAT, sector 1 the directory (up to 3 streams),
    then one 4096-byte data sector run per stream.
    """
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    entries = [_dir_entry("Root Entry", 5, child=1 if streams else free, start=end, size=0)]
    fat = [fat_sector, end]
    for index, name in enumerate(streams[:3]):
        first = len(fat)
        fat += [*range(first + 1, first + 8), end]
        sibling = index + 2 if index + 1 < len(streams[:3]) else free
        entries.append(_dir_entry(name, 2, right=sibling, start=first, size=4096))
    entries += [b"\0" * 64 + struct.pack("<HBB", 0, 0, 1) + b"\xff" * 12 + b"\0" * 48] * (4 - len(entries))
    header = _cfb_header()
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat) + b"\xff" * (512 - 4 * len(fat))
    data = b"".join(b"\x01" * 4096 for _ in streams[:3])
    return header + fat_bytes + b"".join(entries) + data


def _dir_entry(
    name: str, kind: int, *, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF, start: int, size: int
) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    head = encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
    links = struct.pack("<III", 0xFFFFFFFF, right, child)
    return head + links + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", start, size)


def _cfb_header() -> bytes:
    magic = bytes.fromhex("D0CF11E0A1B11AE1")
    fields = struct.pack(
        "<16sHHHHH6sIIIIIIIII",
        b"\0" * 16,
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,
        1,
        1,
        0,
        4096,
        0xFFFFFFFE,
        0,
        0xFFFFFFFE,
        0,
    )
    difat = struct.pack("<I", 0) + b"\xff" * (436 - 4)
    return magic + fields + difat


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip archive of these members (to build or tamper with OOXML files)."""
    return zip_of(list(members.items()))


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def with_member(data: bytes, name: str, content: bytes) -> bytes:
    """The archive with one member added or replaced."""
    return zip_bytes({**zip_members(data), name: content})


# --- workbooks written part by part (shared strings, declared dimensions, huge merges) -----------

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell_xml(ref: str, value: object, strings: dict[str, int]) -> str:
    if isinstance(value, str):
        index = strings.setdefault(value, len(strings))
        return f'<c r="{ref}" t="s"><v>{index}</v></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def part_xlsx_bytes(
    rows: Rows,
    *,
    dimension: str | None = None,
    merges: Sequence[str] = (),
    styled_empty_rows: int = 0,
    shared_strings: bytes | None = None,
    hyperlinks: Sequence[str] = (),
    sheet: str = "Phụ lục 1",
) -> bytes:
    """An .xlsx written XML part by XML part, as Excel does: every text in one shared-strings table.

    A text written in many cells is stored once, so the file stays small however often it repeats.
    `dimension` declares the sheet's `<dimension ref>`; `styled_empty_rows` appends that many empty
    rows that carry a style (as Excel saves a sheet formatted down to its last row);
    `shared_strings` replaces the shared-strings part as written; `hyperlinks` are ranges given a
    (relative) link each.
    """
    from openpyxl.utils import get_column_letter

    strings: dict[str, int] = {}
    lines = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            _cell_xml(f"{get_column_letter(c)}{r}", v, strings) for c, v in enumerate(row, start=1) if v is not None
        )
        lines.append(f'<row r="{r}">{cells}</row>')
    first_empty = len(rows) + 1
    lines += [
        f'<row r="{r}" s="1" customFormat="1" ht="15"/>' for r in range(first_empty, first_empty + styled_empty_rows)
    ]
    merged = "".join(f'<mergeCell ref="{m}"/>' for m in merges)
    links = "".join(f'<hyperlink ref="{h}" location="\'{_escape(sheet)}\'!A1"/>' for h in hyperlinks)
    sheet_xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{_NS}" xmlns:r="{_REL}">'
        f'<dimension ref="{dimension or "A1"}"/><sheetData>{"".join(lines)}</sheetData>'
        + (f'<mergeCells count="{len(merges)}">{merged}</mergeCells>' if merges else "")
        + (f"<hyperlinks>{links}</hyperlinks>" if hyperlinks else "")
        + "</worksheet>"
    )
    table = "".join(f"<si><t>{_escape(s)}</t></si>" for s in strings)
    shared = f'<sst xmlns="{_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{table}</sst>'
    return zip_bytes(
        {
            "[Content_Types].xml": _content_types().encode(),
            "_rels/.rels": _rels("officeDocument", "xl/workbook.xml").encode(),
            "xl/workbook.xml": (
                f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
                f'<sheet name="{_escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
            ).encode(),
            "xl/_rels/workbook.xml.rels": (
                f'<Relationships xmlns="{_PKG}/relationships">'
                f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
                f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
            ).encode(),
            "xl/worksheets/sheet1.xml": sheet_xml.encode(),
            "xl/sharedStrings.xml": shared_strings if shared_strings is not None else shared.encode(),
            "xl/styles.xml": _STYLES.encode(),
        }
    )


def _rels(kind: str, target: str) -> str:
    return (
        f'<Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}/{kind}" Target="{target}"/></Relationships>'
    )


def _content_types() -> str:
    return (
        f'<Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>'
    )


_STYLES = (
    f'<styleSheet xmlns="{_NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="1" borderId="0" xfId="0" applyFill="1"/></cellXfs></styleSheet>'
)


def huge_shared_strings_bytes(rows: Rows, megabytes: int = 120) -> bytes:
    """A workbook whose shared-strings part expands to `megabytes` MB, compressed about 100:1.

    That is under the zip ratio limit (200:1), and the whole file under the total size limit: only
    looking at the shared strings' own declared size stops it.
    """
    rng = random.Random(5)
    filler = "Nhiệm vụ sản xuất và tiêu dùng bền vững " * 15
    count = megabytes * 1_000_000 // (len(filler.encode()) + 30)
    strings = "".join(f"<si><t>{rng.getrandbits(16):04x} {filler}</t></si>" for _ in range(count))
    table = f'<sst xmlns="{_NS}">{strings}</sst>'.encode()
    return part_xlsx_bytes(rows, shared_strings=table)


def sparse_sheets_bytes(count: int = 3) -> bytes:
    """`count` sheets, each with one value at A1 and one at GR5000: tiny to store, 1,000,000 cells to lay out."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for n in range(count):
        sheet = book.create_sheet(f"Trang {n + 1}")
        sheet["A1"] = "đầu"
        sheet["GR5000"] = "cuối"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def hostile_workbooks(rows: Rows) -> dict[str, bytes]:
    """Workbooks that would make a reader slow or large (RELIABILITY #70), each around `rows`."""
    return {
        "shared_strings": huge_shared_strings_bytes(rows),
        "whole_sheet_merge": part_xlsx_bytes(rows, merges=["A1:XFD1048576"]),
        "million_row_dimension": part_xlsx_bytes(rows, dimension="A1:N1048576"),
        "styled_empty_rows": part_xlsx_bytes(rows, styled_empty_rows=200_000),
        "hyperlink_over_a_column": part_xlsx_bytes(rows, hyperlinks=["A1:A1048576"]),
        "sparse_sheets": sparse_sheets_bytes(40),
    }


# ---------------------------------------------------------------- text long enough to make checking slow

_WORDS = tuple(
    [
        "nội",
        "dung",
        "rất",
        "dài",
        "kinh",
        "phí",
        "nhiệm",
        "vụ",
        "đề",
        "xuất",
        "sản",
        "xuất",
        "tiêu",
        "dùng",
        "bền",
        "vững",
        "định",
        "mức",
        "truyền",
        "thông",
    ]
)


def long_text(chars: int = 32_000) -> str:
    rng = random.Random(7)
    return " ".join(rng.choice(_WORDS) for _ in range(chars // 3))[:chars]


def long_text_workbook(rows: int) -> bytes:
    """Phụ lục 1's header, then `rows` rows whose 14 cells all hold one 32,000-character string (shared once)."""
    big = long_text()
    return part_xlsx_bytes(task_list().rows[:5] + [[big] * 14 for _ in range(rows)])
