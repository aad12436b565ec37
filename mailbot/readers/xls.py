"""Excel 97-2003 workbooks (.xls, BIFF) to grids, through xlrd 2."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import xlrd

from mailbot.model import CellValue, Finding, Grid, ReadResult
from mailbot.readers import MAX_COLS, MAX_ROWS, Hidden, Merge, make_grid, plain
from mailbot.readers.sniff import encrypted, unreadable

_BROKEN = "tệp bị hỏng hoặc không đúng cấu trúc bảng tính Excel 97-2003"


def read_xls(name: str, data: bytes) -> ReadResult:
    """Every non-empty sheet of the legacy workbook in `data`; dates as datetimes, merges kept."""
    try:
        grids, findings = _read(name, data)
    except xlrd.XLRDError as error:
        finding = encrypted(name) if "encrypted" in str(error).lower() else unreadable(name, _BROKEN)
        return ReadResult(file=name, kind="xls", findings=[finding])
    # The reader's boundary: xlrd raises many unrelated exception types (struct.error, IndexError,
    # CompDocError, …) on broken files, and a broken attachment must become a finding, not a crash.
    except MemoryError:  # the isolation's memory cap: reported as such, not as a corrupt file
        raise
    except Exception:
        return ReadResult(file=name, kind="xls", findings=[unreadable(name, _BROKEN)])
    return ReadResult(file=name, kind="xls", grids=grids, findings=findings)


def _open(data: bytes) -> Any:
    """The book with formatting (needed for merges); without it when xlrd cannot do formatting."""
    quiet = io.StringIO()  # xlrd writes its warnings to stdout by default
    try:
        return xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True, logfile=quiet)
    except xlrd.XLRDError as error:
        if "encrypted" in str(error).lower():
            raise
    except MemoryError:  # the isolation's memory cap: reported as such, not as a corrupt file
        raise
    except Exception:  # the same boundary as read_xls; the retry below raises what is really wrong
        pass
    return xlrd.open_workbook(file_contents=data, on_demand=True, logfile=quiet)


def _read(name: str, data: bytes) -> tuple[list[Grid], list[Finding]]:
    book = _open(data)
    grids: list[Grid] = []
    findings: list[Finding] = []
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            grid, notes = make_grid(name, sheet.name, _cells(sheet, book.datemode), _merges(sheet), _hidden(sheet))
            grids.extend([grid] if grid else [])
            findings.extend(notes)
    finally:
        book.release_resources()
    return grids, findings


def _cells(sheet: Any, datemode: int) -> dict[tuple[int, int], CellValue]:
    """Cells 0-based, read one past the size cap at most so that truncation is still noticed."""
    width = min(sheet.ncols, MAX_COLS + 1)
    cells: dict[tuple[int, int], CellValue] = {}
    for r in range(min(sheet.nrows, MAX_ROWS + 1)):
        types = sheet.row_types(r, 0, width)
        values = sheet.row_values(r, 0, width)
        for c, (ctype, value) in enumerate(zip(types, values, strict=False)):
            converted = _value(ctype, value, datemode)
            if converted is not None:
                cells[(r, c)] = converted
    return cells


def _value(ctype: int, value: Any, datemode: int) -> CellValue:
    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if ctype == xlrd.XL_CELL_DATE:
        return _date(value, datemode)
    if ctype == xlrd.XL_CELL_NUMBER:
        return int(value) if float(value).is_integer() else float(value)
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if ctype == xlrd.XL_CELL_ERROR:
        return str(xlrd.error_text_from_code.get(value, "#ERR"))
    return plain(value)


def _date(value: float, datemode: int) -> CellValue:
    """A date cell as a datetime (a time of day when it has no date part); odd serials stay numbers."""
    try:
        moment: dt.datetime = xlrd.xldate_as_datetime(value, datemode)
    except (xlrd.xldate.XLDateError, ValueError, OverflowError):
        return float(value)
    return moment.time() if 0 <= value < 1 else moment


def _hidden(sheet: Any) -> Hidden:
    """Hidden rows and columns (known only when xlrd could read the formatting); BIFF always stores
    formula results, so no cell is uncached."""
    rows = frozenset(r for r, info in sheet.rowinfo_map.items() if info.hidden and r <= MAX_ROWS)
    cols = frozenset(c for c, info in sheet.colinfo_map.items() if info.hidden and c <= MAX_COLS)
    return Hidden(rows, cols)


def _merges(sheet: Any) -> list[Merge]:
    """xlrd's half-open (rlo, rhi, clo, chi) as inclusive (first_row, first_col, last_row, last_col)."""
    return [(rlo, clo, rhi - 1, chi - 1) for rlo, rhi, clo, chi in sheet.merged_cells]
