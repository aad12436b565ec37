"""Excel 2007+ workbooks (.xlsx, .xlsm) to grids, one per worksheet that holds a value.

Bounded: a workbook that would be slow or large to load is refused before openpyxl sees it
(see xlsx_limits), and the grids of one workbook hold at most MAX_RESULT_CELLS cells together, so
what a reading child sends back to mailbot stays small.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import replace
from io import BytesIO

from defusedxml import ElementTree  # type: ignore[import-untyped]  # defusedxml ships no type stubs
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.worksheet._reader import WorksheetReader
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.model import CellValue, Finding, Grid, ReadResult
from mailbot.readers import MAX_COLS, MAX_ROWS, Hidden, Merge, make_grid, plain
from mailbot.readers.legacy_vn import encoding_of_font
from mailbot.readers.sniff import too_complex, unreadable
from mailbot.readers.xlsx_limits import workbook_excess

#: All grids of one workbook together: two full-size sheets (MAX_ROWS × MAX_COLS each).
MAX_RESULT_CELLS = 2 * MAX_ROWS * MAX_COLS


class _TooComplex(Exception):
    """The workbook is beyond a limit; the message says which (Vietnamese)."""


class _GridReader(ExcelReader):
    """openpyxl's reader, binding to each worksheet only what a grid is made of: its stored cells, its hidden rows
    and columns; its merges are kept as ranges (`merges`). openpyxl's own binding would also make a cell object for
    every cell a merge or a hyperlink range covers, redraw the merges' borders, and load comments, hyperlinks,
    conditional formats, tables, drawings and pivots, none of which a grid shows (a third of a Phụ lục 1's read)."""

    def read_worksheets(self) -> None:
        self.merges: dict[str, list[Merge]] = {}
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files:
                continue
            if "chartsheet" in rel.Type:  # kept in the workbook's order of sheets, which its names refer to
                self.read_chartsheet(sheet, rel)  # type: ignore[arg-type]  # the stubs' type; openpyxl passes this
                continue
            worksheet = self.wb.create_sheet(sheet.name)
            with self.archive.open(rel.target) as part:
                parsed = WorksheetReader(worksheet, part, self.shared_strings, self.data_only, self.rich_text)
                parsed.bind_cells()
                parsed.bind_col_dimensions()
                parsed.bind_row_dimensions()
            spans = parsed.parser.merged_cells
            self.merges[worksheet.title] = [_merge(span.ref) for span in (spans.mergeCell if spans else [])]
            worksheet.sheet_state = sheet.state


def _merge(ref: str) -> Merge:
    left, top, right, bottom = range_boundaries(ref)
    assert left is not None and top is not None and right is not None and bottom is not None, ref
    return top - 1, left - 1, bottom - 1, right - 1


_BROKEN = "tệp bị hỏng hoặc tài liệu bị lỗi định dạng, không đúng cấu trúc bảng tính Excel"


def read_xlsx(name: str, data: bytes) -> ReadResult:
    """Every non-empty worksheet of the workbook in `data`, cached formula values, merges kept."""
    try:
        grids, findings = _read(name, data)
    # The reader's boundary: openpyxl, zipfile and the XML parser raise many unrelated exception
    # types on hostile or broken files (BadZipFile, KeyError, ValueError, defusedxml's errors, …),
    # and a broken attachment must become a finding, never a crash.
    except MemoryError:  # the isolation's memory cap: reported as such, not as a corrupt file
        raise
    except _TooComplex as excess:
        return ReadResult(file=name, kind="xlsx", findings=[too_complex(name, str(excess))])
    except Exception:
        return ReadResult(file=name, kind="xlsx", findings=[unreadable(name, _BROKEN)])
    return ReadResult(file=name, kind="xlsx", grids=grids, findings=findings)


def _read(name: str, data: bytes) -> tuple[list[Grid], list[Finding]]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        excess = workbook_excess(archive)
    if excess:
        raise _TooComplex(excess)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "extension not supported" and the like: noise, not problems
        reader = _GridReader(BytesIO(data), read_only=False, data_only=True, keep_links=False)
        reader.read()
    book = reader.wb
    parts = {sheet.name: rel.target for sheet, rel in reader.parser.find_sheets() if rel is not None}
    grids: list[Grid] = []
    findings: list[Finding] = []
    room = MAX_RESULT_CELLS
    try:
        for sheet in book.worksheets:
            hidden = Hidden(*_hidden(sheet), _uncached(data, parts.get(sheet.title)))  # its XML freed before the cells
            merges = reader.merges.get(sheet.title, [])
            cells = _uncovered(_cells(sheet), merges)
            grid, notes = make_grid(name, sheet.title, cells, merges, hidden)
            grid = replace(grid, fonts=_legacy_fonts(sheet, cells)) if grid else None
            room -= sum(len(row) for row in grid.rows) if grid else 0
            if room < 0:
                raise _TooComplex(f"các trang tính có hơn {MAX_RESULT_CELLS:,} ô".replace(",", "."))
            grids.extend([grid] if grid else [])
            findings.extend(notes)
    finally:
        book.close()
    return grids, findings


def _cells(sheet: Worksheet) -> dict[tuple[int, int], CellValue]:
    """The sheet's stored cells, 0-based; never creates cells (a sheet may be sparse and huge)."""
    return {(r - 1, c - 1): plain(cell.value) for (r, c), cell in sheet._cells.items()}


def _uncovered(cells: dict[tuple[int, int], CellValue], merges: list[Merge]) -> dict[tuple[int, int], CellValue]:
    """`cells` without those a merge covers (all of its cells but the top left one): a spreadsheet program shows
    only the top left cell's value. Each merge costs the smaller of its area and the number of cells."""
    for top, left, bottom, right in merges:
        if (bottom - top + 1) * (right - left + 1) <= len(cells):
            covered = [(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)]
        else:
            covered = [(r, c) for r, c in cells if top <= r <= bottom and left <= c <= right]
        for at in covered:
            if at != (top, left):
                cells.pop(at, None)
    return cells


def _legacy_fonts(sheet: Worksheet, cells: dict[tuple[int, int], CellValue]) -> dict[tuple[int, int], str]:
    """Text cells (of `cells`) in a font of an old Vietnamese encoding (".VnTime", "VNI-Times"), for legacy_vn."""
    return {
        (r - 1, c - 1): cell.font.name
        for (r, c), cell in sheet._cells.items()
        if isinstance(cell.value, str)
        and (r - 1, c - 1) in cells
        and cell.font is not None
        and encoding_of_font(cell.font.name)
    }


def _hidden(sheet: Worksheet) -> tuple[frozenset[int], frozenset[int]]:
    """The 0-based rows and columns the sheet hides (within the size caps)."""
    rows = frozenset(r - 1 for r, dim in sheet.row_dimensions.items() if dim.hidden and 0 < r <= MAX_ROWS)
    cols: set[int] = set()
    for dim in sheet.column_dimensions.values():
        if dim.hidden and dim.min and dim.max:
            cols.update(range(dim.min - 1, min(dim.max, MAX_COLS)))
    return rows, frozenset(cols)


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
#: A formula ('</f>' or a shared '<f … />') followed by no value, an empty one, or the cell's end.
_NO_RESULT = re.compile(rb"(?:</(?:\w+:)?f>|<(?:\w+:)?f\b[^>]*/>)\s*(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</|</)")


def _uncached(data: bytes, part: str | None) -> frozenset[tuple[int, int]]:
    """0-based cells of the worksheet part that hold a formula but no stored result.

    openpyxl reading values only gives such a cell as empty: the XML is looked at once more, for them.
    """
    if not part:
        return frozenset()
    with zipfile.ZipFile(BytesIO(data)) as archive:
        xml = archive.read(part.lstrip("/"))
    if not _NO_RESULT.search(xml):  # the usual case (a file saved by a spreadsheet program): no parse
        return frozenset()
    found: set[tuple[int, int]] = set()
    for _event, element in ElementTree.iterparse(BytesIO(xml)):
        if element.tag != f"{_NS}c":
            continue
        value = element.find(f"{_NS}v")
        ref = element.get("r")
        if ref and element.find(f"{_NS}f") is not None and (value is None or not (value.text or "").strip()):
            row, column = coordinate_to_tuple(ref)
            if row <= MAX_ROWS + 1 and column <= MAX_COLS + 1:
                found.add((row - 1, column - 1))
        element.clear()
    return frozenset(found)
