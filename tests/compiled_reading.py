"""Reading a compiled plan back the way the officer sees it: the rows of the workbook and of the Word table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pypdf
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.officer.compiled_xlsx import FIRST_DATA_ROW, HEADER_ROW, PLAN_SHEET, SUBHEADER_ROW


@dataclass
class PlanRow:
    kind: str  # section | group | task | subtotal | total
    row: int
    label: str  # the first cell's text (the STT of a task)
    cells: dict[str, Any] = field(default_factory=dict)  # header label -> value, for task and sum rows


def header_labels(sheet: Worksheet) -> dict[int, str]:
    """Column index -> its label: the sub-header under a group, else the header (merged over both rows)."""
    labels = {}
    for column in range(1, sheet.max_column + 1):
        below = sheet.cell(SUBHEADER_ROW, column).value
        labels[column] = str(below or sheet.cell(HEADER_ROW, column).value)
    return labels


def column_letters(path: Path) -> dict[str, str]:
    """Header label -> column letter on the plan sheet."""
    sheet = openpyxl.load_workbook(path)[PLAN_SHEET]
    return {label: get_column_letter(index) for index, label in header_labels(sheet).items()}


def plan_rows(path: Path, *, data_only: bool = False) -> list[PlanRow]:
    book = openpyxl.load_workbook(path, data_only=data_only)
    sheet = book[PLAN_SHEET]
    labels = header_labels(sheet)
    rows = []
    for row in range(FIRST_DATA_ROW, sheet.max_row + 1):
        first = sheet.cell(row, 1).value
        if first is None:
            continue
        cells = {labels[c]: sheet.cell(row, c).value for c in labels}
        rows.append(PlanRow(_kind(first), row, str(first), cells))
    return rows


def _kind(first: object) -> str:
    text = str(first)
    if isinstance(first, int | float):
        return "task"
    if text.startswith(("A. ", "B. ")):
        return "section"
    if text.startswith("Cộng "):
        return "subtotal"
    if text.startswith("TỔNG CỘNG"):
        return "total"
    return "group"


def in_section(rows: list[PlanRow], letter: str) -> list[PlanRow]:
    """The rows of section A or B, from its banner to its total."""
    out: list[PlanRow] = []
    inside = False
    for row in rows:
        if row.kind == "section":
            inside = row.label.startswith(f"{letter}. ")
        elif inside:
            out.append(row)
    return out


def docx_rows(path: Path, table: int) -> list[list[str]]:
    """The text of each row of a Word table, a merged cell once."""
    document = docx.Document(str(path))
    rows = []
    for row in document.tables[table].rows:
        seen: list[Any] = []
        texts = []
        for cell in row.cells:
            if any(cell._tc is other for other in seen):
                continue
            seen.append(cell._tc)
            texts.append(cell.text)
        rows.append(texts)
    return rows


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(path).pages]
