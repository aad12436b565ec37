"""The total budget of a Phụ lục 2 'Kinh phí' section, however it is stated.

In order of trust: a sentence with the amount in figures ("Tổng kinh phí: 1,2 tỷ đồng",
"500.000.000 đồng (Năm trăm triệu đồng)"), read by `budget_in_text`; the total row of a dự toán
table ("Tổng cộng | 500"); the amount in words alone ("Năm trăm triệu đồng"). Always million VND.
"""

from __future__ import annotations

import re

from mailbot.text import fold
from mailbot.validation.checks import BUDGET_TEXT_CHARS, budget_in_text
from mailbot.validation.values import Bad, parse_number

_CELL = " | "
_TOTAL_LABEL = re.compile(r"^(tong cong|tong so|tong kinh phi|tong|cong)\b")
_AMOUNT_HEADER = re.compile(r"^(tong|thanh tien|kinh phi|so tien|du toan)")
_DIGITS = {
    "khong": 0, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5,
    "sau": 6, "bay": 7, "tam": 8, "chin": 9,
}  # fmt: skip
_SCALES = {"nghin": 1_000, "ngan": 1_000, "trieu": 1_000_000, "ty": 1_000_000_000, "ti": 1_000_000_000}
_TENS, _HUNDRED, _SKIP = {"muoi"}, "tram", {"linh", "le"}
_UNITS = (("ty dong", 1000.0), ("nghin dong", 0.001), ("ngan dong", 0.001), ("trieu", 1.0), ("dong", 1e-6))


def description_budget(text: str) -> float | None:
    """The total budget stated in a 'Kinh phí' section, in million VND, or None."""
    text = text[:BUDGET_TEXT_CHARS]
    lines = text.splitlines()
    sentences = "\n".join(line for line in lines if _CELL not in line)
    table = [line for line in lines if _CELL in line]
    for found in (budget_in_text(sentences), table_total(table), amount_in_words(sentences)):
        if found is not None:
            return found
    return None


def table_total(rows: list[str]) -> float | None:
    """The amount of a dự toán table's total row (rows as 'a | b | c' lines), in million VND.

    Cells are aligned from the right (a merged label spans the first columns); the amount is the one
    under a 'Tổng' / 'Thành tiền' / 'Kinh phí' header, else the first amount of the row.
    """
    cells = [[cell.strip() for cell in row.split(_CELL)] for row in rows]
    header = cells[0] if cells else []
    for row in cells[1:]:
        if not row or not _TOTAL_LABEL.match(fold(row[0])):
            continue
        amounts = [(i, parse_number(cell)) for i, cell in enumerate(row) if i and cell]
        numbers = [(i, n) for i, n in amounts if not isinstance(n, Bad)]
        if not numbers:
            continue
        shift = len(header) - len(row)
        for i, number in numbers:
            title = fold(header[i + shift]) if 0 <= i + shift < len(header) else ""
            if _AMOUNT_HEADER.match(title):
                return number * _unit(title, rows)
        title = fold(header[numbers[0][0] + shift]) if 0 <= numbers[0][0] + shift < len(header) else ""
        return numbers[0][1] * _unit(title, rows)
    return None


def _unit(title: str, rows: list[str]) -> float:
    """Million VND per written unit: from the amount's header, else from the table, else triệu đồng."""
    for text in (title, fold(" ".join(rows[:2]))):
        for unit, factor in _UNITS:
            if unit in text:
                return factor
    return 1.0


def amount_in_words(text: str) -> float | None:
    """An amount written in Vietnamese words and ending in 'đồng', in million VND ("Năm trăm triệu đồng")."""
    words = re.findall(r"[a-z]+", fold(text))
    for end, word in enumerate(words):
        if word != "dong":
            continue
        start = end
        while start > 0 and _is_number_word(words[start - 1]):
            start -= 1
        value = _words_value(words[start:end])
        if value:
            return value / 1_000_000
    return None


def _is_number_word(word: str) -> bool:
    return word in _DIGITS or word in _SCALES or word in _TENS or word == _HUNDRED or word in _SKIP


def _words_value(words: list[str]) -> int:
    """'hai tram nam muoi trieu' → 250 000 000; 0 when the words are no number."""
    total, small, digit = 0, 0, 0
    for word in words:
        if word in _DIGITS:
            digit = _DIGITS[word]
        elif word in _TENS:
            small += (digit or 1) * 10
            digit = 0
        elif word == _HUNDRED:
            small += (digit or 1) * 100
            digit = 0
        elif word in _SCALES:
            scale = _SCALES[word]
            group = (small + digit) or 1
            total = (total + group) * scale if total and total < scale else total + group * scale
            small = digit = 0
    return total + small + digit
