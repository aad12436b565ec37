"""Turning cell values as written into typed values, or saying precisely why not.

Vietnamese conventions: "." groups thousands and "," marks decimals (`1.500` = 1500,
`2.000,5` = 2000.5); `1 500` = 1500. A value that could be read two ways is never guessed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from mailbot.model import CellValue
from mailbot.text import clean_cell_text, fold, strip_marks
from mailbot.validation.schema import Column, EnumValue


@dataclass(frozen=True)
class Bad:
    """Why a value could not be read: a finding code and Vietnamese message and hint."""

    code: str
    message: str
    hint: str = ""


def as_text(value: CellValue) -> str | None:
    """A cell as display text (NFC, single spaces); None when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        text = value.strftime("%d/%m/%Y") if value.time() == dt.time() else value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        text = value.strftime("%d/%m/%Y")
    else:
        text = str(value)
    text = clean_cell_text(text)
    return text or None


# ---------------------------------------------------------------- numbers

_NUMBER_CHARS = re.compile(r"^[+-]?[\d.,]+$")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_NOT_A_NUMBER_HINT = "Ghi một con số, ví dụ 1.500 hoặc 1500; phần thập phân dùng dấu phẩy, ví dụ 2.000,5."


def parse_number(value: CellValue) -> float | Bad:
    """A real number from a numeric cell or Vietnamese-formatted text."""
    if isinstance(value, bool | dt.date | dt.time):
        return Bad("not_a_number", "Giá trị không phải là một con số.", _NOT_A_NUMBER_HINT)
    if isinstance(value, int | float):
        if math.isfinite(value):
            return float(value)
        return Bad("not_a_number", "Giá trị không phải là một con số.", _NOT_A_NUMBER_HINT)
    text = _squeeze_spaces(clean_cell_text(str(value)))
    if text is None or not _NUMBER_CHARS.match(text):
        wordy = "Giá trị có chữ hoặc ký hiệu, không phải là một con số."
        return Bad("not_a_number", wordy, _NOT_A_NUMBER_HINT)
    sign = -1.0 if text.startswith("-") else 1.0
    parsed = _parse_digits(text.lstrip("+-"))
    return parsed if isinstance(parsed, Bad) else sign * parsed


def _squeeze_spaces(text: str) -> str | None:
    """'1 500' -> '1500' when the spaces group thousands; None when spaces are used otherwise."""
    if not _SPACES.search(text):
        return text
    groups = _SPACES.split(text)
    if all(g.isdigit() for g in groups) and len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]):
        return "".join(groups)
    return None


def _grouped(text: str, sep: str) -> bool:
    """True when `sep` splits `text` into a 1–3 digit head and 3-digit groups."""
    parts = text.split(sep)
    head_ok = parts[0].isdigit() and 1 <= len(parts[0]) <= 3 and parts[0] != "0"
    return head_ok and all(len(p) == 3 and p.isdigit() for p in parts[1:])


def _parse_digits(text: str) -> float | Bad:
    dots, commas = text.count("."), text.count(",")
    ambiguous = Bad(
        "not_a_number",
        f"Không rõ '{text}' là số thập phân hay số có dấu phân cách hàng nghìn.",
        "Viết rõ: 1.500 (một nghìn năm trăm) hoặc 1,5 (một phẩy năm).",
    )
    malformed = Bad("not_a_number", f"'{text}' không đúng cách viết số.", _NOT_A_NUMBER_HINT)
    if dots and commas:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if decimal == "," else ","
        whole, _, frac = text.rpartition(decimal)
        if text.count(decimal) != 1 or not frac.isdigit() or not _grouped(whole, group):
            return malformed
        return float(whole.replace(group, "") + "." + frac)
    sep = "." if dots else ","
    count = dots or commas
    if count == 0:
        return float(text) if text.isdigit() else malformed
    if count > 1:
        return float(text.replace(sep, "")) if _grouped(text, sep) else malformed
    head, _, tail = text.partition(sep)
    if not head.isdigit() or not tail.isdigit():
        return malformed
    if _grouped(text, sep):
        # "1.500" is fifteen hundred by Vietnamese convention; "1,500" could be 1.5 or 1500.
        return float(head + tail) if sep == "." else ambiguous
    return float(head + "." + tail)


def parse_integer(value: CellValue) -> int | Bad:
    number = parse_number(value)
    if isinstance(number, Bad):
        return Bad("not_an_integer", "Giá trị không phải là số nguyên.", "Ghi một số nguyên, ví dụ 1, 2, 3.")
    if not number.is_integer():
        return Bad("not_an_integer", "Giá trị không phải là số nguyên.", "Ghi một số nguyên, ví dụ 1, 2, 3.")
    return int(number)


# ---------------------------------------------------------------- months

_MONTH_HINT = "Ghi tháng/năm theo dạng MM/YYYY, ví dụ 01/2024 hoặc Tháng 1/2024."
_MONTH_YEAR = re.compile(r"^(?:thang|t)?\s*(\d{1,2})\s*(?:[/.-]|nam|\s)\s*(?:nam\s*)?(\d{4})$")
_DAY_MONTH_YEAR = re.compile(r"^(?:ngay\s*)?\d{1,2}\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})$")
_YEAR_MONTH = re.compile(r"^(\d{4})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*\d{1,2})?$")


def parse_month(value: CellValue) -> str | Bad:
    """'01/2024', '1/2024', 'T1/2024', 'Tháng 1/2024', '2024-01' or a real date -> '2024-01'."""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.year:04d}-{value.month:02d}"
    if not isinstance(value, str):
        return Bad("not_a_month", "Giá trị không phải là tháng/năm.", _MONTH_HINT)
    text = strip_marks(clean_cell_text(value)).casefold()
    for pattern, month_group, year_group in (
        (_MONTH_YEAR, 1, 2),
        (_DAY_MONTH_YEAR, 1, 2),
        (_YEAR_MONTH, 2, 1),
    ):
        match = pattern.match(text)
        if match:
            month, year = int(match.group(month_group)), int(match.group(year_group))
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
            return Bad("not_a_month", f"Tháng {month} không tồn tại.", _MONTH_HINT)
    return Bad("not_a_month", "Không đọc được tháng/năm.", _MONTH_HINT)


# ---------------------------------------------------------------- enumerations

_LEADING_CODE = re.compile(r"^(?:dinh huong\s*)?(?:so\s*)?(\d{1,3})(?:\s+(.*))?$")


def enum_hint(column: Column) -> str:
    listed = "; ".join(f"{v.code} – {v.name}" for v in column.values)
    return f"Ghi một trong các mã sau (số hoặc tên): {listed}."


def parse_enum(value: CellValue, column: Column) -> int | Bad:
    """The code of an enum value: written as its code, its name, an alias or a paraphrase."""
    codes = {v.code for v in column.values}
    unknown = Bad(column.invalid_code, "Giá trị không thuộc danh mục.", enum_hint(column))
    if isinstance(value, bool) or value is None:
        return unknown
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() and int(value) in codes else unknown
    if not isinstance(value, str):
        return unknown
    key = fold(value)
    leading = _LEADING_CODE.match(key)
    if leading:
        code = int(leading.group(1))
        rest = leading.group(2)
        by_text = _match_text(rest, column.values) if rest else None
        if code in codes and (by_text is None or by_text == code):
            return code
        return unknown
    found = _match_text(key, column.values)
    return found if found is not None else unknown


def _match_text(key: str, values: list[EnumValue]) -> int | None:
    """The single value that `key` names or paraphrases best; None when none or several fit."""
    scores = sorted(((_score(key, v), v.code) for v in values), reverse=True)
    best, code = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    if best >= 0.75 and best - runner_up >= 0.05:
        return code
    return None


def _score(key: str, value: EnumValue) -> float:
    names = [fold(value.name), *(fold(a) for a in value.aliases)]
    if key in names or key == fold(value.description):
        return 2.0
    contained = [len(n) for n in names if len(n) >= 6 and f" {n} " in f" {key} "]
    if contained:
        return 1.0 + max(contained) / 1000  # the longest name found in the text is the most specific
    described = fold(value.description)
    ratio = SequenceMatcher(None, key, described).ratio() if described else 0.0
    by_name = max(SequenceMatcher(None, key, n).ratio() for n in names)
    return max(ratio, by_name)
