"""Checks of an office-style table's layout: its unit of measure, section sub-totals, hidden rows,
formulas without a stored result, quarters written for months.

None raises on bad data; each returns findings in the house style (Vietnamese message and hint).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mailbot.model import CellValue, Finding, Place, Task
from mailbot.readers.table import Group, RawRow, RawTable
from mailbot.validation.checks import Typed, at_cell, finding, read_cell
from mailbot.validation.schema import Column, Rules
from mailbot.validation.values import MATCH_CHARS, Bad, match_key, parse_number

MONEY = ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac")

# ---------------------------------------------------------------- the unit of measure


def money_factor(table: RawTable) -> tuple[float, list[Finding]]:
    """By how much the table's amounts are multiplied to be million VND, and what the reply says about it."""
    if not table.units:
        return 1.0, []
    first = table.units[0]
    place = Place(table.grid.file, table.grid.sheet, first.row + 1, _letter(first.col))
    unknown = next((u for u in table.units if u.factor is None), None)
    if unknown is not None:
        at = Place(table.grid.file, table.grid.sheet, unknown.row + 1, _letter(unknown.col))
        return 1.0, [
            finding(
                "unknown_money_unit",
                f"Không rõ đơn vị tính «{unknown.written}»: hệ thống chỉ đọc được kinh phí tính bằng đồng,"
                " nghìn đồng, triệu đồng hoặc tỷ đồng.",
                "Ghi kinh phí bằng triệu đồng và ghi «Đơn vị tính: triệu đồng» phía trên bảng.",
                place=at,
                value=unknown.written,
            )
        ]
    factors = {u.factor for u in table.units}
    if len(factors) > 1:
        listed = ", ".join(f"«{u.written}»" for u in table.units)
        return 1.0, [
            finding(
                "money_unit_conflict",
                f"Bảng ghi nhiều đơn vị tính khác nhau cho kinh phí ({listed}), không rõ số liệu tính theo đơn vị nào.",
                "Ghi thống nhất một đơn vị tính (triệu đồng) ở dòng «Đơn vị tính» và ở tiêu đề cột kinh phí.",
                place=place,
                value=first.written,
            )
        ]
    factor = first.factor or 1.0
    if factor == 1.0:
        return 1.0, []
    return factor, [
        finding(
            "money_unit_converted",
            f"Kinh phí trong bảng ghi theo đơn vị «{first.written}»; hệ thống đã quy đổi sang triệu đồng"
            f" ({_operation(factor)}). Các số liệu trong thư này tính bằng triệu đồng.",
            "Không cần sửa nếu số liệu đúng; mẫu Phụ lục 1 ghi kinh phí bằng triệu đồng.",
            severity="warning",
            place=place,
            value=first.written,
        )
    ]


def _operation(factor: float) -> str:
    """'chia cho 1.000.000' for đồng, 'nhân với 1.000' for tỷ đồng."""
    if factor < 1:
        return "chia cho " + f"{round(1 / factor):,}".replace(",", ".")
    return "nhân với " + f"{round(factor):,}".replace(",", ".")


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col + 1)


def convert(amount: float, factor: float) -> float:
    """An amount in million VND, rounded so that 1.500.000.000 đồng is exactly 1500."""
    return round(amount * factor, 6) + 0.0 if factor != 1.0 else amount


def written_amount(cell: CellValue, factor: float) -> float | None:
    """A total or sub-total cell in million VND, or None when empty or not a number."""
    number = parse_number(cell) if cell is not None else None
    return None if number is None or isinstance(number, Bad) else convert(number, factor)


# ---------------------------------------------------------------- section sub-totals


def check_subtotals(table: RawTable, tasks: list[Task], rules: Rules, factor: float) -> Iterator[Finding]:
    """A section's (or sub-section's) sub-total that differs from the sum of its tasks, at its cell."""
    tolerance = rules.checks.budget_sum_tolerance
    for group in table.groups:
        members = tasks[group.first : group.end]
        for key in MONEY:
            written = written_amount(group.raw.values.get(key), factor)
            if written is None:
                continue
            summed = sum(getattr(t, key) or 0.0 for t in members)
            if abs(written - summed) > tolerance:
                yield _subtotal_mismatch(group, key, written, summed, rules)


def _subtotal_mismatch(group: Group, key: str, written: float, summed: float, rules: Rules) -> Finding:
    column = rules.column(key)
    label = column.label if column else key
    return finding(
        "subtotal_mismatch",
        f"Dòng cộng của mục «{group.title}» ghi {written:,.1f} nhưng cộng các nhiệm vụ trong mục được"
        f" {summed:,.1f} ({label}).",
        "Sửa số cộng của mục (hoặc công thức =SUM) cho khớp với các nhiệm vụ thuộc mục đó.",
        place=group.raw.places.get(key),
        field=key,
        value=group.raw.values.get(key),
    )


# ---------------------------------------------------------------- rows and cells not read


def check_hidden_rows(table: RawTable) -> Iterator[Finding]:
    for raw in table.hidden:
        name = raw.values.get("ten_nhiem_vu")
        yield finding(
            "hidden_row",
            f"Dòng {raw.row} đang bị ẩn nên không được đọc là nhiệm vụ"
            + (f" («{str(name)[:80]}»)." if name is not None else "."),
            "Nếu đây là nhiệm vụ đề xuất, hãy bỏ ẩn dòng (Unhide) rồi gửi lại; nếu không, nên xoá dòng này.",
            severity="warning",
            place=raw.places.get("ten_nhiem_vu"),
            field="ten_nhiem_vu",
        )


def uncached_formula(raw: RawRow, column: Column, index: int | None) -> Finding:
    """A cell holding a formula whose result the file does not store: its value cannot be read."""
    return at_cell(
        raw,
        column.key,
        index,
        "formula_without_value",
        f"Ô «{column.label}» chứa công thức nhưng tệp không lưu kết quả tính (tệp chưa từng được mở và lưu"
        " bằng Excel hoặc LibreOffice), nên hệ thống không đọc được giá trị.",
        "Mở tệp bằng Excel hoặc LibreOffice, lưu lại rồi gửi lại; hoặc ghi trực tiếp con số vào ô này.",
        severity="warning",
    )


def check_total_formulas(table: RawTable) -> Iterator[Finding]:
    """Sub-total and total cells with formulas but no stored result."""
    rows = [g.raw for g in table.groups] + ([table.total] if table.total else [])
    for raw in rows:
        for key in sorted(raw.uncached):
            yield finding(
                "formula_without_value",
                "Ô cộng chứa công thức nhưng tệp không lưu kết quả tính, nên hệ thống không kiểm tra được.",
                "Mở tệp bằng Excel hoặc LibreOffice, lưu lại rồi gửi lại.",
                severity="warning",
                place=raw.places.get(key),
                field=key,
            )


# ---------------------------------------------------------------- quarters written for months

_QUARTER = re.compile(r"^(?:quy|q)\s*(i{1,3}|iv|[1-4])\s*(?:nam\s*)?(\d{4})$")
_ROMAN_QUARTERS = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def quarter_month(value: CellValue, column: Column) -> str | None:
    """'Quý I/2024' → '2024-01' for a start column, '2024-03' for an end column; None otherwise."""
    if not isinstance(value, str) or len(value) > MATCH_CHARS:
        return None
    match = _QUARTER.match(match_key(value))
    if not match:
        return None
    number = match.group(1)
    quarter = int(number) if number.isdigit() else _ROMAN_QUARTERS[number]
    month = 3 * quarter if column.key == "ket_thuc" else 3 * quarter - 2
    return f"{match.group(2)}-{month:02d}"


def quarter_note(raw: RawRow, column: Column, index: int, month: str) -> Finding:
    year, mm = month.split("-")
    which = "tháng cuối quý" if column.key == "ket_thuc" else "tháng đầu quý"
    return at_cell(
        raw,
        column.key,
        index,
        "quarter_as_month",
        f"«{column.label}» ghi theo quý; hệ thống hiểu là tháng {mm}/{year} ({which}).",
        "Nếu không đúng, ghi rõ tháng/năm, ví dụ 01/2024.",
        severity="warning",
    )


# ---------------------------------------------------------------- one field of a task row


def read_field(raw: RawRow, column: Column, index: int, factor: float) -> tuple[Typed | None, list[Finding]]:
    """read_cell, and: a formula without a stored result, a quarter for a month, amounts in million VND."""
    value = raw.values.get(column.key)
    if value is None and column.key in raw.uncached:
        return None, [uncached_formula(raw, column, index)]
    if column.type == "month":
        month = quarter_month(value, column)
        if month:
            return month, [quarter_note(raw, column, index, month)]
    typed, problems = read_cell(raw, column, index)
    if column.type == "money" and isinstance(typed, int | float):
        typed = convert(float(typed), factor)
    return typed, problems
