"""Finding the task table inside a Grid: header matching, sections, the total row, the organisation.

Format-independent: works on a Grid from any reader (xlsx, xls, a Word table). Headers match the
rules' column labels and aliases whatever their case, marks, punctuation or Unicode form, over one
header row or two (a merged parent such as "Kinh phí dự kiến (triệu đồng)" over "Tổng / NSNN").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter

from mailbot.model import CellValue, Grid, Place
from mailbot.text import clean_cell_text, fold
from mailbot.validation.schema import Column
from mailbot.validation.values import MATCH_CHARS, clean, match_key

HEADER_SCAN_ROWS = 40
_PARENS = re.compile(r"\([^)]*\)")
_NUMBERING = re.compile(r"^\(?\d{1,2}\)?$")
_SECTION = re.compile(r"^\s*((?:[IVXLC]+|[A-Z]|\d{1,2})[.)])\s*(.+)$")
_ROMAN = re.compile(r"^[IVXLC]+$")
_ORGANIZATION = ("ten don vi", "don vi de xuat", "co quan de xuat", "ten co quan", "ten to chuc", "don vi")
_SIGNATURE = re.compile(
    r"^(nguoi lap|thu truong|ky ten|xac nhan|giam doc|vien truong|noi nhan|lanh dao)"
    r"|\bngay\b.*\bthang\b.*\bnam\b"
)
_TOTAL = re.compile(r"^(tong cong|tong so|cong|tong)$|^tong cong\b")


@dataclass
class RawRow:
    """One task row as written: cell values by field key, and where each was."""

    row: int  # 1-based sheet row
    values: dict[str, CellValue]
    places: dict[str, Place]
    loai: str | None = None


@dataclass
class RawTable:
    grid: Grid
    header_row: int  # 1-based, the first header row
    columns: dict[str, int]  # field key -> 0-based column
    missing: list[str]  # required keys with no column
    rows: list[RawRow] = field(default_factory=list)
    total: RawRow | None = None
    organization: str | None = None
    score: int = 0

    def place(self, row: int, key: str) -> Place:
        column = get_column_letter(self.columns[key] + 1) if key in self.columns else "A"
        return Place(self.grid.file, self.grid.sheet, row, column)


# ---------------------------------------------------------------- header matching


def _column_keys(column: Column) -> set[str]:
    names = {fold(column.label), *(fold(a) for a in column.aliases)}
    if column.group:
        names |= {f"{fold(column.group)} {n}" for n in list(names)}
    return {n for n in names if n}


def _label_forms(text: str) -> set[str]:
    """A header's matching forms: folded as written, and without parenthesised units.

    No header is longer than MATCH_CHARS: a longer cell has no form (and costs nothing to look at).
    """
    if len(text) > MATCH_CHARS:
        return set()
    forms = {match_key(text), match_key(_PARENS.sub(" ", text))}
    return {f for f in forms if f}


def _filled(grid: Grid) -> dict[tuple[int, int], CellValue]:
    """The value covering each merged cell (the top-left value repeated over its range)."""
    cover: dict[tuple[int, int], CellValue] = {}
    for r1, c1, r2, c2 in grid.merges:
        if r1 >= len(grid.rows):
            continue
        value = grid.rows[r1][c1] if c1 < len(grid.rows[r1]) else None
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                cover[(r, c)] = value
    return cover


def _cell(grid: Grid, cover: dict[tuple[int, int], CellValue], r: int, c: int) -> str:
    value = cover.get((r, c))
    if value is None and r < len(grid.rows) and c < len(grid.rows[r]):
        value = grid.rows[r][c]
    return "" if value is None else str(value)


def _header_labels(grid: Grid, cover: dict[tuple[int, int], CellValue], r: int, depth: int) -> list[set[str]]:
    """For each column, the forms its header could be read as, over `depth` rows from r."""
    width = max((len(row) for row in grid.rows), default=0)
    labels: list[set[str]] = []
    for c in range(width):
        parent = _cell(grid, cover, r, c)
        forms = _label_forms(parent)
        if depth == 2 and r + 1 < len(grid.rows):
            child = _cell(grid, cover, r + 1, c)
            if child and child != parent and not _NUMBERING.match(child.strip()):
                forms = _label_forms(child) | {f"{p} {k}" for p in forms for k in _label_forms(child)}
        labels.append(forms)
    return labels


def _assign(labels: list[set[str]], columns: list[Column]) -> dict[str, int]:
    """Each rule column to the leftmost header that names it; one header serves one column."""
    taken: set[int] = set()
    found: dict[str, int] = {}
    for column in columns:
        keys = _column_keys(column)
        for c, forms in enumerate(labels):
            if c not in taken and forms & keys:
                found[column.key] = c
                taken.add(c)
                break
    return found


def locate_header(grid: Grid, columns: list[Column]) -> tuple[int, int, dict[str, int]] | None:
    """(first header row 0-based, depth 1 or 2, key -> column) of the best header in the grid."""
    cover = _filled(grid)
    best: tuple[int, int, dict[str, int]] | None = None
    for r in range(min(HEADER_SCAN_ROWS, len(grid.rows))):
        if not _row_text(grid.rows[r]) and not any((r, c) in cover for c in range(len(grid.rows[r]))):
            continue
        for depth in (1, 2):
            found = _assign(_header_labels(grid, cover, r, depth), columns)
            if "ten_nhiem_vu" in found and len(found) >= 3 and (best is None or len(found) > len(best[2])):
                best = (r, depth, found)
    return best


# ---------------------------------------------------------------- the rows below the header


def find_task_table(grid: Grid, columns: list[Column]) -> RawTable | None:
    """The task table of this grid, or None when no header names the task columns."""
    located = locate_header(grid, columns)
    if located is None:
        return None
    r0, depth, found = located
    missing = [c.key for c in columns if c.required and c.key not in found]
    table = RawTable(grid, r0 + 1, found, missing, score=len(found))
    table.organization = find_organization(grid, r0)
    start = r0 + depth
    if start < len(grid.rows) and _is_numbering_row(grid.rows[start]):
        start += 1
    _read_rows(table, start)
    return table


def _is_numbering_row(row: list[CellValue]) -> bool:
    marks = [str(v).strip() for v in row if v is not None and str(v).strip()]
    return len(marks) >= 3 and all(_NUMBERING.match(m) for m in marks)


def _row_text(values: Iterable[CellValue]) -> list[str]:
    texts = (clean(str(v)) for v in values if v is not None)
    return [t for t in texts if t]


def _read_rows(table: RawTable, start: int) -> None:
    loai: str | None = None
    for r in range(start, len(table.grid.rows)):
        cells = table.grid.rows[r]
        texts = _row_text(cells)
        if not texts:
            continue
        raw = _raw_row(table, r, cells)
        if _is_total(texts):
            table.total = raw
            return
        section = _section_title(texts, raw)
        if section is not None:
            loai = section
            continue
        if _is_signature(texts, raw):
            return
        raw.loai = loai
        table.rows.append(raw)


def _raw_row(table: RawTable, r: int, cells: list[CellValue]) -> RawRow:
    values: dict[str, CellValue] = {}
    places: dict[str, Place] = {}
    for key, c in table.columns.items():
        value = cells[c] if c < len(cells) else None
        if isinstance(value, str) and not value.strip():
            value = None
        values[key] = value
        places[key] = table.place(r + 1, key)
    return RawRow(r + 1, values, places)


def _filled_keys(raw: RawRow, skip: Iterable[str] = ()) -> list[str]:
    return [k for k, v in raw.values.items() if v is not None and k not in skip]


def _is_total(texts: list[str]) -> bool:
    """The 'Tổng cộng' row: it closes the table."""
    return any(_TOTAL.match(match_key(t)) for t in texts[:2])


def _section_title(texts: list[str], raw: RawRow) -> str | None:
    """'I. Nhiệm vụ chuyển tiếp' (or 'I' | 'Nhiệm vụ chuyển tiếp') -> 'Nhiệm vụ chuyển tiếp'.

    A section row has nothing in the task's other columns.
    """
    if _filled_keys(raw, ("stt", "ten_nhiem_vu")):
        return None
    if len(texts) >= 2 and _ROMAN.match(texts[0]):
        return texts[1][:MATCH_CHARS]
    match = _SECTION.match(texts[0])
    if match and not match.group(1)[:-1].isdigit():
        return clean_cell_text(match.group(2))[:MATCH_CHARS]
    if len(texts) == 1 and match_key(texts[0]).startswith("nhiem vu") and raw.values.get("stt") is None:
        return texts[0][:MATCH_CHARS]
    return None


def _is_signature(texts: list[str], raw: RawRow) -> bool:
    looks_like_task = raw.values.get("ten_nhiem_vu") is not None and len(_filled_keys(raw)) >= 3
    return not looks_like_task and any(_SIGNATURE.search(match_key(t)) for t in texts)


# ---------------------------------------------------------------- the organisation


def organization_from_lines(lines: Iterable[str]) -> str | None:
    """'Tên đơn vị: Viện Cơ khí' -> 'Viện Cơ khí' (the first such line with a name)."""
    for line in lines:
        name = _after_label(line)
        if name:
            return name
    return None


def _after_label(text: str) -> str | None:
    head, colon, rest = text.partition(":")
    if not colon:
        return None
    if len(head) > MATCH_CHARS:
        return None
    label = match_key(head)
    if not any(label == k or label.startswith(k + " ") for k in _ORGANIZATION):
        return None
    name = clean_cell_text(rest.split("\n", 1)[0][:MATCH_CHARS]).strip(" .…_")
    return name or None


def find_organization(grid: Grid, header_row: int) -> str | None:
    """The organisation named above the header ('Tên đơn vị: …', or the label then a cell)."""
    for r in range(min(header_row, len(grid.rows))):
        cells = [v for v in grid.rows[r] if v is not None and str(v).strip()]
        for i, value in enumerate(cells):
            text = clean(str(value))
            name = _after_label(text)
            if name:
                return name
            if text.endswith(":") and _after_label(text + "x") and i + 1 < len(cells):
                return clean(str(cells[i + 1]))[:MATCH_CHARS] or None
    return organization_from_lines(grid.preamble)
