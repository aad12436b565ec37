"""Turning cell values as written into typed values, or saying precisely why not.

Vietnamese conventions: "." groups thousands and "," marks decimals (`1.500` = 1500,
`2.000,5` = 2000.5); `1 500` = 1500. A value that could be read two ways is never guessed.

Every value here is finite and sane: NaN, infinities, a negative zero and magnitudes of
`MAX_MAGNITUDE` or more are findings, never numbers. Matching looks at bounded text only: at most
`MATCH_CHARS` characters of a cell are ever folded or compared (a cell holding 32,000 characters
costs no more than one holding 300).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from mailbot.model import CellValue
from mailbot.text import clean_cell_text, fold, strip_marks
from mailbot.validation.schema import Column, EnumValue

#: No enum name, header, section title or task name to match is longer; longer text is cut to this first.
MATCH_CHARS = 300
#: |x| >= 10^15 is absurd for any figure of a submission: in million VND it is a billion billion đồng.
MAX_MAGNITUDE = 1e15
#: A text cell of a column without its own max_length may hold this many characters, no more.
DEFAULT_MAX_TEXT = 5000
#: A value quoted in a finding is cut to this many characters.
QUOTE_CHARS = 200
#: The longest number written sanely ("999.999.999.999,999999" and the like) is shorter than this.
MAX_NUMBER_CHARS = 40


@lru_cache(maxsize=1024)  # keys are at most DEFAULT_MAX_TEXT characters
def _fold_short(text: str) -> str:
    return fold(text)


def match_key(text: str, limit: int = MATCH_CHARS) -> str:
    """fold() of the first `limit` characters: the form every fuzzy or similarity comparison sees."""
    return _fold_short(text[:limit])


@lru_cache(maxsize=64)  # small: the keys may be long; a repeated cell is one and the same string
def clean(text: str) -> str:
    """clean_cell_text, remembered: a hostile sheet repeats one long string in thousands of cells."""
    return clean_cell_text(text)


def quote(text: str | None, limit: int = 120) -> str:
    """`text` for a message: cut to `limit` characters with an ellipsis."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
    text = clean(text)
    return text or None


# ---------------------------------------------------------------- numbers

_NUMBER_CHARS = re.compile(r"^[+-]?[\d.,]+$")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_NOT_A_NUMBER_HINT = "Ghi một con số, ví dụ 1.500 hoặc 1500; phần thập phân dùng dấu phẩy, ví dụ 2.000,5."


_NON_FINITE = re.compile(r"^[+-]?(?:nan|inf|infinity)$", re.IGNORECASE)
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?e[+-]?\d+$", re.IGNORECASE)


def parse_number(value: CellValue) -> float | Bad:
    """A finite, sane real number from a numeric cell or Vietnamese-formatted text."""
    if isinstance(value, bool | dt.date | dt.time):
        return Bad("not_a_number", "Giá trị không phải là một con số.", _NOT_A_NUMBER_HINT)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return _not_finite(str(value))
        if abs(value) >= MAX_MAGNITUDE:  # before float(): an int of 400 digits does not fit one
            return _absurd(
                f"{value:.6g}" if isinstance(value, float) else f"{str(value)[:20]}… ({len(str(value))} chữ số)"
            )
        return float(value) + 0.0  # + 0.0: a stored -0.0 is plain 0
    text = _squeeze_spaces(clean(str(value)))
    if text is not None and (_NON_FINITE.match(text) or _SCIENTIFIC.match(text)):
        return _exotic(text)
    if text is None or not _NUMBER_CHARS.match(text):
        wordy = "Giá trị có chữ hoặc ký hiệu, không phải là một con số."
        return Bad("not_a_number", wordy, _NOT_A_NUMBER_HINT)
    if len(text) > MAX_NUMBER_CHARS:
        return _absurd(text)
    sign = -1.0 if text.startswith("-") else 1.0
    parsed = _parse_digits(text.lstrip("+-"))
    if isinstance(parsed, Bad):
        return parsed
    if parsed == 0 and sign < 0:
        return Bad(
            "negative_zero",
            f"«{text}» là số 0 có dấu trừ: không rõ ý định.",
            "Ghi 0 (không có dấu trừ), hoặc ghi đúng con số định ghi.",
        )
    return _sane(sign * parsed, text)


def _exotic(text: str) -> Bad:
    """NaN, inf, '1e999' typed as text: never a number; say why when it is not even finite or sane."""
    number = float(text.replace(",", ".")) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(number):
        return _not_finite(text)
    if abs(number) >= MAX_MAGNITUDE:
        return _absurd(text)
    return Bad("not_a_number", f"'{text}' không đúng cách viết số (không dùng dạng số mũ).", _NOT_A_NUMBER_HINT)


def _sane(number: float, written: str) -> float | Bad:
    return _absurd(written) if abs(number) >= MAX_MAGNITUDE or not math.isfinite(number) else number


def _absurd(written: str) -> Bad:
    return Bad(
        "absurd_number",
        f"Con số «{quote(written, 60)}» lớn bất thường (từ 10^15 trở lên hoặc dài quá {MAX_NUMBER_CHARS} ký tự),"
        " không thể là số liệu thực.",
        "Kiểm tra lại ô này; kinh phí ghi theo đơn vị triệu đồng, ví dụ 1.500 là một tỷ năm trăm triệu đồng.",
    )


def _not_finite(written: str) -> Bad:
    return Bad(
        "not_finite_number",
        f"«{quote(written, 60)}» không phải là một con số hữu hạn (NaN, vô cực hoặc số mũ quá lớn).",
        _NOT_A_NUMBER_HINT,
    )


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


_KEPT_CODES = frozenset({"absurd_number", "not_finite_number", "negative_zero"})


def parse_integer(value: CellValue) -> int | Bad:
    number = parse_number(value)
    if isinstance(number, Bad) and number.code in _KEPT_CODES:
        return number
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
    if not isinstance(value, str) or len(value) > MATCH_CHARS:
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
        whole = abs(value) < MAX_MAGNITUDE and float(value).is_integer()  # abs(nan) < x is False
        return int(value) if whole and int(value) in codes else unknown
    if not isinstance(value, str):
        return unknown
    if len(value) > MATCH_CHARS:  # no code, name or paraphrase is this long: nothing to compare
        return Bad(
            column.invalid_code, f"Giá trị dài {len(value)} ký tự, không phải một mục của danh mục.", enum_hint(column)
        )
    key = match_key(value)
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
    exact = [v.code for v in values if _names(key, v)]
    if exact:  # scores 2.0, above any other score (at most 1.3): the answer without a single ratio
        return exact[0] if len(exact) == 1 else None
    scores = sorted(((_score(key, v), v.code) for v in values), reverse=True)
    best, code = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    if best >= 0.75 and best - runner_up >= 0.05:
        return code
    return None


def _names(key: str, value: EnumValue) -> bool:
    """`key` is the value's name, an alias or its description, folded."""
    return key in (match_key(value.name), *(match_key(a) for a in value.aliases)) or key == match_key(value.description)


def _score(key: str, value: EnumValue) -> float:
    if _names(key, value):
        return 2.0
    names = [match_key(value.name), *(match_key(a) for a in value.aliases)]
    contained = [len(n) for n in names if len(n) >= 6 and f" {n} " in f" {key} "]
    if contained:
        return 1.0 + max(contained) / 1000  # the longest name found in the text is the most specific
    described = match_key(value.description)
    ratio = SequenceMatcher(None, key, described).ratio() if described else 0.0
    by_name = max(SequenceMatcher(None, key, n).ratio() for n in names)
    return max(ratio, by_name)
