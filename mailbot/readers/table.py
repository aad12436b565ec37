"""Finding the task table inside a Grid: header matching, sections, the total row, the organisation.

Format-independent: works on a Grid from any reader (xlsx, xls, a Word table). Headers match the
rules' column labels and aliases whatever their case, marks, punctuation or Unicode form, over one
header row or two (a merged parent such as "Kinh phí dự kiến (triệu đồng)" over "Tổng / NSNN").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from openpyxl.utils import get_column_letter

from mailbot.model import CellValue, Grid, Place
from mailbot.readers.organization import MoneyUnit, find_money_unit, find_organization, organization_from_lines
from mailbot.text import clean_cell_text, fold
from mailbot.validation.schema import Column
from mailbot.validation.values import MATCH_CHARS, clean, match_key

__all__ = ["Group", "RawRow", "RawTable", "find_task_table", "locate_header", "organization_from_lines"]

HEADER_SCAN_ROWS = 40
_PARENS = re.compile(r"\([^)]*\)")
_NUMBERING = re.compile(r"^\(?\d{1,2}\)?$")
_SECTION = re.compile(r"^\s*((?:[IVXLC]+|[A-Z]|\d{1,2}(?:\.\d{1,2})*)[.)]?)\s+(.+)$")
_ROMAN = re.compile(r"^[IVXLC]+\.?$|^[A-Z][.)]?$")
#: '1.', '2.1', '2.1.' in the STT column: the number of a sub-section, not of a task.
_SUBSECTION = re.compile(r"^\d{1,2}\.(?:\d{1,2}\.?)*$")
_SIGNATURE = re.compile(
    r"^(nguoi lap|thu truong|ky ten|xac nhan|giam doc|vien truong|noi nhan|lanh dao|ghi chu|luu y|chu thich)"
    r"|\bngay\b.*\bthang\b.*\bnam\b"
)
#: The fields a section or group row may fill: its number, its title, its sub-totals, a note.
_GROUP_KEYS = ("stt", "ten_nhiem_vu", "kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac", "ghi_chu")
_MONEY_KEYS = ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac")
_TOTAL = re.compile(r"^(tong cong|tong so|cong|tong)$|^tong cong\b")


@dataclass
class RawRow:
    """One task row as written: cell values by field key, and where each was."""

    row: int  # 1-based sheet row
    values: dict[str, CellValue]
    places: dict[str, Place]
    loai: str | None = None
    #: Fields whose cell holds a formula without a stored result (the value reads as empty).
    uncached: frozenset[str] = frozenset()


@dataclass
class Group:
    """A section ('I. Nhiệm vụ chuyển tiếp', level 1) or sub-section ('1.' level 2, '2.1' level 3) row.

    Its tasks are table.rows[first:end]; its money cells, when filled, are sub-totals of them.
    """

    raw: RawRow
    level: int
    title: str
    first: int
    end: int = 0


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
    groups: list[Group] = field(default_factory=list)
    #: Rows the sheet hides that hold something in the table's columns: not tasks.
    hidden: list[RawRow] = field(default_factory=list)
    #: The units of measure stated for the money (a unit line, the money columns' header).
    units: list[MoneyUnit] = field(default_factory=list)

    def place(self, row: int, key: str) -> Place:
        column = get_column_letter(self.columns[key] + 1) if key in self.columns else "A"
        return Place(self.grid.file, self.grid.sheet, row, column)


# ---------------------------------------------------------------- header matching


#: What a rules column is matched by: its key, label, aliases and group (the rules are trusted, and few).
_Signature = tuple[tuple[str, str, tuple[str, ...], str | None], ...]


def _signature(columns: list[Column]) -> _Signature:
    return tuple((c.key, c.label, tuple(c.aliases), c.group) for c in columns)


@dataclass(frozen=True)
class _HeaderIndex:
    """The rules' columns, in order, and for each folded header form the positions of the columns it names."""

    keys: tuple[str, ...]
    forms: dict[str, tuple[int, ...]]


@lru_cache(maxsize=8)  # one entry per rules file in use; keyed by the rules' own text, never by a submission
def _header_index(signature: _Signature) -> _HeaderIndex:
    forms: dict[str, list[int]] = {}
    for position, (_key, label, aliases, group) in enumerate(signature):
        names = {fold(label), *(fold(a) for a in aliases)}
        if group:
            parent = fold(group)
            names |= {f"{parent} {n}" for n in list(names)}
        for name in sorted(n for n in names if n):
            forms.setdefault(name, []).append(position)
    return _HeaderIndex(tuple(s[0] for s in signature), {f: tuple(p) for f, p in forms.items()})


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


class _HeaderRows:
    """The rows a header may be in, each cell's text and forms worked out once, whatever the depth tried."""

    def __init__(self, grid: Grid, cover: dict[tuple[int, int], CellValue]) -> None:
        self.grid = grid
        self.cover = cover
        self.width = max((len(row) for row in grid.rows), default=0)
        self._rows: dict[int, tuple[list[str], list[set[str]]]] = {}

    def row(self, r: int) -> tuple[list[str], list[set[str]]]:
        """(text, forms) of each column's cell in row r."""
        if r not in self._rows:
            texts = [_cell(self.grid, self.cover, r, c) for c in range(self.width)]
            self._rows[r] = (texts, [_label_forms(t) for t in texts])
        return self._rows[r]

    def labels(self, r: int, depth: int) -> list[set[str]]:
        """For each column, the forms its header could be read as, over `depth` rows from r."""
        parents, parent_forms = self.row(r)
        two = depth == 2 and r + 1 < len(self.grid.rows)
        children, child_forms = self.row(r + 1) if two else (parents, parent_forms)
        labels: list[set[str]] = []
        for c in range(self.width):
            if c in self.grid.hidden_cols:  # a hidden column is not part of the table, whatever its header
                labels.append(set())
                continue
            forms = parent_forms[c]
            child = children[c]
            if two and child and child != parents[c] and not _NUMBERING.match(child.strip()):
                forms = child_forms[c] | {f"{p} {k}" for p in forms for k in child_forms[c]}
            labels.append(forms)
        return labels


def _assign(labels: list[set[str]], index: _HeaderIndex) -> dict[str, int]:
    """Each rule column to the leftmost header that names it; one header serves one column."""
    headers: dict[int, list[int]] = {}  # rule column position -> the header columns naming it, left to right
    for c, forms in enumerate(labels):
        named = {p for form in forms for p in index.forms.get(form, ())}
        for position in named:
            headers.setdefault(position, []).append(c)
    taken: set[int] = set()
    found: dict[str, int] = {}
    for position in sorted(headers):  # in the rules' order: an earlier column takes a shared header first
        free = next((c for c in headers[position] if c not in taken), None)
        if free is not None:
            found[index.keys[position]] = free
            taken.add(free)
    return found


def locate_header(grid: Grid, columns: list[Column]) -> tuple[int, int, dict[str, int]] | None:
    """(first header row 0-based, depth 1 or 2, key -> column) of the best header in the grid."""
    cover = _filled(grid)
    index = _header_index(_signature(columns))
    rows = _HeaderRows(grid, cover)
    best: tuple[int, int, dict[str, int]] | None = None
    for r in range(min(HEADER_SCAN_ROWS, len(grid.rows))):
        if r in grid.hidden_rows:
            continue
        if not _row_text(grid.rows[r]) and not any((r, c) in cover for c in range(len(grid.rows[r]))):
            continue
        for depth in (1, 2):
            found = _assign(rows.labels(r, depth), index)
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
    start = r0 + depth
    if start < len(grid.rows) and _is_numbering_row(grid.rows[start]):
        start += 1
    end = _read_rows(table, start)
    _close_groups(table)
    table.organization = find_organization(grid, r0, end)
    money = [c for k, c in found.items() if k in _MONEY_KEYS]
    table.units = find_money_unit(grid, r0, depth, money)
    return table


def _is_numbering_row(row: list[CellValue]) -> bool:
    marks = [str(v).strip() for v in row if v is not None and str(v).strip()]
    return len(marks) >= 3 and all(_NUMBERING.match(m) for m in marks)


def _row_text(values: Iterable[CellValue]) -> list[str]:
    texts = (clean(str(v)) for v in values if v is not None)
    return [t for t in texts if t]


def _read_rows(table: RawTable, start: int) -> int:
    """Tasks, sections and the total row from `start`; the 0-based row where the table ends."""
    loai: str | None = None
    for r in range(start, len(table.grid.rows)):
        cells = table.grid.rows[r]
        texts = _row_text(cells)
        if not texts and not _uncached_in(table, r):
            continue
        raw = _raw_row(table, r, cells)
        if r in table.grid.hidden_rows:
            table.hidden.extend([raw] if _filled_keys(raw) else [])
            continue
        if _is_total(texts):
            table.total = table.total or raw
            if table.rows:  # a total row before the first task (budget tables often put it on top) opens it
                return r + 1
            continue
        group = _group(texts, raw)
        if group is not None:
            level, title = group
            table.groups.append(Group(raw, level, title, len(table.rows)))
            loai = title if level == 1 else loai
            continue
        if _is_signature(texts, raw):
            return r
        raw.loai = loai
        table.rows.append(raw)
    return len(table.grid.rows)


def _uncached_in(table: RawTable, r: int) -> bool:
    return any((r, c) in table.grid.uncached for c in table.columns.values())


def _close_groups(table: RawTable) -> None:
    """Each group's tasks run to the next group of the same or a higher level, or to the end."""
    for i, group in enumerate(table.groups):
        later = (g.first for g in table.groups[i + 1 :] if g.level <= group.level)
        group.end = next(later, len(table.rows))


def _raw_row(table: RawTable, r: int, cells: list[CellValue]) -> RawRow:
    values: dict[str, CellValue] = {}
    places: dict[str, Place] = {}
    uncached: set[str] = set()
    for key, c in table.columns.items():
        value = cells[c] if c < len(cells) else None
        if isinstance(value, str) and not value.strip():
            value = None
        values[key] = value
        places[key] = table.place(r + 1, key)
        if (r, c) in table.grid.uncached:
            uncached.add(key)
    return RawRow(r + 1, values, places, uncached=frozenset(uncached))


def _filled_keys(raw: RawRow, skip: Iterable[str] = ()) -> list[str]:
    return [k for k, v in raw.values.items() if v is not None and k not in skip]


def _is_total(texts: list[str]) -> bool:
    """The 'Tổng cộng' row: it closes the table."""
    return any(_TOTAL.match(match_key(t)) for t in texts[:2])


def _group(texts: list[str], raw: RawRow) -> tuple[int, str] | None:
    """(level, title) of a section or sub-section row, or None for any other row.

    'I' | 'Nhiệm vụ chuyển tiếp', 'I. Nhiệm vụ chuyển tiếp', 'A.' | '…' are sections (level 1) and set
    the tasks' `loai`; '1.' | 'Lĩnh vực …' (level 2) and '2.1' | '…' (level 3) are sub-sections. Such a
    row fills nothing but its number, its title, sub-totals in the money columns and a note.
    """
    if _filled_keys(raw, _GROUP_KEYS) or not texts:
        return None
    number = _number_text(raw.values.get("stt"))
    name = raw.values.get("ten_nhiem_vu")
    title = clean_cell_text(str(name))[:MATCH_CHARS] if name is not None else None
    if number is not None and title and (_ROMAN.match(number) or _SUBSECTION.match(number)):
        return _level(number), title
    match = _SECTION.match(texts[0])
    if match and (_ROMAN.match(match.group(1)) or _SUBSECTION.match(match.group(1))):
        return _level(match.group(1)), clean_cell_text(match.group(2))[:MATCH_CHARS]
    if len(texts) == 1 and match_key(texts[0]).startswith("nhiem vu") and raw.values.get("stt") is None:
        return 1, texts[0][:MATCH_CHARS]
    return None


def _number_text(value: CellValue) -> str | None:
    """The STT as text: a number written with a fraction (2.1 typed into a number cell) keeps its dot."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return None if isinstance(value, int | float) else clean(str(value)).strip()


def _level(number: str) -> int:
    if _ROMAN.match(number):
        return 1
    return 1 + len([part for part in number.rstrip(".)").split(".") if part])


def _is_signature(texts: list[str], raw: RawRow) -> bool:
    looks_like_task = raw.values.get("ten_nhiem_vu") is not None and len(_filled_keys(raw)) >= 3
    return not looks_like_task and any(_SIGNATURE.search(match_key(t)) for t in texts)
