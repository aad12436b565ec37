"""Phụ lục 1 laid out the way Vietnamese offices lay it out, written by LibreOffice.

Every fixture holds the same five tasks (`TASKS`, in million VND), laid out another way: the national
header block (ministry over unit, beside "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), "Đơn vị tính: …",
a two-row header with a numbering row, sections "I." / "II." with `=SUM()` sub-totals, sub-sections
"1." / "2.1" as group rows, the "Tổng cộng" row as a formula (at the bottom, or at the top as budget
tables often have it), a signature block; months as real dates formatted MM/YYYY or as text; amounts
in đồng or nghìn đồng; a hidden row and a hidden column holding stale values.

`EXPECTED[name]` gives, per fixture, the organisation and each task's `loai` as mailbot must read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from tests.office import convert
from tests.office_fixtures.flat_ods import Cell, Row, Sheet, cell, formula, month, write_fods

UNIT = "VIỆN NGHIÊN CỨU DA - GIẦY"
MINISTRY = "BỘ CÔNG THƯƠNG"
CARRIED, NEW = "Nhiệm vụ chuyển tiếp", "Nhiệm vụ mở mới"

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
        "ghi_chu": "Chuyển tiếp từ năm 2023",
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
    },
    {
        "stt": 4,
        "ten_nhiem_vu": "Xây dựng mô hình sản xuất sạch hơn tại doanh nghiệp thuộc da",
        "dinh_huong": 4,
        "muc_tieu": "Giảm 15% tiêu thụ hoá chất tại 3 doanh nghiệp",
        "noi_dung": "Đánh giá sản xuất sạch hơn; áp dụng giải pháp",
        "san_pham": "03 mô hình; báo cáo đánh giá",
        "don_vi_chu_tri": "Viện Nghiên cứu Da - Giày",
        "don_vi_phoi_hop": None,
        "bat_dau": "2024-04",
        "ket_thuc": "2024-12",
        "kinh_phi_tong": 1200.0,
        "kinh_phi_nsnn": 900.0,
        "kinh_phi_khac": 300.0,
        "ghi_chu": None,
    },
    {
        "stt": 5,
        "ten_nhiem_vu": "Hướng dẫn kỹ thuật sử dụng hiệu quả tài nguyên trong ngành giày",
        "dinh_huong": 5,
        "muc_tieu": "Ban hành 01 hướng dẫn kỹ thuật",
        "noi_dung": "Biên soạn, lấy ý kiến và phổ biến hướng dẫn",
        "san_pham": "Tài liệu hướng dẫn kỹ thuật",
        "don_vi_chu_tri": "Viện Nghiên cứu Da - Giày",
        "don_vi_phoi_hop": "Trường Đại học Bách khoa Hà Nội",
        "bat_dau": "2024-05",
        "ket_thuc": "2024-09",
        "kinh_phi_tong": 450.0,
        "kinh_phi_nsnn": 450.0,
        "kinh_phi_khac": 0.0,
        "ghi_chu": None,
    },
]

#: Sections: (title, indexes of its tasks).
SECTIONS = [(CARRIED, [0, 1]), (NEW, [2, 3, 4])]
#: Sub-sections of the "groups" fixture: (section, number, title, indexes of its tasks).
GROUPS = [
    (0, "1.", "Lĩnh vực truyền thông", [0]),
    (0, "2.", "Lĩnh vực định mức", [1]),
    (1, "1.", "Kinh tế tuần hoàn", [2]),
    (1, "2.", "Sản xuất sạch hơn và hướng dẫn kỹ thuật", [3, 4]),
    (1, "2.1", "Sản xuất sạch hơn", [3]),
    (1, "2.2", "Hướng dẫn kỹ thuật", [4]),
]

KEYS = list(TASKS[0])
MONEY = ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac")
HEADERS = {
    "stt": "STT",
    "ten_nhiem_vu": "Tên nhiệm vụ",
    "dinh_huong": "Định hướng",
    "muc_tieu": "Mục tiêu",
    "noi_dung": "Nội dung chính",
    "san_pham": "Sản phẩm dự kiến",
    "don_vi_chu_tri": "Đơn vị chủ trì",
    "don_vi_phoi_hop": "Đơn vị phối hợp",
    "ghi_chu": "Ghi chú",
}
ROMAN = ["I", "II", "III", "IV"]


@dataclass
class Shape:
    """How one fixture lays the plan out."""

    unit_line: str = "Đơn vị tính: triệu đồng"
    money_header: str = "Kinh phí dự kiến (triệu đồng)"
    factor: float = 1.0  # amounts are written as million VND × factor
    header_block: str = "two_lines"  # two_lines | one_cell | none
    org_lines: list[str] = field(default_factory=list)  # "Tên đơn vị: …" lines above the title
    groups: bool = False
    total_on_top: bool = False
    months: str = "dates"  # dates | text
    signature_unit: str | None = None
    hidden_row: bool = False
    hidden_column: bool = False
    wrong_subtotal: float | None = None  # written instead of section I's sub-total of kinh_phi_tong
    formats: tuple[str, ...] = ("xlsx",)


STALE = "stale"  # a hidden "Tổng kinh phí" column left of the visible one, holding old figures


def keys_of(shape: Shape) -> list[str]:
    """The columns of a shape, left to right."""
    if not shape.hidden_column:
        return KEYS
    at = KEYS.index("kinh_phi_tong")
    return [*KEYS[:at], STALE, *KEYS[at:]]


def column_letter(shape: Shape, key: str) -> str:
    return chr(ord("A") + keys_of(shape).index(key))


def _money(value: float | None, shape: Shape) -> float | None:
    return None if value is None else round(value * shape.factor, 6)


#: Months written as quarters in the text-months fixture: (task index, key) → text.
QUARTERS = {(0, "bat_dau"): "Quý I/2024", (0, "ket_thuc"): "Quý IV/2024", (3, "bat_dau"): "Quý II/2024"}


def _month(value: str, key: str, index: int, shape: Shape) -> Cell | str:
    year, mm = (int(part) for part in value.split("-"))
    if shape.months == "dates":
        return month(date(year, mm, 1))
    quarter = QUARTERS.get((index, key))
    if quarter:
        return quarter
    forms = [f"{mm:02d}/{year}", f"T{mm}/{year}", f"Tháng {mm}/{year}"]
    return forms[(index + (key == "ket_thuc")) % len(forms)]


def _task_row(index: int, shape: Shape) -> list[Any]:
    task = {**TASKS[index], STALE: 9999}
    row: list[Any] = []
    for key in keys_of(shape):
        value = task[key]
        if key in MONEY:
            value = _money(value, shape)
        elif key in ("bat_dau", "ket_thuc"):
            value = _month(value, key, index, shape)
        row.append(value)
    return row


def _banner(left: Cell, right: Cell) -> Row:
    """A row of the national header block: the unit's cell at A, the national motto's at I."""
    return Row([left, *[None] * 7, right])


def _header_rows(shape: Shape) -> list[Row]:
    width = len(KEYS)
    left = 5
    rows: list[Row] = []
    if shape.header_block == "two_lines":
        for unit_line, national_line in ((MINISTRY, NATIONAL), (UNIT, MOTTO), ("Số: 125/VDG-KH", PLACE_DATE)):
            rows.append(_banner(cell(unit_line, colspan=left), cell(national_line, colspan=width - 8)))
    elif shape.header_block == "one_cell":
        block = f"{MINISTRY}\n{UNIT}\n-------"
        national = f"{NATIONAL}\n{MOTTO}\n---------------"
        rows.append(_banner(cell(block, colspan=left, rowspan=2), cell(national, colspan=width - 8)))
        rows.append(Row([None] * 8 + [cell(PLACE_DATE, colspan=width - 8)]))
    rows.append(Row([]))
    rows.append(Row([cell("PHỤ LỤC 1", colspan=width)]))
    rows.append(Row([cell("DANH MỤC NHIỆM VỤ ĐỀ XUẤT NĂM 2024", colspan=width)]))
    rows += [Row([line]) for line in shape.org_lines]
    rows.append(Row([None] * (width - 3) + [cell(shape.unit_line, colspan=3)]))
    return rows


NATIONAL = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
PLACE_DATE = "Hà Nội, ngày 10 tháng 4 năm 2023"


CHILDREN = {
    "bat_dau": "Bắt đầu",
    "ket_thuc": "Kết thúc",
    "kinh_phi_tong": "Tổng",
    "kinh_phi_nsnn": "NSNN",
    "kinh_phi_khac": "Nguồn khác",
}


def _table_header(shape: Shape) -> list[Row]:
    """Two header rows (merged parents over children) and the numbering row (1) … (14)."""
    parents: list[Any] = []
    keys = keys_of(shape)
    for key in keys:
        if key == STALE:
            parents.append(cell("Tổng kinh phí", rowspan=2))
        elif key in HEADERS:
            parents.append(cell(HEADERS[key], rowspan=2))
        elif key == "bat_dau":
            parents.append(cell("Thời gian thực hiện", colspan=2))
        elif key == "kinh_phi_tong":
            parents.append(cell(shape.money_header, colspan=3))
        else:
            parents.append(None)
    children = [CHILDREN.get(key) for key in keys]
    numbering = [f"({n + 1})" for n in range(len(keys))]
    return [Row(parents), Row(children), Row(numbering)]


class _Writer:
    """Lays out the rows and remembers where each task landed (1-based sheet rows)."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.rows: list[Row] = _header_rows(shape)
        self.rows += _table_header(shape)
        self.task_rows: dict[int, int] = {}
        self.section_rows: list[int] = []

    def sum_of(self, rows: list[int], key: str) -> Cell:
        letter = column_letter(self.shape, key)
        terms = ";".join(f"[.{letter}{r}]" for r in rows)
        return formula(f"of:=SUM({terms})")

    def group_row(self, number: str, title: str, task_indexes: list[int], wrong: float | None = None) -> int:
        at = len(self.rows) + 1
        # the rows of the group's tasks are known only once they are written: fill the formulas afterwards
        self.rows.append(Row([number, title]))
        self.pending.append((at, task_indexes, wrong))
        return at

    def write(self) -> Sheet:
        shape = self.shape
        self.pending: list[tuple[int, list[int], float | None]] = []
        total_at = None
        if shape.total_on_top:
            self.rows.append(Row([]))
            total_at = len(self.rows)
        for s, (title, indexes) in enumerate(SECTIONS):
            wrong = shape.wrong_subtotal if s == 0 else None
            self.section_rows.append(self.group_row(ROMAN[s], title, indexes, wrong))
            for index in indexes:
                for section, number, group_title, members in GROUPS if shape.groups else []:
                    if section == s and members[0] == index:
                        self.group_row(number, group_title, members)
                self.rows.append(Row(_task_row(index, shape)))
                self.task_rows[index] = len(self.rows)
            if shape.hidden_row and s == 1:
                stale = _task_row(4, shape)
                stale[0], stale[1] = 6, "Nhiệm vụ đã bỏ (dòng ẩn)"
                self.rows.append(Row(stale, hidden=True))
        self._fill_groups()
        total = self._total_row()
        if total_at is None:
            self.rows.append(total)
        else:
            self.rows[total_at - 1] = total
        self.rows += self._signature()
        return self._sheet()

    def _fill_groups(self) -> None:
        for at, indexes, wrong in self.pending:
            row = self.rows[at - 1]
            keys = keys_of(self.shape)
            cells = list(row.cells) + [None] * (len(keys) - len(row.cells))
            for key in MONEY:
                rows = [self.task_rows[i] for i in indexes]
                cells[keys.index(key)] = self.sum_of(rows, key)
            if wrong is not None:
                cells[keys.index("kinh_phi_tong")] = _money(wrong, self.shape)
            row.cells = cells

    def _total_row(self) -> Row:
        keys = keys_of(self.shape)
        cells: list[Any] = [None, "Tổng cộng"] + [None] * (len(keys) - 2)
        for key in MONEY:
            letter = column_letter(self.shape, key)
            cells[keys.index(key)] = formula("of:=" + "+".join(f"[.{letter}{r}]" for r in self.section_rows))
        return Row(cells)

    def _signature(self) -> list[Row]:
        right = len(KEYS) - 5
        lines = [["", *[None] * (right - 1), cell(PLACE_DATE, colspan=5)]]
        if self.shape.signature_unit:
            lines.append([None] * right + [cell(f"TM. {self.shape.signature_unit}", colspan=5)])
        lines.append([None, "Người lập biểu", *[None] * (right - 2), cell("THỦ TRƯỞNG ĐƠN VỊ", colspan=5)])
        lines.append([None, "(Ký, ghi rõ họ tên)", *[None] * (right - 2), cell("(Ký tên, đóng dấu)", colspan=5)])
        lines.append([None, "Trần Thị B", *[None] * (right - 2), cell("Nguyễn Văn A", colspan=5)])
        return [Row([]), *(Row(line) for line in lines)]

    def _sheet(self) -> Sheet:
        widths = [1.2, 7.0, 3.0, 5.0, 6.0, 5.0, 4.5, 4.5, 2.5, 2.5, 2.8, 2.8, 2.8, 3.5]
        hidden = {keys_of(self.shape).index(STALE)} if self.shape.hidden_column else set()
        if hidden:
            widths.insert(min(hidden), 2.8)
        return Sheet("Phụ lục 1", self.rows, widths=widths, hidden_cols=hidden)


def layout(shape: Shape) -> tuple[Sheet, dict[int, int]]:
    """The sheet of a shape, and the 1-based sheet row of each task."""
    writer = _Writer(shape)
    sheet = writer.write()
    return sheet, writer.task_rows


SHAPES: dict[str, Shape] = {
    # national header (ministry / unit), ĐVT triệu đồng, sections with SUM sub-totals, months as dates
    "office_plan": Shape(formats=("xlsx", "xls", "ods")),
    # "Đơn vị: triệu đồng", "Đơn vị đề xuất:", total at the top, sub-sections 1. / 2.1, months as text
    "office_plan_groups": Shape(
        unit_line="Đơn vị: triệu đồng",
        header_block="none",
        org_lines=["Đơn vị đề xuất: Viện Nghiên cứu Da - Giày"],
        groups=True,
        total_on_top=True,
        months="text",
    ),
    # amounts in đồng, the header block in one merged multi-line cell, a hidden row and a hidden column
    "office_plan_dong": Shape(
        unit_line="ĐVT: đồng",
        money_header="Kinh phí dự kiến (đồng)",
        factor=1_000_000,
        header_block="one_cell",
        hidden_row=True,
        hidden_column=True,
        formats=("xlsx", "xls"),
    ),
    # amounts in nghìn đồng; the unit named only in the signature block
    "office_plan_nghin": Shape(
        unit_line="Đơn vị tính: nghìn đồng",
        money_header="Kinh phí dự kiến (nghìn đồng)",
        factor=1000,
        header_block="none",
        signature_unit="VIỆN NGHIÊN CỨU DA - GIẦY",
    ),
    # a unit of measure mailbot cannot convert
    "office_plan_usd": Shape(
        unit_line="Đơn vị tính: USD", header_block="none", org_lines=["Tên đơn vị: Viện Nghiên cứu Da - Giày"]
    ),
    # section I's sub-total of the total budget is wrong (3.000 instead of 3.500,5)
    "office_plan_bad_subtotal": Shape(wrong_subtotal=3000.0),
}

#: What mailbot must read from each fixture: the organisation and each task's `loai`.
EXPECTED: dict[str, dict[str, Any]] = {
    "office_plan": {"organization": UNIT},
    "office_plan_groups": {"organization": "Viện Nghiên cứu Da - Giày"},
    "office_plan_dong": {"organization": UNIT},
    "office_plan_nghin": {"organization": UNIT},
    "office_plan_usd": {"organization": "Viện Nghiên cứu Da - Giày"},
    "office_plan_bad_subtotal": {"organization": UNIT},
}


def expected_tasks() -> list[dict[str, Any]]:
    """TASKS with the `loai` of their section."""
    loai = {i: title for title, indexes in SECTIONS for i in indexes}
    return [{**task, "loai": loai[i]} for i, task in enumerate(TASKS)]


def _maker(name: str, shape: Shape) -> Callable[[Path], list[Path]]:
    def make(work: Path) -> list[Path]:
        sheet, _rows = layout(replace(shape))
        source = write_fods(work / f"{name}.fods", [sheet])
        return [convert(source, fmt, work / "out") for fmt in shape.formats]

    return make


FIXTURES = {name: _maker(name, shape) for name, shape in SHAPES.items()}
