"""Who sends the table, and in which unit its amounts are: read from the text around a task table.

The organisation, in order of trust: the national header block (the top-left cells beside
"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"; the ministry on one line and the unit below it: the unit is
taken), then "Tên đơn vị: …", then "Đơn vị đề xuất: …", then the signature block ("TM. Viện …").
"Đơn vị tính: triệu đồng", "ĐVT: …" and "Đơn vị: triệu đồng" are units of measure, never the organisation.

The unit of measure comes from such a line above the header or from the money columns' header
("Kinh phí dự kiến (triệu đồng)"); amounts are then converted to million VND.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mailbot.model import CellValue, Grid
from mailbot.text import clean_cell_text
from mailbot.validation.values import MATCH_CHARS, clean, match_key

NATIONAL = "cong hoa xa hoi chu nghia viet nam"
MOTTO = "doc lap tu do hanh phuc"
#: Rows below the national line that may still hold the unit's name (ministry, unit, "Số: …").
HEADER_BLOCK_ROWS = 4

#: Labels of the organisation, most trusted first ('Tên đơn vị (cơ quan)' starts like one).
_ORG_LABELS = (
    ("ten don vi", "ten co quan", "ten to chuc"),
    ("don vi de xuat", "co quan de xuat", "don vi"),
)
#: Labels that always introduce a unit of measure.
_UNIT_LABELS = ("don vi tinh", "dvt", "don vi tien te", "don vi do")
#: The first word(s) of an organisation's name: a header line that starts otherwise continues the line above.
_ORG_WORDS = re.compile(
    r"^(bo|vien|hoc vien|truong|dai hoc|trung tam|tong cong ty|cong ty|tap doan|so|uy ban|ubnd|tong cuc|cuc|vu|"
    r"chi cuc|ban|hoi|hiep hoi|lien hiep|phong|van phong|ngan hang|benh vien|tap chi|bao|nha xuat ban|"
    r"doanh nghiep|hop tac xa|khu|tinh|thanh pho|quy)\b"
)
_NOT_A_NAME = re.compile(r"^(so|v v|kinh gui|ha noi|tp|ngay|phu luc|danh muc|bieu|mau)\b|^[\W_]*$")
#: 'TM. <organisation>' ("on behalf of"); 'KT.' and 'TL.' are followed by a title, not a name.
_SIGNED_FOR = re.compile(r"^(tm|t m)\s+(.+)$")

#: Known units of measure for money, folded, → how many million VND one of them is.
_MONEY_UNITS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"^(trieu dong|trieu vnd|trieu d|tr dong|tr d|trd|trieu|tr vnd)$"), 1.0),
    (re.compile(r"^(nghin dong|ngan dong|nghin vnd|ngan vnd|1 000 dong|1000 dong|1 000 vnd|nghin d|ngan d)$"), 1e-3),
    (re.compile(r"^(ty dong|ty vnd|ty)$"), 1000.0),
    (re.compile(r"^(dong|vnd|vnđ|d|dong viet nam|viet nam dong)$"), 1e-6),
)
_CURRENCY_HINT = re.compile(r"\b(dong|vnd|usd|eur|do la|ty|trieu|nghin|ngan)\b|\$|€")


@dataclass(frozen=True)
class MoneyUnit:
    """A unit of measure as written, where, and its worth in million VND (None when unknown)."""

    written: str
    row: int  # 0-based
    col: int
    factor: float | None


def money_factor(text: str) -> float | None:
    """'triệu đồng' → 1, 'nghìn đồng' → 0.001, 'đồng' → 1e-6, 'tỷ đồng' → 1000; None when unknown."""
    key = match_key(text).strip()
    return next((factor for pattern, factor in _MONEY_UNITS if pattern.match(key)), None)


def unit_of_measure(text: str) -> str | None:
    """The unit in 'Đơn vị tính: triệu đồng' / 'ĐVT: đồng' / 'Đơn vị: triệu đồng'; None for other text."""
    head, colon, rest = text.partition(":")
    if not colon or len(head) > 40:
        return None
    label, unit = match_key(head), clean_cell_text(rest[:MATCH_CHARS]).strip(" .;")
    if label in _UNIT_LABELS:
        return unit
    if label == "don vi" and (money_factor(unit) is not None or _CURRENCY_HINT.search(match_key(unit))):
        return unit
    return None


# ---------------------------------------------------------------- the organisation


def find_organization(grid: Grid, header_row: int, end_row: int | None = None) -> str | None:
    """The organisation that sends this table; `header_row` and `end_row` (0-based) bound the table."""
    above = [r for r in range(min(header_row, len(grid.rows))) if r not in grid.hidden_rows]
    found = _header_block(grid, above)
    if found:
        return found
    lines = [*_labelled_lines(grid, above), *((None, line) for line in grid.preamble)]
    found = _most_trusted(_named(lines))
    if found:
        return found
    below = range(end_row if end_row is not None else len(grid.rows), len(grid.rows))
    return _signed_for(grid, [r for r in below if r not in grid.hidden_rows])


def organization_from_lines(lines: Iterable[str]) -> str | None:
    """'Tên đơn vị: Viện Cơ khí' -> 'Viện Cơ khí' (the most trusted label with a name), never a unit of measure."""
    return _most_trusted(_named((None, line) for line in lines))


def _most_trusted(named: Iterable[tuple[str, str]]) -> str | None:
    """The name after the most trusted label; the first of them when several have the same trust."""
    best: tuple[int, str] | None = None
    for label, name in named:
        if label in _UNIT_LABELS or any(label.startswith(u + " ") for u in _UNIT_LABELS):
            continue
        tier = next((t for t, labels in enumerate(_ORG_LABELS) for k in labels if _labelled(label, k)), None)
        if tier is not None and (best is None or tier < best[0]):
            best = (tier, name)
    return best[1] if best else None


def _labelled(label: str, key: str) -> bool:
    """'Tên đơn vị (cơ quan)' is labelled 'ten don vi'; a bare 'Đơn vị' only as itself ('Đơn vị phối hợp' is not)."""
    return label == key or (key != "don vi" and label.startswith(key + " "))


def _named(lines: Iterable[tuple[str | None, str]]) -> Iterator[tuple[str, str]]:
    """(folded label, name) for each 'Label: name' line (or a label cell followed by its name cell)."""
    for label_cell, text in lines:
        if label_cell is not None:
            label = match_key(label_cell.rstrip(": "))
            name = clean(text)[:MATCH_CHARS]
        else:
            head, colon, rest = text.partition(":")
            if not colon or len(head) > MATCH_CHARS:
                continue
            label = match_key(head)
            name = clean_cell_text(rest.split("\n", 1)[0][:MATCH_CHARS]).strip(" .…_")
        head = label_cell.rstrip(": ") if label_cell is not None else text.partition(":")[0]
        if name and unit_of_measure(f"{head}: {name}") is None:
            yield label, name


def _labelled_lines(grid: Grid, rows: list[int]) -> Iterator[tuple[str | None, str]]:
    """Each text cell above the header; a cell ending with ':' is a label for the next cell."""
    for r in rows:
        cells = [clean(str(v)) for v in grid.rows[r] if v is not None and str(v).strip()]
        for i, text in enumerate(cells):
            if text.endswith(":") and i + 1 < len(cells):
                yield text, cells[i + 1]
            else:
                yield None, text


def _header_block(grid: Grid, rows: list[int]) -> str | None:
    """The unit named at the top left, beside "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"."""
    for r in rows[: HEADER_BLOCK_ROWS * 3]:
        for c, value in enumerate(grid.rows[r]):
            if isinstance(value, str) and match_key(value).startswith(NATIONAL):
                return _unit_name(_block_lines(grid, r, c, rows))
    return None


def _block_lines(grid: Grid, r: int, national_col: int, rows: list[int]) -> list[str]:
    """The lines of the cells left of the national line, from its row down a few rows."""
    lines: list[str] = []
    for row in (x for x in rows if r <= x < r + HEADER_BLOCK_ROWS):
        found = [line for value in grid.rows[row][:national_col] for line in _lines(value)]
        if not found and lines:
            break  # the block ends at its first empty row
        lines += found
    if not lines and national_col == 0:  # the block in the same cell, or above the national line
        lines = [line for x in rows if x < r for value in grid.rows[x] for line in _lines(value)]
    return lines


def _lines(value: CellValue) -> list[str]:
    if not isinstance(value, str):
        return []
    return [clean_cell_text(line) for line in value.split("\n") if clean_cell_text(line)]


def _unit_name(lines: list[str]) -> str | None:
    """The last organisation among the lines: 'BỘ CÔNG THƯƠNG' / 'VIỆN …' → 'VIỆN …'.

    A line that does not start like an organisation's name continues the line above it (a long name
    wrapped over two lines).
    """
    names: list[str] = []
    for line in lines:
        key = match_key(line)
        if _NOT_A_NAME.search(key) or key.startswith((NATIONAL, MOTTO)):
            continue
        if names and not _ORG_WORDS.match(key):
            names[-1] = f"{names[-1]} {line}"
        else:
            names.append(line)
    return names[-1][:MATCH_CHARS] if names else None


def _signed_for(grid: Grid, rows: list[int]) -> str | None:
    """'TM. VIỆN NGHIÊN CỨU DA - GIẦY' in the signature block → the unit it signs for."""
    for r in rows:
        for value in grid.rows[r]:
            for line in _lines(value):
                match = _SIGNED_FOR.match(match_key(line))
                if match and _ORG_WORDS.match(match.group(2)):
                    return clean_cell_text(re.split(r"[.\s]", line, maxsplit=1)[1])[:MATCH_CHARS] or None
    return None


# ---------------------------------------------------------------- the unit of measure


def find_money_unit(grid: Grid, header_row: int, depth: int, money_cols: Iterable[int]) -> list[MoneyUnit]:
    """The units of measure stated for the money: unit lines above the header, then the money headers."""
    found: list[MoneyUnit] = []
    for r in range(min(header_row, len(grid.rows))):
        if r in grid.hidden_rows:
            continue
        for c, value in enumerate(grid.rows[r]):
            unit = unit_of_measure(clean(value)) if isinstance(value, str) else None
            if unit:
                found.append(MoneyUnit(unit, r, c, money_factor(unit)))
    found += _header_units(grid, header_row, depth, set(money_cols))
    return found


_PAREN = re.compile(r"\(([^()]{1,40})\)")  # innermost: 'Tổng (Kinh phí dự kiến (triệu đồng))' → 'triệu đồng'
#: Words in parentheses that may be a unit of measure; longer text in parentheses is something else.
_UNIT_WORDS = 3


def _header_units(grid: Grid, header_row: int, depth: int, money_cols: set[int]) -> list[MoneyUnit]:
    """'(triệu đồng)' in a money column's header (or in the merged parent spanning it)."""
    found: list[MoneyUnit] = []
    anchors = {(r1, c1) for r1, c1, _r2, c2 in grid.merges if any(c1 <= c <= c2 for c in money_cols)}
    for r in range(header_row, min(header_row + depth, len(grid.rows))):
        for c, value in enumerate(grid.rows[r]):
            if not isinstance(value, str) or (c not in money_cols and (r, c) not in anchors):
                continue
            for inside in _PAREN.findall(value):
                factor = money_factor(inside)
                key = match_key(inside)
                if factor is not None or (_CURRENCY_HINT.search(key) and len(key.split()) <= _UNIT_WORDS):
                    found.append(MoneyUnit(clean_cell_text(inside), r, c, factor))
    return found
