"""The compiled plan, "Tổng hợp đề xuất nhiệm vụ năm <plan_year>": the officer's deliverable, made from the ledger.

Section A holds every task of every accepted latest version, section B the tasks of submissions that still
need correction. In each, tasks are grouped by định hướng in the rules' order (tasks without a known one come
last), each group followed by its sub-total, the section by its total. The columns are the form's own (the
rules' columns, in order, groups as a two-row header) with "Đơn vị đề xuất" after the task name. A per-unit
summary follows. `write_compiled` writes the plan as .xlsx (totals as formulas, see compiled_xlsx) and as a
.docx table for the official document (compiled_docx); the tracker rebuild and `mailbot compile` call it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from mailbot.model import SubmissionView, TrackerData
from mailbot.text import nfc
from mailbot.validation.schema import Column, Issuer, Rules

VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
UNIT_KEY = "don_vi_de_xuat"
UNIT_LABEL = "Đơn vị đề xuất"
NO_ORIENTATION = "Chưa xác định định hướng"
MONEY_UNIT = "Đơn vị tính: triệu đồng"
SectionKey = Literal["accepted", "needs_correction"]
SECTION_TITLES: dict[SectionKey, str] = {
    "accepted": "A. NHIỆM VỤ CỦA CÁC HỒ SƠ ĐÃ TIẾP NHẬN",
    "needs_correction": "B. NHIỆM VỤ CỦA CÁC HỒ SƠ CÒN CẦN CHỈNH SỬA (chưa tính vào tổng hợp)",
}
SECTION_STATES: dict[SectionKey, str] = {"accepted": "Đã tiếp nhận", "needs_correction": "Cần chỉnh sửa"}
_ROMAN = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class PlanColumn:
    """One column of the compiled table: a rules column, or the unit column mailbot adds."""

    key: str
    label: str
    group: str | None
    width: float
    type: str = "text"
    values: dict[int, str] = field(default_factory=dict)  # an enum column's code -> name


@dataclass(frozen=True)
class PlanTask:
    unit: str
    receipt: str
    fields: dict[str, Any]  # Task.to_dict() as the ledger holds it


@dataclass(frozen=True)
class PlanGroup:
    code: int | None  # the orientation; None for tasks without a known one
    number: str  # "I", "II", … within its section
    title: str  # "Định hướng 1: Truyền thông"
    tasks: list[PlanTask]

    @property
    def subtotal_label(self) -> str:
        what = f"định hướng {self.code}" if self.code is not None else "nhiệm vụ chưa xác định định hướng"
        return f"Cộng {what} ({len(self.tasks)} nhiệm vụ)"


@dataclass(frozen=True)
class UnitLine:
    """One unit of the per-unit summary: its name as shown in the plan and its submissions' receipts."""

    unit: str
    receipts: list[str]
    tasks: list[PlanTask]


@dataclass(frozen=True)
class PlanSection:
    key: SectionKey
    groups: list[PlanGroup]
    units: list[UnitLine]

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.key]

    @property
    def total_label(self) -> str:
        count = sum(len(g.tasks) for g in self.groups)
        letter = "A" if self.key == "accepted" else "B"
        return f"TỔNG CỘNG {letter} ({count} nhiệm vụ, {len(self.units)} đơn vị)"

    def tasks(self) -> Iterator[PlanTask]:
        for group in self.groups:
            yield from group.tasks


@dataclass(frozen=True)
class CompiledPlan:
    title: str
    call_title: str
    issuer: Issuer
    columns: list[PlanColumn]
    sections: list[PlanSection]  # the sections that hold tasks: A first, then B
    generated_at: dt.datetime

    @property
    def money_keys(self) -> list[str]:
        return [c.key for c in self.columns if c.type == "money"]

    @property
    def file_stem(self) -> str:
        return plan_stem(self.title.rsplit(" ", 1)[-1])

    @property
    def updated_line(self) -> str:
        return f"Cập nhật lúc {self.generated_at.astimezone(VN_TZ).strftime('%d/%m/%Y %H:%M')}"


# --- building the plan from the ledger's views ------------------------------------------------------


def compile_plan(data: TrackerData, rules: Rules) -> CompiledPlan:
    """The plan of `data`'s latest versions under `rules`."""
    orientation = rules.column("dinh_huong")
    order = [v.code for v in orientation.values] if orientation else []
    names = {v.code: v.name for v in orientation.values} if orientation else {}
    by_section: dict[SectionKey, list[SubmissionView]] = {"accepted": [], "needs_correction": []}
    for view in sorted(data.submissions, key=lambda v: (v.first_received_at, v.receipt)):
        by_section[section_of(view)].append(view)
    sections = [
        PlanSection(key, _groups(views, order, names), _units(views))
        for key, views in by_section.items()
        if any(view.tasks for view in views)
    ]
    return CompiledPlan(
        title=f"Tổng hợp đề xuất nhiệm vụ năm {rules.call.plan_year}",
        call_title=rules.call.title,
        issuer=rules.call.issuer,
        columns=plan_columns(rules),
        sections=sections,
        generated_at=data.generated_at,
    )


def section_of(view: SubmissionView) -> SectionKey:
    """Accepted, or still needing correction (lateness is a fact of its own and does not decide the section)."""
    return "accepted" if view.status == "accepted" else "needs_correction"


def plan_columns(rules: Rules) -> list[PlanColumn]:
    """The rules' columns in order, with the unit column right after the task name."""
    out: list[PlanColumn] = []
    for column in rules.columns:
        out.append(_plan_column(column))
        if column.key == "ten_nhiem_vu":
            out.append(PlanColumn(UNIT_KEY, UNIT_LABEL, None, 24))
    return out


def _plan_column(column: Column) -> PlanColumn:
    values = {v.code: v.name for v in column.values}
    return PlanColumn(column.key, column.label, column.group, column.width, column.type, values)


def unit_name(view: SubmissionView) -> str:
    name = " ".join(nfc(view.organization or "").split())
    return name or f"(chưa rõ tên đơn vị) {view.sender}"


def _groups(views: list[SubmissionView], order: list[int], names: dict[int, str]) -> list[PlanGroup]:
    tasks = [PlanTask(unit_name(v), v.receipt, t) for v in views for t in v.tasks]
    groups: list[PlanGroup] = []
    for code in [*order, None]:
        members = [t for t in tasks if _orientation(t, order) == code]
        if members:
            title = f"Định hướng {code}: {names[code]}" if code is not None else NO_ORIENTATION
            groups.append(PlanGroup(code, roman(len(groups) + 1), title, members))
    return groups


def _orientation(task: PlanTask, known: list[int]) -> int | None:
    code = task.fields.get("dinh_huong")
    return code if isinstance(code, int) and code in known else None


def _units(views: list[SubmissionView]) -> list[UnitLine]:
    """One line per unit name (compared case-insensitively, as a spreadsheet's `=` compares text)."""
    lines: dict[str, UnitLine] = {}
    for view in views:
        name = unit_name(view)
        line = lines.setdefault(name.casefold(), UnitLine(name, [], []))
        line.receipts.append(view.receipt)
        line.tasks.extend(PlanTask(line.unit, view.receipt, t) for t in view.tasks)
    return list(lines.values())


def roman(number: int) -> str:
    out = ""
    for value, letters in _ROMAN:
        while number >= value:
            out, number = out + letters, number - value
    return out


# --- cell values shared by both writers -------------------------------------------------------------


def money(task: PlanTask, key: str) -> float | None:
    value = task.fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def cell_text(column: PlanColumn, task: PlanTask) -> str:
    """What a (non-money) cell of a task shows: the enum value with its name, a month as MM/YYYY."""
    if column.key == UNIT_KEY:
        return task.unit
    value = task.fields.get(column.key)
    if value is None:
        return ""
    if column.values and isinstance(value, int) and value in column.values:
        return f"{value}. {column.values[value]}"
    if column.type == "month" and isinstance(value, str) and (found := _MONTH.match(value)):
        return f"{found.group(2)}/{found.group(1)}"
    return str(value)


def vietnamese_money(value: float | None) -> str:
    """1234.5 as "1.234,5": the text a Vietnamese Excel shows for the workbook's money format.

    Rounded half away from zero, as Excel rounds for display (1350.25 shows as 1.350,3, not Python's 1.350,2).
    """
    if value is None:
        return ""
    rounded = Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def total(tasks: list[PlanTask], key: str) -> float:
    return sum(money(t, key) or 0.0 for t in tasks)


# --- writing ------------------------------------------------------------------------------------------


def write_compiled(data: TrackerData, rules: Rules, out_dir: Path) -> list[Path]:
    """Write the compiled plan as `tong-hop-de-xuat-nhiem-vu-<year>.xlsx` and `.docx` in `out_dir`.

    Each file is written beside its target and swapped in whole (os.replace): a reader never sees half a file.
    Returns the paths written.
    """
    from mailbot.officer.compiled_docx import plan_docx
    from mailbot.officer.compiled_xlsx import plan_xlsx

    plan = compile_plan(data, rules)
    out_dir.mkdir(parents=True, exist_ok=True)
    makers: list[tuple[str, Callable[[CompiledPlan], bytes]]] = [(".xlsx", plan_xlsx), (".docx", plan_docx)]
    return [_replace(out_dir / f"{plan.file_stem}{suffix}", maker(plan)) for suffix, maker in makers]


def plan_stem(plan_year: object) -> str:
    """The compiled plan's file name without its suffix, e.g. "tong-hop-de-xuat-nhiem-vu-2024"."""
    return f"tong-hop-de-xuat-nhiem-vu-{plan_year}"


def rebuild_compiled(data: TrackerData, rules: Rules, out_dir: Path) -> list[Path]:
    """`write_compiled` for the tracker's rebuild: a failure is logged, never raised, and mail processing goes on.

    Skipped while the submissions it is made of have not changed since it was last written (a fingerprint
    beside it), so a batch that changed nothing costs nothing; "Cập nhật lúc" is then when the plan last changed.
    """
    from mailbot.logs import get_logger

    stem = plan_stem(rules.call.plan_year)  # known without compiling: an unchanged plan costs only its fingerprint
    fingerprint = _fingerprint(data, rules)
    mark = out_dir / f".{stem}.sha256"
    try:
        current = all((out_dir / f"{stem}{suffix}").is_file() for suffix in (".xlsx", ".docx"))
        if current and mark.is_file() and mark.read_text(encoding="ascii").strip() == fingerprint:
            return []
        written = write_compiled(data, rules, out_dir)
        mark.write_text(fingerprint, encoding="ascii")
        return written
    except OSError as exc:
        get_logger().error("compiled_plan_not_written", error=str(exc))
        return []


def _fingerprint(data: TrackerData, rules: Rules) -> str:
    """What the compiled plan is made of: each submission's latest version, and the call."""
    import hashlib
    import json

    made_of = [rules.call.model_dump(mode="json")] + [
        [s.receipt, s.version, s.status, s.late, s.organization, s.sender, s.tasks] for s in data.submissions
    ]
    return hashlib.sha256(json.dumps(made_of, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def _replace(target: Path, content: bytes) -> Path:
    """`content` written beside `target` and swapped in; while `target` is locked (open in Excel or Word on a
    Windows share), into `<stem>.pending<suffix>` instead, as the tracker does. Returns the path written."""
    from mailbot.adapters.xlsx_tracker import fsync_folder, is_lock

    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    pending = target.with_name(f"{target.stem}.pending{target.suffix}")
    try:
        with temporary.open("wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        for where in (target, pending):
            try:
                os.replace(temporary, where)
            except OSError as error:
                if not is_lock(error):
                    raise
                continue
            fsync_folder(where.parent)
            if where == target:
                with suppress(OSError):
                    pending.unlink(missing_ok=True)
            return where
        raise PermissionError(f"{target} and {pending.name} are both locked")
    finally:
        temporary.unlink(missing_ok=True)
