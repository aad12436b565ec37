"""What a workbook would cost to load, judged before openpyxl loads it (RELIABILITY #70).

openpyxl builds a Python object for every cell a merge or a hyperlink covers, for every row that
carries a style, and for every shared string; a 20 KB file can thus ask for gigabytes and hours.
Before loading, this module looks at what is cheap to see: the sizes the zip directory declares
for the shared strings, styles and worksheet parts, and, streaming each worksheet's XML in chunks
with bounded memory, the `<dimension ref>`, the areas of `<mergeCell ref>` and `<hyperlink ref>`,
and how many `<row>` and `<c>` elements there are. A workbook beyond any of the limits below is
refused (`file_too_complex`) without being loaded, in the child process and in-process alike.

The limits are far above what a Phụ lục 1 needs (a few hundred rows of about 14 cells) and below
what makes loading slow or large.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from mailbot.readers.sniff import megabytes

#: Declared uncompressed sizes of the parts openpyxl loads whole.
MAX_SHARED_STRINGS_BYTES = 16_000_000
MAX_STYLES_BYTES = 8_000_000
MAX_SHEETS_BYTES = 64_000_000  # all worksheet parts together
#: What the worksheets may declare or hold, all sheets together.
MAX_DECLARED_ROWS = 100_000  # the last row of a sheet's <dimension ref>
MAX_DECLARED_CELLS = 5_000_000  # the area of a <dimension ref>
MAX_SPANNED_CELLS = 1_000_000  # the cells covered by merges and hyperlink ranges
MAX_ROW_ELEMENTS = 100_000
MAX_CELL_ELEMENTS = 1_000_000

CHUNK = 1 << 20
_SHEET_REL = re.compile(rb"<Relationship\b[^>]*>")
_ATTR = re.compile(rb'\b(Type|Target)="([^"]*)"')
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\b")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_REF_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(dimension|mergeCell|hyperlink)\b[^>]*?\bref=\"([^\"]*)\"")
_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?$")


@dataclass
class _Tally:
    rows: int = 0
    cells: int = 0
    spanned: int = 0


def workbook_excess(archive: zipfile.ZipFile) -> str:
    """Why loading this workbook would be too costly, in Vietnamese ("" when it would not)."""
    infos = {info.filename: info for info in archive.infolist()}
    for suffix, limit in (("sharedstrings.xml", MAX_SHARED_STRINGS_BYTES), ("styles.xml", MAX_STYLES_BYTES)):
        for name, info in infos.items():
            if name.lower().endswith(suffix) and info.file_size > limit:
                return f"phần “{name}” giải nén ra {megabytes(info.file_size)} MB, giới hạn là {megabytes(limit)} MB"
    sheets = [infos[name] for name in _sheet_parts(archive, infos)]
    total = sum(info.file_size for info in sheets)
    if total > MAX_SHEETS_BYTES:
        return f"các trang tính giải nén ra {megabytes(total)} MB, giới hạn là {megabytes(MAX_SHEETS_BYTES)} MB"
    tally = _Tally()
    for info in sheets:
        excess = _scan_sheet(archive, info, tally)
        if excess:
            return excess
    return ""


def _sheet_parts(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> list[str]:
    """The worksheet parts the workbook's relationships name (and any under xl/worksheets/)."""
    found = {n for n in infos if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    rels = infos.get("xl/_rels/workbook.xml.rels")
    if rels is not None:
        with archive.open(rels) as stream:
            text = stream.read(CHUNK)
        for tag in _SHEET_REL.findall(text):
            attrs = dict(_ATTR.findall(tag))
            if attrs.get(b"Type", b"").endswith(b"/worksheet"):
                target = attrs.get(b"Target", b"").decode("utf-8", "replace")
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
                found.add(path)
    return sorted(n for n in found if n in infos)


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's XML in pieces that never split a tag (a piece ends before its last '<')."""
    carry = b""
    with archive.open(info) as stream:
        while block := stream.read(CHUNK):
            data = carry + block
            cut = data.rfind(b"<")
            if cut <= 0 or len(data) - cut > CHUNK:  # no tag start, or an absurd tag: scan it all
                cut = len(data)
            yield data[:cut]
            carry = data[cut:]
    if carry:
        yield carry


def _scan_sheet(archive: zipfile.ZipFile, info: zipfile.ZipInfo, tally: _Tally) -> str:
    for piece in _chunks(archive, info):
        tally.rows += len(_ROW.findall(piece))
        tally.cells += len(_CELL.findall(piece))
        for kind, ref in _REF_TAG.findall(piece):
            excess = _ref_excess(kind, ref, tally)
            if excess:
                return excess
        if tally.rows > MAX_ROW_ELEMENTS:
            return f"có hơn {MAX_ROW_ELEMENTS:,} dòng được lưu".replace(",", ".")
        if tally.cells > MAX_CELL_ELEMENTS:
            return f"có hơn {MAX_CELL_ELEMENTS:,} ô được lưu".replace(",", ".")
    return ""


def _ref_excess(kind: bytes, ref: bytes, tally: _Tally) -> str:
    area = _area(ref.decode("ascii", "replace"))
    if area is None:
        return ""
    rows, cells = area
    if kind == b"dimension":
        if rows > MAX_DECLARED_ROWS or cells > MAX_DECLARED_CELLS:
            return f"trang tính khai báo vùng {ref.decode('ascii', 'replace')}, quá lớn"
        return ""
    tally.spanned += cells
    if tally.spanned > MAX_SPANNED_CELLS:
        return f"các vùng gộp ô hoặc liên kết phủ hơn {MAX_SPANNED_CELLS:,} ô".replace(",", ".")
    return ""


def _area(ref: str) -> tuple[int, int] | None:
    """(last row, cells) of an A1-style range such as 'A1:XFD1048576'; None when it is not one."""
    match = _REF.match(ref.strip().upper())
    if not match:
        return None
    col1, row1 = _column(match.group(1)), int(match.group(2))
    col2, row2 = (_column(match.group(3)), int(match.group(4))) if match.group(3) else (col1, row1)
    height, width = abs(row2 - row1) + 1, abs(col2 - col1) + 1
    return max(row1, row2), height * width


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number
