"""Excel 2007+ workbooks (.xlsx, .xlsm) to grids, one per worksheet that holds a value.

Bounded: a workbook that would be slow or large to load is refused before openpyxl sees it
(see xlsx_limits), and the grids of one workbook hold at most MAX_RESULT_CELLS cells together, so
what a reading child sends back to mailbot stays small.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import replace
from io import BytesIO

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.model import CellValue, Finding, Grid, ReadResult
from mailbot.readers import MAX_COLS, MAX_ROWS, Merge, make_grid, plain
from mailbot.readers.legacy_vn import encoding_of_font
from mailbot.readers.sniff import too_complex, unreadable
from mailbot.readers.xlsx_limits import workbook_excess

#: All grids of one workbook together: two full-size sheets (MAX_ROWS × MAX_COLS each).
MAX_RESULT_CELLS = 2 * MAX_ROWS * MAX_COLS


class _TooComplex(Exception):
    """The workbook is beyond a limit; the message says which (Vietnamese)."""


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
        book = openpyxl.load_workbook(BytesIO(data), read_only=False, data_only=True, keep_links=False)
    grids: list[Grid] = []
    findings: list[Finding] = []
    room = MAX_RESULT_CELLS
    try:
        for sheet in book.worksheets:
            grid, notes = make_grid(name, sheet.title, _cells(sheet), _merges(sheet))
            grid = replace(grid, fonts=_legacy_fonts(sheet)) if grid else None
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


def _legacy_fonts(sheet: Worksheet) -> dict[tuple[int, int], str]:
    """Text cells in a font of an old Vietnamese encoding (".VnTime", "VNI-Times"), for legacy_vn."""
    return {
        (r - 1, c - 1): cell.font.name
        for (r, c), cell in sheet._cells.items()
        if isinstance(cell.value, str) and cell.font is not None and encoding_of_font(cell.font.name)
    }


def _merges(sheet: Worksheet) -> list[Merge]:
    return [
        (span.min_row - 1, span.min_col - 1, span.max_row - 1, span.max_col - 1) for span in sheet.merged_cells.ranges
    ]
