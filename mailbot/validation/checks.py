"""One small function per check. Each returns findings; none raises on bad data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from difflib import SequenceMatcher

from mailbot.model import CellValue, Description, Finding, Place, Severity, Task
from mailbot.readers.table import RawRow, RawTable
from mailbot.text import fold
from mailbot.validation.schema import Column, Rules
from mailbot.validation.values import (
    DEFAULT_MAX_TEXT,
    MATCH_CHARS,
    QUOTE_CHARS,
    Bad,
    as_text,
    enum_hint,
    match_key,
    parse_enum,
    parse_integer,
    parse_month,
    parse_number,
    quote,
)

Typed = str | int | float


def finding(
    code: str,
    message: str,
    hint: str = "",
    *,
    severity: Severity = "error",
    place: Place | None = None,
    file: str | None = None,
    field: str | None = None,
    task_index: int | None = None,
    value: CellValue = None,
) -> Finding:
    """A Finding at a place (a cell) or, without one, at a file."""
    return Finding(
        code=code,
        severity=severity,
        message=message,
        hint=hint,
        file=place.file if place else file,
        sheet=place.sheet if place else None,
        row=place.row if place else None,
        column=place.column if place else None,
        cell=place.cell if place else None,
        field=field,
        task_index=task_index,
        value=_quoted(value),
    )


def _quoted(value: CellValue) -> str | None:
    text = as_text(value)
    return quote(text, QUOTE_CHARS) if text else text


def at_cell(
    raw: RawRow,
    key: str,
    index: int | None,
    code: str,
    message: str,
    hint: str = "",
    severity: Severity = "error",
) -> Finding:
    """A finding at the cell of field `key` in a task row, quoting what was written there."""
    return finding(
        code,
        message,
        hint,
        severity=severity,
        place=raw.places.get(key),
        field=key,
        task_index=index,
        value=raw.values.get(key),
    )


# ---------------------------------------------------------------- one cell


def parse_cell(value: CellValue, column: Column) -> Typed | Bad:
    if column.type == "text":
        return as_text(value) or ""
    if column.type == "integer":
        return parse_integer(value)
    if column.type in ("number", "money"):
        return parse_number(value)
    if column.type == "month":
        return parse_month(value)
    return parse_enum(value, column)


def check_range(number: float, column: Column) -> str | None:
    """Why `number` is outside the column's bounds, or None."""
    low, high = column.min, column.max
    if low is not None and (number < low or (column.exclusive_min and number == low)):
        return f"phải lớn hơn {low:g}" if column.exclusive_min else f"không được nhỏ hơn {low:g}"
    if high is not None and number > high:
        return f"không được lớn hơn {high:g}"
    return None


def read_cell(raw: RawRow, column: Column, index: int) -> tuple[Typed | None, list[Finding]]:
    """The typed value of one cell of a task row, with what is wrong with it."""
    value = raw.values.get(column.key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if column.required:
            return None, [
                at_cell(raw, column.key, index, "missing_value", f"Thiếu «{column.label}».", _fill_hint(column))
            ]
        return None, []
    parsed = parse_cell(value, column)
    if isinstance(parsed, Bad):
        message = f"«{column.label}»: {parsed.message}"
        return None, [at_cell(raw, column.key, index, parsed.code, message, parsed.hint or column.hint)]
    problem = _bounds(parsed, column)
    if problem:
        code, message, hint = problem
        if isinstance(parsed, str):  # too long: keep what fits, so no giant text is stored or sent on
            parsed = quote(parsed, _max_length(column))
        return parsed, [at_cell(raw, column.key, index, code, message, hint)]
    return parsed, []


def _max_length(column: Column) -> int:
    return column.max_length or DEFAULT_MAX_TEXT


def _fill_hint(column: Column) -> str:
    if column.type == "enum":
        return enum_hint(column)
    return column.hint or f"Điền «{column.label}» cho nhiệm vụ này."


def _bounds(parsed: Typed, column: Column) -> tuple[str, str, str] | None:
    """(code, message, hint) when a number is out of bounds or a text too long."""
    if isinstance(parsed, float | int) and column.type != "enum":
        why = check_range(float(parsed), column)
        if why:
            return "out_of_range", f"«{column.label}» {why}.", column.hint
    if isinstance(parsed, str) and len(parsed) > _max_length(column):
        message = f"«{column.label}» dài {len(parsed)} ký tự, quá {_max_length(column)} ký tự cho phép."
        return "too_long", message, "Rút gọn nội dung ô này."
    return None


# ---------------------------------------------------------------- one task


def check_budget(task: Task, raw: RawRow, index: int, rules: Rules) -> Iterator[Finding]:
    total, state, other = task.kinh_phi_tong, task.kinh_phi_nsnn, task.kinh_phi_khac
    if total is None or state is None:
        return
    tolerance = rules.checks.budget_sum_tolerance
    if state > total + tolerance:
        message = f"Kinh phí NSNN ({state:,.1f}) lớn hơn tổng kinh phí ({total:,.1f})."
        hint = "NSNN là một phần của tổng kinh phí; kiểm tra lại hai ô này."
        yield at_cell(raw, "kinh_phi_nsnn", index, "nsnn_exceeds_total", message, hint)
    elif abs(total - state - (other or 0.0)) > tolerance:
        message = f"Tổng kinh phí ({total:,.1f}) khác NSNN + nguồn khác ({state + (other or 0.0):,.1f})."
        hint = "Tổng kinh phí phải bằng kinh phí NSNN cộng nguồn khác (triệu đồng)."
        yield at_cell(raw, "kinh_phi_tong", index, "budget_sum_mismatch", message, hint)


def check_period(task: Task, raw: RawRow, index: int, rules: Rules) -> Iterator[Finding]:
    year = str(rules.call.plan_year)
    if task.bat_dau and task.ket_thuc and task.bat_dau > task.ket_thuc:
        message = f"Tháng kết thúc ({_month(task.ket_thuc)}) trước tháng bắt đầu ({_month(task.bat_dau)})."
        hint = "Kiểm tra lại thời gian thực hiện: bắt đầu phải trước hoặc trùng kết thúc."
        yield at_cell(raw, "ket_thuc", index, "period_reversed", message, hint)
    if not rules.checks.period_inside_plan_year:
        return
    for key in ("bat_dau", "ket_thuc"):
        month = getattr(task, key)
        if month and not month.startswith(year + "-"):
            message = f"Thời gian {_month(month)} nằm ngoài năm kế hoạch {year}."
            hint = f"Nhiệm vụ của kế hoạch năm {year} phải bắt đầu và kết thúc trong năm {year}."
            yield at_cell(raw, key, index, "outside_plan_year", message, hint)


def _month(value: str) -> str:
    year, _, month = value.partition("-")
    return f"{month}/{year}"


TASK_CHECKS = (check_budget, check_period)


# ---------------------------------------------------------------- the whole table


def check_missing_columns(table: RawTable, rules: Rules) -> Iterator[Finding]:
    for key in table.missing:
        column = rules.column(key)
        label = column.label if column else key
        yield finding(
            "missing_column",
            f"Bảng không có cột «{label}».",
            f"Thêm cột «{label}» vào bảng (có thể dùng mẫu Phụ lục 1 gửi kèm).",
            place=Place(table.grid.file, table.grid.sheet, table.header_row, "A"),
            field=key,
        )


def check_total_row(table: RawTable, tasks: list[Task], rules: Rules, factor: float = 1.0) -> Iterator[Finding]:
    """The 'Tổng cộng' row against the tasks only (never the section sub-totals); `factor` turns its
    amounts into million VND as the tasks' are."""
    if table.total is None:
        return
    for key in ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac"):
        cell = table.total.values.get(key)
        number = parse_number(cell) if cell is not None else None
        if number is None or isinstance(number, Bad):
            continue
        written = round(number * factor, 6) if factor != 1.0 else number
        summed = sum(getattr(t, key) or 0.0 for t in tasks)
        if abs(written - summed) > rules.checks.budget_sum_tolerance:
            column = rules.column(key)
            yield finding(
                "total_mismatch",
                f"Dòng tổng cộng ghi {written:,.1f} nhưng cộng các nhiệm vụ được {summed:,.1f}"
                f" ({column.label if column else key}).",
                "Sửa dòng tổng cộng hoặc số liệu của từng nhiệm vụ cho khớp.",
                place=table.total.places.get(key),
                field=key,
                value=table.total.values.get(key),
            )


def check_duplicates(tasks: list[Task], rows: list[RawRow]) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for index, (task, raw) in enumerate(zip(tasks, rows, strict=True)):
        key = match_key(task.ten_nhiem_vu or "", DEFAULT_MAX_TEXT)
        if not key:
            continue
        if key in seen:
            message = f"Nhiệm vụ trùng tên với nhiệm vụ thứ {seen[key] + 1}."
            hint = "Xóa dòng trùng hoặc đặt tên khác cho mỗi nhiệm vụ."
            yield at_cell(raw, "ten_nhiem_vu", index, "duplicate_task", message, hint, "warning")
        else:
            seen[key] = index


# ---------------------------------------------------------------- Phụ lục 2 against Phụ lục 1

#: The budget of a description is looked for in the first this many characters of its 'Kinh phí' section.
BUDGET_TEXT_CHARS = 2000
_AMOUNT = re.compile(r"\d+(?:[.,\u00a0 ]\d+)*")


def budget_in_text(text: str) -> float | None:
    """The total budget in a Phụ lục 2 'Kinh phí' section, in million VND, or None.

    Takes the amount after 'tổng' when there is one, else the first amount; understands a unit of
    'tỷ' (×1000) and of plain 'đồng' (÷1,000,000). Looks at the first BUDGET_TEXT_CHARS characters only.
    """
    text = text[:BUDGET_TEXT_CHARS]
    candidates = list(_AMOUNT.finditer(text))
    if "tong" in fold(text):
        candidates = _after_word(text, candidates, "tong") or candidates
    for match in candidates:
        number = parse_number(match.group(0).strip())
        if isinstance(number, Bad):
            continue
        unit = fold(text[match.end() : match.end() + 12])
        if unit.startswith("ty"):
            return number * 1000
        if unit.startswith("dong") or unit.startswith("vnd"):
            return number / 1_000_000
        return number
    return None


def _after_word(text: str, amounts: list[re.Match[str]], word: str) -> list[re.Match[str]]:
    """The amounts with `word` in the folded text before them, found with a few folds, not one per amount.

    fold() of a prefix is a prefix of fold() of the whole, so once `word` is before one amount it is before
    every later one: a binary search over the amounts, in order, finds the first.
    """
    low, high = 0, len(amounts)
    while low < high:
        middle = (low + high) // 2
        if word in fold(text[: amounts[middle].start()]):
            high = middle
        else:
            low = middle + 1
    return amounts[low:]


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, match_key(a), match_key(b)).ratio()


def match_descriptions(
    tasks: list[Task], descriptions: list[Description], threshold: float, tick: Callable[[], None] = lambda: None
) -> dict[int, Description]:
    """task index -> its description: identical folded names first, then best similarity, each used once.

    Similarity compares the first MATCH_CHARS characters of each name; `tick` is called once per task.
    """
    task_keys = [match_key(t.ten_nhiem_vu or "", DEFAULT_MAX_TEXT) for t in tasks]
    desc_keys = [match_key(d.ten_nhiem_vu or "", DEFAULT_MAX_TEXT) for d in descriptions]
    matched: dict[int, Description] = {}
    used: set[int] = set()
    by_name: dict[str, list[int]] = {}
    for j, key in enumerate(desc_keys):
        by_name.setdefault(key, []).append(j)
    for i, key in enumerate(task_keys):
        free = [j for j in by_name.get(key, []) if j not in used] if key else []
        if free:
            matched[i] = descriptions[free[0]]
            used.add(free[0])
    short_tasks, short_descs = [k[:MATCH_CHARS] for k in task_keys], [k[:MATCH_CHARS] for k in desc_keys]
    pairs = _similar_pairs(short_tasks, short_descs, matched, used, threshold, tick)
    for _score, i, j in sorted(pairs, reverse=True):
        if i not in matched and j not in used:
            matched[i] = descriptions[j]
            used.add(j)
    return matched


def _similar_pairs(
    task_keys: list[str],
    desc_keys: list[str],
    matched: dict[int, Description],
    used: set[int],
    threshold: float,
    tick: Callable[[], None],
) -> Iterator[tuple[float, int, int]]:
    """(similarity, task, description) for unmatched pairs at or above the threshold.

    The cheap upper bounds of SequenceMatcher skip most pairs before the full ratio.
    """
    matcher = SequenceMatcher(autojunk=False)
    for i, task_key in enumerate(task_keys):
        tick()
        if i in matched or not task_key:
            continue
        matcher.set_seq2(task_key)
        for j, desc_key in enumerate(desc_keys):
            if j in used or not desc_key:
                continue
            matcher.set_seq1(desc_key)
            if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold:
                score = matcher.ratio()
                if score >= threshold:
                    yield score, i, j
