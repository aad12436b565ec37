"""Canonical tasks, and Phụ lục 1 tables laid out in every shape submitters use.

A layout returns the rows to write plus where each task field landed, so tests can assert that a
finding points at the exact cell of an injected error.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

ORGANIZATION = "Viện Nghiên cứu Da - Giày"

TASKS: list[dict[str, Any]] = [
    {
        "stt": 1,
        "ten_nhiem_vu": "Truyền thông nâng cao nhận thức về sản xuất và tiêu dùng bền vững cho doanh nghiệp da giày",
        "dinh_huong": 1,
        "muc_tieu": "Nâng cao nhận thức của 300 doanh nghiệp",
        "noi_dung": "Tổ chức 5 hội thảo; phát hành 2.000 tờ rơi",
        "san_pham": "Báo cáo, tài liệu truyền thông",
        "don_vi_chu_tri": "Viện Nghiên cứu Da - Giày",
        "don_vi_phoi_hop": "Hiệp hội Da - Giày - Túi xách Việt Nam",
        "bat_dau": "2024-01",
        "ket_thuc": "2024-12",
        "kinh_phi_tong": 1500.0,
        "kinh_phi_nsnn": 1000.0,
        "kinh_phi_khac": 500.0,
        "ghi_chu": None,
        "loai": None,
    },
    {
        "stt": 2,
        "ten_nhiem_vu": "Xây dựng định mức tiêu hao nguyên vật liệu ngành da giày",
        "dinh_huong": 3,
        "muc_tieu": "Ban hành bộ định mức cho 3 nhóm sản phẩm",
        "noi_dung": "Khảo sát 30 doanh nghiệp, xây dựng dự thảo định mức",
        "san_pham": "Bộ định mức tiêu hao",
        "don_vi_chu_tri": "Viện Nghiên cứu Da - Giày",
        "don_vi_phoi_hop": None,
        "bat_dau": "2024-03",
        "ket_thuc": "2024-11",
        "kinh_phi_tong": 2000.5,
        "kinh_phi_nsnn": 2000.5,
        "kinh_phi_khac": None,
        "ghi_chu": "Nhiệm vụ mới",
        "loai": None,
    },
    {
        "stt": 3,
        "ten_nhiem_vu": "Thúc đẩy kinh tế tuần hoàn trong thu hồi phế liệu da",
        "dinh_huong": 10,
        "muc_tieu": "Tái chế 20% phế liệu da tại 5 cơ sở",
        "noi_dung": "Xây dựng mô hình thu gom và tái chế",
        "san_pham": "Mô hình thí điểm; sổ tay hướng dẫn",
        "don_vi_chu_tri": "Công ty CP Da Sài Gòn",
        "don_vi_phoi_hop": "Viện Nghiên cứu Da - Giày",
        "bat_dau": "2024-02",
        "ket_thuc": "2024-10",
        "kinh_phi_tong": 800.0,
        "kinh_phi_nsnn": 600.0,
        "kinh_phi_khac": 200.0,
        "ghi_chu": None,
        "loai": None,
    },
]

#: (key, one-row label, group or None, two-row child label)
COLUMNS: list[tuple[str, str, str | None, str]] = [
    ("stt", "STT", None, "STT"),
    ("ten_nhiem_vu", "Tên nhiệm vụ", None, "Tên nhiệm vụ"),
    ("dinh_huong", "Định hướng", None, "Định hướng"),
    ("muc_tieu", "Mục tiêu", None, "Mục tiêu"),
    ("noi_dung", "Nội dung chính", None, "Nội dung chính"),
    ("san_pham", "Sản phẩm dự kiến", None, "Sản phẩm dự kiến"),
    ("don_vi_chu_tri", "Đơn vị chủ trì", None, "Đơn vị chủ trì"),
    ("don_vi_phoi_hop", "Đơn vị phối hợp", None, "Đơn vị phối hợp"),
    ("bat_dau", "Thời gian bắt đầu", "Thời gian thực hiện", "Bắt đầu"),
    ("ket_thuc", "Thời gian kết thúc", "Thời gian thực hiện", "Kết thúc"),
    ("kinh_phi_tong", "Tổng kinh phí (triệu đồng)", "Kinh phí dự kiến (triệu đồng)", "Tổng"),
    ("kinh_phi_nsnn", "Ngân sách nhà nước (NSNN)", "Kinh phí dự kiến (triệu đồng)", "NSNN"),
    ("kinh_phi_khac", "Nguồn khác", "Kinh phí dự kiến (triệu đồng)", "Nguồn khác"),
    ("ghi_chu", "Ghi chú", None, "Ghi chú"),
]
KEYS = [c[0] for c in COLUMNS]

ORIENTATION_TEXT = {1: "Truyền thông", 3: "dinh muc tieu hao", 10: "Triển khai, thúc đẩy nền kinh tế tuần hoàn"}


@dataclass
class Layout:
    rows: list[list[Any]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # 0-based inclusive r1, c1, r2, c2
    cells: dict[tuple[int, str], str] = field(default_factory=dict)  # (task index, key) -> "K12"
    total_cells: dict[str, str] = field(default_factory=dict)

    def merge_ranges(self) -> list[str]:
        """The merges as Excel ranges ('A5:A6')."""
        return [
            f"{get_column_letter(c1 + 1)}{r1 + 1}:{get_column_letter(c2 + 1)}{r2 + 1}" for r1, c1, r2, c2 in self.merges
        ]

    def xlwt_merges(self) -> list[tuple[int, int, int, int]]:
        return [(r1, r2, c1, c2) for r1, c1, r2, c2 in self.merges]


def _header_text(text: str, style: str) -> str:
    if style == "upper_ascii":
        bare = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
        return bare.replace("đ", "d").replace("Đ", "D").upper()
    if style == "nfd":
        return unicodedata.normalize("NFD", text)
    return text


def _month_text(month: str, style: int) -> Any:
    year, mm = month.split("-")
    forms = [f"{mm}/{year}", f"{int(mm)}/{year}", f"T{int(mm)}/{year}", f"Tháng {int(mm)}/{year}"]
    if style == 4:
        return dt.datetime(int(year), int(mm), 1)
    return forms[style % 4]


def _money_text(value: float | None, vn_text: bool) -> Any:
    if value is None or not vn_text:
        return value
    whole = int(value)
    text = f"{whole:,}".replace(",", ".")
    if value != whole:
        text += "," + f"{value:.10g}".split(".")[1]
    return text


def _written(task: dict[str, Any], key: str, i: int, *, vn_numbers: bool, orientation_text: bool) -> Any:
    value = task[key]
    if key in ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac"):
        return _money_text(value, vn_numbers)
    if key in ("bat_dau", "ket_thuc"):
        return _month_text(value, i + (1 if key == "ket_thuc" else 0))
    if key == "dinh_huong" and orientation_text:
        return ORIENTATION_TEXT[value]
    return value


def task_list(
    tasks: list[dict[str, Any]] | None = None,
    *,
    two_row_header: bool = False,
    header_style: str = "labels",
    numbering: bool = False,
    sections: dict[int, str] | None = None,
    total: bool | float = False,
    signature: bool = False,
    vn_numbers: bool = False,
    orientation_text: bool = False,
    organization: str | None = ORGANIZATION,
    overrides: dict[tuple[int, str], Any] | None = None,
) -> Layout:
    """Phụ lục 1 rows: title, 'Tên đơn vị', header(s), optional numbering/sections/total/signature.

    `sections` maps a task index to the section title written just before it.
    `overrides` writes another value at (task index, key): the way to inject an error.
    """
    tasks = TASKS if tasks is None else tasks
    overrides = overrides or {}
    layout = Layout(rows=[["PHỤ LỤC 1"], ["DANH MỤC NHIỆM VỤ ĐỀ XUẤT NĂM 2024"]])
    layout.rows.append([f"Tên đơn vị: {organization}" if organization else "Tên đơn vị:"])
    layout.rows.append([])
    _write_header(layout, two_row_header, header_style)
    if numbering:
        layout.rows.append([f"({n + 1})" for n in range(len(COLUMNS))])
    for i, task in enumerate(tasks):
        if sections and i in sections:
            layout.rows.append([sections[i]])
            layout.merges.append((len(layout.rows) - 1, 0, len(layout.rows) - 1, 2))
        row = [_written(task, key, i, vn_numbers=vn_numbers, orientation_text=orientation_text) for key in KEYS]
        for (index, key), value in overrides.items():
            if index == i:
                row[KEYS.index(key)] = value
        layout.rows.append(row)
        for c, key in enumerate(KEYS):
            layout.cells[(i, key)] = f"{get_column_letter(c + 1)}{len(layout.rows)}"
    if total is not False:
        _write_total(layout, tasks, total, vn_numbers)
    if signature:
        layout.rows += [[], [None, "Người lập biểu", None, None, None, None, "Thủ trưởng đơn vị"]]
        layout.rows.append([None, "(Ký, ghi rõ họ tên)", None, None, None, None, "(Ký tên, đóng dấu)"])
    return layout


def _write_header(layout: Layout, two_rows: bool, style: str) -> None:
    if not two_rows:
        layout.rows.append([_header_text(c[1], style) for c in COLUMNS])
        return
    top = len(layout.rows)
    parents: list[Any] = []
    for c, (_key, _label, group, child) in enumerate(COLUMNS):
        if group is None:
            parents.append(_header_text(child, style))
            layout.merges.append((top, c, top + 1, c))
        elif c == 0 or COLUMNS[c - 1][2] != group:
            parents.append(_header_text(group, style))
            span = sum(1 for col in COLUMNS if col[2] == group)
            layout.merges.append((top, c, top, c + span - 1))
        else:
            parents.append(None)
    layout.rows.append(parents)
    layout.rows.append([_header_text(c[3], style) if c[2] else None for c in COLUMNS])


def _write_total(layout: Layout, tasks: list[dict[str, Any]], total: bool | float, vn: bool) -> None:
    row: list[Any] = [None, "Tổng cộng"] + [None] * (len(COLUMNS) - 2)
    for key in ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac"):
        summed = sum(t[key] or 0.0 for t in tasks)
        if key == "kinh_phi_tong" and not isinstance(total, bool):
            summed = total
        row[KEYS.index(key)] = _money_text(summed, vn)
        layout.total_cells[key] = f"{get_column_letter(KEYS.index(key) + 1)}{len(layout.rows) + 1}"
    layout.rows.append(row)


def expected_tasks(sections: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """The tasks as validate must return them, with `loai` from the sections given."""
    out = []
    current = None
    for i, task in enumerate(TASKS):
        if sections and i in sections:
            current = sections[i].split(". ", 1)[-1]
        out.append({**task, "loai": current})
    return out
