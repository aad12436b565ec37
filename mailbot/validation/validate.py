"""Reading one submission as a whole: which file is which, every task, every finding.

Given the files one submitter attached, returns the organisation, every task exactly as written
(typed by the rules) and every problem at its place. Never raises on bad input.

One submission has `rules.limits.max_validation_seconds` of checking: the clock is looked at between
grids, rows and tasks, and when the time is up checking stops with one error finding
(`validation_cut_short`), so the submitter is asked to correct rather than wrongly acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mailbot.model import Description, Finding, Grid, ReadResult, Task, ValidationResult
from mailbot.readers import read_file
from mailbot.readers.organization import find_organization
from mailbot.readers.sections import parse_descriptions
from mailbot.readers.table import RawTable, find_task_table, organization_from_lines
from mailbot.validation.checks import (
    TASK_CHECKS,
    check_duplicates,
    check_missing_columns,
    check_total_row,
    finding,
    match_descriptions,
    similarity,
)
from mailbot.validation.layout import (
    check_hidden_rows,
    check_subtotals,
    check_total_formulas,
    money_factor,
    read_field,
)
from mailbot.validation.money_words import description_budget
from mailbot.validation.schema import Rules
from mailbot.validation.values import quote

_TASK_FIELDS = set(Task.__dataclass_fields__)


def validate_files(files: Sequence[tuple[str, bytes]], rules: Rules) -> ValidationResult:
    """Read and check the files of one submission (name, bytes) against the rules of a call."""
    limits = rules.limits
    reads = [
        read_file(name, data, max_bytes=limits.max_file_bytes, max_uncompressed=limits.max_uncompressed_bytes)
        for name, data in files
    ]
    return validate_reads(reads, rules)


class _OutOfTime(Exception):
    """Raised by a Clock whose time is up; caught by validate_reads, never leaves this module."""


@dataclass
class Clock:
    """The time budget of one submission's checking."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def tick(self) -> None:
        if time.monotonic() - self.started > self.seconds:
            raise _OutOfTime


@dataclass
class _Found:
    findings: list[Finding]
    tasks: list[Task] = field(default_factory=list)
    descriptions: list[Description] = field(default_factory=list)
    organization: str | None = None


def validate_reads(reads: list[ReadResult], rules: Rules) -> ValidationResult:
    clock = Clock(rules.limits.max_validation_seconds)
    found = _Found([f for r in reads for f in r.findings])
    try:
        _validate(reads, rules, found, clock)
    except _OutOfTime:
        found.findings.append(_cut_short(clock.seconds))
    return ValidationResult(found.organization, found.tasks, _finish(found.findings, rules), found.descriptions)


def _validate(reads: list[ReadResult], rules: Rules, found: _Found, clock: Clock) -> None:
    findings = found.findings
    tables: list[RawTable] = []
    for read in reads:
        clock.tick()
        table = best_table(read.grids, rules, clock)
        described = _descriptions(read)
        if table:
            tables.append(table)
        found.descriptions.extend(described)
        if not table and not described:
            findings.extend(_unrecognised(read))
    for table in tables:
        table_tasks, table_findings = read_table(table, rules, clock)
        found.tasks.extend(table_tasks)
        findings.extend(table_findings)
    findings.extend(_check_documents(reads, tables, found.tasks, found.descriptions, rules, clock))
    found.organization = _organization(tables, reads)
    if found.organization is None and tables:
        findings.append(
            finding(
                "missing_organization",
                "Không tìm thấy tên đơn vị đề xuất.",
                "Ghi «Tên đơn vị: …» phía trên bảng Phụ lục 1.",
                severity="warning",
                file=tables[0].grid.file,
            )
        )


def _cut_short(seconds: float) -> Finding:
    return finding(
        "validation_cut_short",
        f"Hồ sơ quá lớn hoặc quá phức tạp: hệ thống đã dừng kiểm tra sau {seconds:g} giây,"
        " nên kết quả kiểm tra dưới đây chưa đầy đủ.",
        "Vui lòng chỉ giữ lại các bảng theo mẫu, xoá các ô có nội dung rất dài hoặc lặp lại, rồi gửi lại hồ sơ.",
    )


# ---------------------------------------------------------------- which file is which


def best_table(grids: list[Grid], rules: Rules, clock: Clock | None = None) -> RawTable | None:
    """The grid whose header names most task columns (a tie goes to the first)."""
    best: RawTable | None = None
    for grid in grids:
        if clock:
            clock.tick()
        table = find_task_table(grid, rules.columns)
        if table and (best is None or table.score > best.score):
            best = table
    return best


def _descriptions(read: ReadResult) -> list[Description]:
    if read.text is None:
        return []
    found = parse_descriptions(read.text)  # none when the text is no thuyết minh
    return [replace(d, kinh_phi_tong=description_budget(d.kinh_phi_text or "")) for d in found]


def _unrecognised(read: ReadResult) -> list[Finding]:
    if read.kind == "pdf" or any(f.severity == "error" for f in read.findings):
        return []
    return [
        finding(
            "unrecognized_file",
            "Tệp này không phải Phụ lục 1 (không có bảng danh mục nhiệm vụ) cũng không phải Phụ lục 2.",
            "Nếu đây là Phụ lục, hãy dùng mẫu gửi kèm; nếu không, có thể bỏ qua.",
            severity="warning",
            file=read.file,
        )
    ]


def _organization(tables: list[RawTable], reads: list[ReadResult]) -> str | None:
    """Around the task table first; then in the other tables of the files (a Word document often sets the
    national header block in a borderless table of its own above the task table); then in their text."""
    for table in tables:
        if table.organization:
            return table.organization
    task_grids = {id(table.grid) for table in tables}
    for read in reads:
        for grid in read.grids:
            name = None if id(grid) in task_grids else find_organization(grid, len(grid.rows))
            if name:
                return name
    for read in reads:
        name = organization_from_lines(read.text.paragraphs) if read.text else None
        if name:
            return name
    return None


# ---------------------------------------------------------------- Phụ lục 1 rows


def read_table(table: RawTable, rules: Rules, clock: Clock | None = None) -> tuple[list[Task], list[Finding]]:
    factor, findings = money_factor(table)
    findings[:0] = check_missing_columns(table, rules)
    findings.extend(check_hidden_rows(table))
    tasks: list[Task] = []
    for index, raw in enumerate(table.rows):
        if clock:
            clock.tick()
        task = Task(loai=raw.loai)
        for column in rules.columns:
            if column.key not in table.columns:
                continue
            typed, problems = read_field(raw, column, index, factor)
            findings.extend(problems)
            if column.key in _TASK_FIELDS:
                setattr(task, column.key, typed if typed != "" else None)
        for check in TASK_CHECKS:
            findings.extend(check(task, raw, index, rules))
        tasks.append(task)
    findings.extend(check_total_row(table, tasks, rules, factor))
    findings.extend(check_subtotals(table, tasks, rules, factor))
    findings.extend(check_total_formulas(table))
    findings.extend(check_duplicates(tasks, table.rows))
    if not tasks and not table.missing:
        findings.append(
            finding(
                "no_tasks",
                "Bảng Phụ lục 1 không có nhiệm vụ nào.",
                "Điền mỗi nhiệm vụ trên một dòng dưới hàng tiêu đề.",
                file=table.grid.file,
            )
        )
    if len(tasks) > rules.limits.max_tasks:
        findings.append(
            finding(
                "too_many_tasks",
                f"Bảng có {len(tasks)} nhiệm vụ, vượt quá {rules.limits.max_tasks} nhiệm vụ cho phép.",
                "Chỉ đề xuất các nhiệm vụ ưu tiên.",
                file=table.grid.file,
            )
        )
    return tasks, findings


# ---------------------------------------------------------------- the documents together


def _check_documents(
    reads: list[ReadResult],
    tables: list[RawTable],
    tasks: list[Task],
    descriptions: list[Description],
    rules: Rules,
    clock: Clock,
) -> list[Finding]:
    docs = rules.documents
    pdf = next((r.file for r in reads if r.kind == "pdf"), None)
    out: list[Finding] = []
    if docs.phu_luc_1.required and not tables:
        out.append(_missing(docs.phu_luc_1.title, pdf))
    if docs.phu_luc_2.required and not descriptions:
        out.append(_missing(docs.phu_luc_2.title, pdf))
    elif descriptions and tables:
        out.extend(_check_descriptions(tables, tasks, descriptions, rules, clock))
    return out


def _missing(title: str, pdf: str | None) -> Finding:
    if pdf:
        return finding(
            "pdf_only",
            f"{title} chỉ có bản PDF (hoặc bản chụp), không đọc được số liệu.",
            "Gửi kèm bản mềm chỉnh sửa được (.xlsx cho Phụ lục 1, .docx cho Phụ lục 2).",
            file=pdf,
        )
    return finding(
        "missing_document",
        f"Không tìm thấy {title} trong các tệp gửi kèm.",
        "Gửi kèm tệp theo mẫu (mẫu trống được gửi kèm thư này).",
    )


def _check_descriptions(
    tables: list[RawTable], tasks: list[Task], descriptions: list[Description], rules: Rules, clock: Clock
) -> list[Finding]:
    spec = rules.documents.phu_luc_2
    matched = match_descriptions(tasks, descriptions, spec.name_similarity, clock.tick)
    rows = [(index, raw) for table in tables for index, raw in enumerate(table.rows)]
    out: list[Finding] = []
    for position, task in enumerate(tasks):
        index, raw = rows[position]
        description = matched.get(position)
        if description is None:
            out.append(
                finding(
                    "missing_description",
                    f"Nhiệm vụ «{quote(task.ten_nhiem_vu)}» chưa có thuyết minh (Phụ lục 2) cùng tên.",
                    "Gửi thuyết minh cho nhiệm vụ này; tên nhiệm vụ ở hai Phụ lục phải giống nhau.",
                    place=raw.places.get("ten_nhiem_vu"),
                    field="ten_nhiem_vu",
                    task_index=index,
                    value=task.ten_nhiem_vu,
                )
            )
        elif spec.budget_must_match:
            out.extend(_check_description_budget(task, description, spec.budget_tolerance))
    used = {id(d) for d in matched.values()}
    for description in descriptions:
        clock.tick()
        if id(description) not in used:
            out.append(_orphan(description, tasks))
    return out


def _check_description_budget(task: Task, description: Description, tolerance: float) -> list[Finding]:
    name = quote(description.ten_nhiem_vu)
    if description.kinh_phi_tong is None:
        code = "description_without_budget"
        message = f"Thuyết minh «{name}» không ghi tổng kinh phí."
        hint = "Ghi ở mục Kinh phí: «Tổng kinh phí: … triệu đồng»."
    elif task.kinh_phi_tong is not None and abs(description.kinh_phi_tong - task.kinh_phi_tong) > tolerance:
        code = "description_budget_mismatch"
        message = (
            f"Thuyết minh «{name}» ghi tổng kinh phí {description.kinh_phi_tong:,.1f} triệu đồng,"
            f" Phụ lục 1 ghi {task.kinh_phi_tong:,.1f} triệu đồng."
        )
        hint = "Sửa cho kinh phí ở Phụ lục 1 và Phụ lục 2 bằng nhau."
    else:
        return []
    return [
        finding(
            code,
            message,
            hint,
            file=description.file,
            field="kinh_phi_tong",
            task_index=description.index,
            value=description.kinh_phi_text,
        )
    ]


def _orphan(description: Description, tasks: list[Task]) -> Finding:
    names = [t.ten_nhiem_vu for t in tasks if t.ten_nhiem_vu]
    nearest = max(names, key=lambda n: similarity(n, description.ten_nhiem_vu or ""), default=None)
    hint = "Tên nhiệm vụ ở thuyết minh phải giống tên ở Phụ lục 1."
    if nearest:
        hint += f" Tên gần nhất ở Phụ lục 1: «{quote(nearest)}»."
    return finding(
        "orphan_description",
        f"Thuyết minh «{quote(description.ten_nhiem_vu) or '(không có tên)'}» không khớp nhiệm vụ nào ở Phụ lục 1.",
        hint,
        severity="warning",
        file=description.file,
        task_index=description.index,
        field="ten_nhiem_vu",
        value=description.ten_nhiem_vu,
    )


# ---------------------------------------------------------------- last touches


def _finish(findings: list[Finding], rules: Rules) -> list[Finding]:
    """Apply the rules' severity overrides; order by file as given, then sheet, row, column."""
    overrides = rules.checks.severity
    adjusted = [replace(f, severity=overrides[f.code]) if f.code in overrides else f for f in findings]
    files: dict[str | None, int] = {}
    for f in adjusted:
        files.setdefault(f.file, len(files))
    return sorted(
        adjusted,
        key=lambda f: (files[f.file], f.sheet or "", f.row or 0, len(f.column or ""), f.column or ""),
    )
