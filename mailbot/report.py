"""Plain-text presentation of a validation result (the `mailbot validate` report)."""

from __future__ import annotations

from itertools import groupby

from mailbot.model import Finding, Task, ValidationResult

SEVERITY_LABEL = {"error": "LỖI", "warning": "LƯU Ý"}


def place_text(f: Finding) -> str:
    """Where a finding is, in words: 'ô K12 (hàng 12, cột K)', or the task number for Phụ lục 2."""
    if f.cell:
        return f"ô {f.cell} (hàng {f.row}, cột {f.column})"
    if f.task_index is not None:
        return f"thuyết minh thứ {f.task_index + 1}"
    return "toàn tệp"


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def _task_line(index: int, task: Task) -> str:
    period = f"{task.bat_dau or '?'} → {task.ket_thuc or '?'}"
    return (
        f"  {index + 1:>3}. {task.ten_nhiem_vu or '(không tên)'}\n"
        f"       định hướng {task.dinh_huong or '?'} · {period} · tổng {_money(task.kinh_phi_tong)}"
        f" (NSNN {_money(task.kinh_phi_nsnn)}, khác {_money(task.kinh_phi_khac)}) triệu đồng"
        + (f" · {task.loai}" if task.loai else "")
    )


def render_report(result: ValidationResult) -> str:
    lines = [f"Đơn vị: {result.organization or '(không rõ)'}", f"Nhiệm vụ đọc được: {len(result.tasks)}"]
    lines += [_task_line(i, t) for i, t in enumerate(result.tasks)]
    total = sum(t.kinh_phi_tong or 0.0 for t in result.tasks)
    lines.append(f"  Tổng kinh phí: {_money(total)} triệu đồng")
    errors = sum(f.severity == "error" for f in result.findings)
    warnings = len(result.findings) - errors
    lines.append(f"\nPhát hiện: {errors} lỗi, {warnings} lưu ý")
    for (file, sheet), group in groupby(result.findings, key=lambda f: (f.file, f.sheet)):
        lines.append(f"\n{file or '(hồ sơ)'}" + (f" › {sheet}" if sheet else ""))
        for f in group:
            lines.append(f"  [{SEVERITY_LABEL[f.severity]}] {place_text(f)}: {f.message}")
            if f.value is not None:
                lines.append(f"      đã ghi: {f.value!r}")
            if f.hint:
                lines.append(f"      cách sửa: {f.hint}")
    return "\n".join(lines)
