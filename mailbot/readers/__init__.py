"""Readers: untrusted attachment bytes in, `ReadResult` (grids, text, findings) out; never an exception.

`read_file` recognises the content, applies the size limits and hands the bytes to the reader of
that kind. The readers deliver every non-empty sheet as it is; finding the task table is not
their job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from mailbot.model import CellValue, FileKind, Finding, Grid, ReadResult
from mailbot.readers.sniff import CONVERTED, Limits, Sniffed, kind_from_name, problem, sniff, too_large
from mailbot.text import nfc

__all__ = ["MAX_COLS", "MAX_ROWS", "Limits", "Sniffed", "ensure_safe_xml", "make_grid", "read_file", "sniff"]

MAX_ROWS = 5000
MAX_COLS = 200

Cells = Mapping[tuple[int, int], CellValue]
Merge = tuple[int, int, int, int]


def ensure_safe_xml() -> None:
    """Refuse to run when openpyxl would parse untrusted XML without defusedxml."""
    import openpyxl

    if not openpyxl.DEFUSEDXML:
        raise RuntimeError(
            "openpyxl is not using defusedxml: install the 'defusedxml' package and do not set "
            "OPENPYXL_DEFUSEDXML=False; reading untrusted spreadsheets is unsafe without it."
        )


def read_file(
    name: str,
    data: bytes,
    *,
    max_bytes: int = 20_000_000,
    max_uncompressed: int = 200_000_000,
    max_ratio: int = 200,
) -> ReadResult:
    """Read one attached file, whatever it turns out to be."""
    name = nfc(name)
    if len(data) > max_bytes:
        return ReadResult(file=name, kind=kind_from_name(name), findings=[too_large(name, len(data), max_bytes)])
    verdict = sniff(name, data, Limits(max_uncompressed=max_uncompressed, max_ratio=max_ratio))
    if verdict.read_as is None:
        return ReadResult(file=name, kind=verdict.kind, findings=verdict.findings)
    result = _dispatch(verdict.read_as, name, data)
    read_as = CONVERTED.get(verdict.read_as, verdict.read_as)  # an .ods is read as the xlsx it became
    if read_as in ("xlsx", "xlsm", "xls"):  # Word text is converted run by run in the docx reader
        from mailbot.readers.legacy_vn import convert_grids

        result.grids, legacy = convert_grids(name, result.grids)
        result.findings.extend(legacy)
    result.kind = verdict.kind
    result.findings[:0] = verdict.findings
    return result


def _dispatch(kind: FileKind, name: str, data: bytes) -> ReadResult:
    """Hand `data` to the reader of `kind`; readers are imported only when needed.

    Legacy and OpenDocument kinds are converted by LibreOffice first, then read by the docx/xlsx reader.
    """
    if kind in CONVERTED:
        from mailbot.readers.convert import read_converted

        return read_converted(kind, name, data)
    if kind in ("xlsx", "xlsm"):
        from mailbot.readers.xlsx import read_xlsx

        return read_xlsx(name, data)
    if kind == "xls":
        from mailbot.readers.xls import read_xls

        return read_xls(name, data)
    if kind == "pdf":
        from mailbot.readers.pdf import read_pdf

        return read_pdf(name, data)
    from mailbot.readers.docx import read_docx

    return read_docx(name, data)


# --- shared by the spreadsheet readers ------------------------------------------------------------


def plain(value: object) -> CellValue:
    """A cell value in the model's types: blank text is no value, durations are days."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if value is None or isinstance(value, int | float | dt.datetime | dt.date | dt.time):
        return value
    return str(value)


@dataclass(frozen=True)
class Hidden:
    """What a sheet hides or leaves uncomputed, 0-based: rows, columns, formula cells without a value."""

    rows: frozenset[int] = frozenset()
    cols: frozenset[int] = frozenset()
    uncached: frozenset[tuple[int, int]] = frozenset()


def make_grid(
    file: str, sheet: str, cells: Cells, merges: Iterable[Merge], hidden: Hidden | None = None
) -> tuple[Grid | None, list[Finding]]:
    """A grid from sparse 0-based cells; None for a sheet without a value. Caps the size."""
    values = {at: value for at, value in cells.items() if value is not None}
    hidden = hidden or Hidden()
    used = [*values, *hidden.uncached]  # a formula without a stored value is still a cell of the sheet
    if not used:
        return None, []
    last_row, last_col = max(r for r, _ in used), max(c for _, c in used)
    spans = [m for m in merges if m[0] <= last_row and m[1] <= last_col]
    height = max(r for r, _ in [*used, *((m[2], 0) for m in spans)]) + 1
    width = max(c for _, c in [*used, *((0, m[3]) for m in spans)]) + 1
    findings = [_truncated(file, sheet)] if height > MAX_ROWS or width > MAX_COLS else []
    height, width = min(height, MAX_ROWS), min(width, MAX_COLS)
    rows: list[list[CellValue]] = [[None] * width for _ in range(height)]
    for (r, c), value in values.items():
        if r < height and c < width:
            rows[r][c] = value
    kept = _clip_merges(spans, height, width)
    for top, left, bottom, right in kept:
        for r in range(top, bottom + 1):
            for c in range(left, right + 1):
                if (r, c) != (top, left):
                    rows[r][c] = None
    grid = Grid(
        file=file,
        sheet=sheet,
        rows=rows,
        merges=kept,
        hidden_rows=frozenset(r for r in hidden.rows if r < height),
        hidden_cols=frozenset(c for c in hidden.cols if c < width),
        uncached=frozenset((r, c) for r, c in hidden.uncached if r < height and c < width),
    )
    return grid, findings


def _clip_merges(merges: Iterable[Merge], height: int, width: int) -> list[Merge]:
    """The merges inside the grid, each once; together they cover at most MAX_ROWS × MAX_COLS cells
    (hostile files overlap merges to make every later loop over them endless: the excess is dropped)."""
    kept: set[Merge] = set()
    room = MAX_ROWS * MAX_COLS
    for top, left, bottom, right in merges:
        if 0 <= top < height and 0 <= left < width:
            clipped = (top, left, min(bottom, height - 1), min(right, width - 1))
            room -= (clipped[2] - top + 1) * (clipped[3] - left + 1)
            if room < 0:
                break
            kept.add(clipped)
    return sorted(kept)


def _truncated(file: str, sheet: str) -> Finding:
    finding = problem(
        "sheet_truncated",
        file,
        f"Trang tính “{sheet}” vượt giới hạn {MAX_ROWS} dòng × {MAX_COLS} cột; hệ thống chỉ đọc "
        f"{MAX_ROWS} dòng và {MAX_COLS} cột đầu tiên.",
        "Vui lòng xoá các dòng, cột thừa hoặc chuyển dữ liệu không liên quan sang tệp khác rồi gửi lại.",
        "warning",
    )
    return replace(finding, sheet=sheet)
