"""A 14-task Phụ lục 1 laid out the office way, saved by LibreOffice in every format offices send.

The national header block (the ministry and the unit top-left, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM /
Độc lập - Tự do - Hạnh phúc" top-right), "Đơn vị tính: triệu đồng", a two-row header with "Thời gian thực
hiện" and "Kinh phí dự kiến (triệu đồng)" merged over their columns, the sections "I. Nhiệm vụ chuyển tiếp" /
"II. Nhiệm vụ mở mới" with sub-totals, a "Tổng cộng" row, and the signature block "THỦ TRƯỞNG ĐƠN VỊ
(Ký tên, đóng dấu)".

- `plan14_sheet`: a flat ODS whose sub-totals and total are =SUM() formulas (LibreOffice computes them
  when it saves), saved as .xlsx, .xls and .ods; the .fods source is kept too.
- `plan14_word`: the same plan as a Word table (the header block a borderless two-column table above it,
  as offices lay it out), saved as .docx, .doc, .odt and .rtf; the .fodt source is kept too.

TASKS is what was written, field by field (bat_dau/ket_thuc as the reader gives them: "YYYY-MM").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailbot.model import TASK_FIELDS
from tests.office import convert
from tests.office_fixtures.flat_ods import Row, Sheet, cell, formula, write_fods
from tests.office_fixtures.flat_odt import Cell, FlatOdt

MINISTRY = "BỘ CÔNG THƯƠNG"
ORGANIZATION = "VIỆN NGHIÊN CỨU DA - GIÀY"
SHEET = "Phụ lục 1"
SECTIONS = ("Nhiệm vụ chuyển tiếp", "Nhiệm vụ mở mới")
SIGNER = "Nguyễn Văn An"


def _task(stt: int, name: str, orientation: int, months: tuple[int, int], nsnn: float, other: float) -> dict[str, Any]:
    return {
        "stt": stt,
        "ten_nhiem_vu": name,
        "dinh_huong": orientation,
        "muc_tieu": f"Mục tiêu của nhiệm vụ {stt}: 200 doanh nghiệp áp dụng",
        "noi_dung": f"Khảo sát, xây dựng tài liệu và tổ chức {stt + 2} hội thảo",
        "san_pham": "Báo cáo tổng hợp; tài liệu hướng dẫn",
        "don_vi_chu_tri": "Viện Nghiên cứu Da - Giày",
        "don_vi_phoi_hop": "Hiệp hội Da - Giày - Túi xách Việt Nam" if stt % 3 else None,
        "bat_dau": f"2024-{months[0]:02d}",
        "ket_thuc": f"2024-{months[1]:02d}",
        "kinh_phi_tong": nsnn + other,
        "kinh_phi_nsnn": nsnn,
        "kinh_phi_khac": other or None,
        "ghi_chu": "Tiếp tục từ năm 2023" if stt <= 5 else None,
    }


#: Five continuing tasks, then nine new ones.
TASKS: list[dict[str, Any]] = [
    _task(
        1,
        "Truyền thông nâng cao nhận thức về sản xuất và tiêu dùng bền vững cho doanh nghiệp da giày",
        1,
        (1, 12),
        800,
        200,
    ),
    _task(2, "Xây dựng định mức tiêu hao nguyên vật liệu ngành da giày", 3, (1, 10), 1200, 0),
    _task(3, "Mô hình thu hồi và tái chế phế liệu da tại khu công nghiệp", 6, (2, 11), 950.5, 150),
    _task(4, "Hướng dẫn kỹ thuật sử dụng hiệu quả hoá chất thuộc da", 5, (1, 9), 600, 100),
    _task(5, "Sản xuất sạch hơn trong các cơ sở thuộc da quy mô nhỏ", 4, (3, 12), 700, 300),
    _task(6, "Phân phối xanh cho sản phẩm giày dép xuất khẩu", 7, (4, 12), 500, 0),
    _task(7, "Nhãn sinh thái cho sản phẩm túi xách", 8, (2, 8), 450, 50),
    _task(8, "Cơ sở dữ liệu về sản xuất bền vững ngành da giày", 9, (5, 12), 1000, 0),
    _task(9, "Kinh tế tuần hoàn trong chuỗi cung ứng da", 10, (1, 12), 1500, 500),
    _task(10, "Đào tạo cán bộ kỹ thuật về sản xuất sạch hơn", 4, (6, 11), 300, 0),
    _task(11, "Mô hình sản xuất bền vững tại làng nghề da", 2, (3, 10), 850, 150),
    _task(12, "Truyền thông về tiêu dùng bền vững trên báo điện tử", 1, (7, 12), 250.25, 0),
    _task(13, "Thu hồi nhiệt thải lò hơi tại nhà máy thuộc da", 6, (2, 12), 1100, 400),
    _task(14, "Định mức tiêu hao năng lượng cho dây chuyền may mũ giày", 3, (1, 6), 400, 0),
]
CONTINUING = 5  # tasks 1–5 are "I. Nhiệm vụ chuyển tiếp", 6–14 "II. Nhiệm vụ mở mới"

_KEYS = [key for key in TASK_FIELDS if key != "loai"]  # the form's columns, in order
_MONEY = ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac")
_FIRST_MONEY = _KEYS.index("kinh_phi_tong")  # column K
_WIDTH = len(_KEYS)  # A..N


def _month(value: str) -> str:
    year, month = value.split("-")
    return f"{month}/{year}"


def _written(task: dict[str, Any], key: str) -> Any:
    value = task[key]
    return _month(value) if key in ("bat_dau", "ket_thuc") else value


def _amount(tasks: list[dict[str, Any]], key: str) -> float:
    return sum(t[key] or 0 for t in tasks)


def _number(value: float) -> str:
    """A Vietnamese-written amount for the Word table: 1.150,5."""
    whole, _, decimals = f"{value:.2f}".rstrip("0").rstrip(".").partition(".")
    text = f"{int(whole):,}".replace(",", ".")
    return f"{text},{decimals}" if decimals else text


# --- the spreadsheet --------------------------------------------------------------------------------


def _header_rows() -> list[list[Any]]:
    top: list[Any] = [
        cell("STT", rowspan=2, bold=True),
        cell("Tên nhiệm vụ", rowspan=2, bold=True),
        cell("Định hướng", rowspan=2, bold=True),
        cell("Mục tiêu", rowspan=2, bold=True),
        cell("Nội dung chính", rowspan=2, bold=True),
        cell("Sản phẩm dự kiến", rowspan=2, bold=True),
        cell("Đơn vị chủ trì", rowspan=2, bold=True),
        cell("Đơn vị phối hợp", rowspan=2, bold=True),
        cell("Thời gian thực hiện", colspan=2, bold=True),
        None,
        cell("Kinh phí dự kiến (triệu đồng)", colspan=3, bold=True),
        None,
        None,
        cell("Ghi chú", rowspan=2, bold=True),
    ]
    second: list[Any] = [None] * 8 + ["Bắt đầu", "Kết thúc", "Tổng", "NSNN", "Nguồn khác", None]
    return [top, second]


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _sheet_rows() -> list[Row]:
    blank: list[Any] = [None] * _WIDTH
    rows = [
        Row(
            [
                cell(MINISTRY, colspan=5, bold=True),
                *[None] * 7,
                cell("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", colspan=6, bold=True),
                *[None] * 5,
            ]
        ),
        Row(
            [
                cell(ORGANIZATION, colspan=5, bold=True),
                *[None] * 7,
                cell("Độc lập - Tự do - Hạnh phúc", colspan=6, bold=True),
                *[None] * 5,
            ]
        ),
        Row(blank),
        Row([cell("DANH MỤC NHIỆM VỤ ĐỀ XUẤT NĂM 2024", colspan=_WIDTH, bold=True), *[None] * (_WIDTH - 1)]),
        Row(
            [
                cell("(Thực hiện Chương trình hành động quốc gia về sản xuất và tiêu dùng bền vững)", colspan=_WIDTH),
                *[None] * (_WIDTH - 1),
            ]
        ),
        Row([*[None] * 11, cell("Đơn vị tính: triệu đồng", colspan=3), None, None]),
        *(Row(r) for r in _header_rows()),
    ]
    section_rows: list[int] = []
    groups = [(("I", SECTIONS[0]), TASKS[:CONTINUING]), (("II", SECTIONS[1]), TASKS[CONTINUING:])]
    for (roman, title), tasks in groups:
        at = len(rows) + 1  # 1-based row of the section
        section_rows.append(at)
        first, last = at + 1, at + len(tasks)
        sums = [
            formula(f"of:=SUM([.{_letter(c)}{first}:.{_letter(c)}{last}])")
            for c in range(_FIRST_MONEY, _FIRST_MONEY + 3)
        ]
        rows.append(Row([cell(roman, bold=True), cell(title, bold=True), *[None] * 8, *sums, None]))
        rows.extend(Row([_written(task, key) for key in _KEYS]) for task in tasks)
    totals = [
        formula("of:=" + "+".join(f"[.{_letter(c)}{r}]" for r in section_rows))
        for c in range(_FIRST_MONEY, _FIRST_MONEY + 3)
    ]
    rows.append(Row([None, cell("Tổng cộng", bold=True), *[None] * 8, *totals, None]))
    rows.append(Row(blank))
    rows.append(Row([*[None] * 8, cell("Hà Nội, ngày 10 tháng 4 năm 2023", colspan=6), *[None] * 5]))
    rows.append(Row([*[None] * 8, cell("THỦ TRƯỞNG ĐƠN VỊ", colspan=6, bold=True), *[None] * 5]))
    rows.append(Row([*[None] * 8, cell("(Ký tên, đóng dấu)", colspan=6), *[None] * 5]))
    rows.extend([Row(blank), Row(blank)])
    rows.append(Row([*[None] * 8, cell(SIGNER, colspan=6, bold=True), *[None] * 5]))
    return rows


def sheet_source(work: Path) -> Path:
    widths = [1.2, 6.0, 2.0, 4.5, 4.5, 4.0, 4.0, 4.0, 2.2, 2.2, 2.4, 2.4, 2.4, 3.0]
    return write_fods(work / "plan14.fods", [Sheet(SHEET, rows=_sheet_rows(), widths=widths)])


def make_sheet(work: Path) -> list[Path]:
    source = sheet_source(work)
    return [source, *(convert(source, fmt, work / "out") for fmt in ("xlsx", "xls", "ods"))]


# --- the Word table ---------------------------------------------------------------------------------


def _word_header() -> list[list[str | Cell | None]]:
    top: list[str | Cell | None] = [
        Cell("STT", rowspan=2, bold=True),
        Cell("Tên nhiệm vụ", rowspan=2, bold=True),
        Cell("Định hướng", rowspan=2, bold=True),
        Cell("Mục tiêu", rowspan=2, bold=True),
        Cell("Nội dung chính", rowspan=2, bold=True),
        Cell("Sản phẩm dự kiến", rowspan=2, bold=True),
        Cell("Đơn vị chủ trì", rowspan=2, bold=True),
        Cell("Đơn vị phối hợp", rowspan=2, bold=True),
        Cell("Thời gian thực hiện", colspan=2, bold=True),
        Cell("Kinh phí dự kiến (triệu đồng)", colspan=3, bold=True),
        Cell("Ghi chú", rowspan=2, bold=True),
    ]
    second: list[str | Cell | None] = ["Bắt đầu", "Kết thúc", "Tổng", "NSNN", "Nguồn khác"]  # the rest is covered
    return [top, second]


def _word_value(task: dict[str, Any], key: str) -> str:
    value = _written(task, key)
    if value is None:
        return ""
    return _number(value) if key in _MONEY else str(value)


def _word_rows() -> list[list[str | Cell | None]]:
    rows = _word_header()
    groups = [(("I", SECTIONS[0]), TASKS[:CONTINUING]), (("II", SECTIONS[1]), TASKS[CONTINUING:])]
    for (roman, title), tasks in groups:
        sums = [_number(_amount(tasks, key)) for key in _MONEY]
        rows.append([Cell(roman, bold=True), Cell(title, bold=True), *[""] * 8, *sums, ""])
        rows.extend([_word_value(task, key) for key in _KEYS] for task in tasks)
    totals = [_number(_amount(TASKS, key)) for key in _MONEY]
    rows.append(["", Cell("Tổng cộng", bold=True), *[""] * 8, *totals, ""])
    return rows


def word_source(work: Path) -> Path:
    doc = FlatOdt(size_pt=12).landscape()
    doc.table(
        [
            [Cell(MINISTRY, bold=True), Cell("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True)],
            [Cell(ORGANIZATION, bold=True), Cell("Độc lập - Tự do - Hạnh phúc", bold=True)],
        ],
        column_widths_cm=[10.0, 15.0],
        name="QuocHieu",
    )
    doc.paragraph("DANH MỤC NHIỆM VỤ ĐỀ XUẤT NĂM 2024", bold=True, align="center")
    doc.paragraph("(Thực hiện Chương trình hành động quốc gia về sản xuất và tiêu dùng bền vững)", align="center")
    doc.paragraph("Đơn vị tính: triệu đồng", align="end")
    widths = [1.0, 4.0, 1.6, 2.6, 2.6, 2.2, 2.2, 2.2, 1.5, 1.5, 1.6, 1.6, 1.6, 1.8]
    doc.table(_word_rows(), header_rows=2, column_widths_cm=widths, name="PhuLuc1")
    doc.paragraph("Hà Nội, ngày 10 tháng 4 năm 2023", align="end")
    doc.paragraph("THỦ TRƯỞNG ĐƠN VỊ", bold=True, align="end")
    doc.paragraph("(Ký tên, đóng dấu)", align="end")
    doc.paragraph(SIGNER, bold=True, align="end")
    return doc.write(work / "plan14.fodt")


def make_word(work: Path) -> list[Path]:
    source = word_source(work)
    return [source, *(convert(source, fmt, work / "out") for fmt in ("docx", "doc", "odt", "rtf"))]


# --- a plain table with one wrong sum, to see where a finding points after conversion -------------------

WRONG_SHEET = "Danh mục"  # not the template's sheet name: the name must survive the conversion
WRONG_TASK = 1  # the second task's Tổng is 100 more than NSNN + Nguồn khác
_LABELS = [
    "STT",
    "Tên nhiệm vụ",
    "Định hướng",
    "Mục tiêu",
    "Nội dung chính",
    "Sản phẩm dự kiến",
    "Đơn vị chủ trì",
    "Đơn vị phối hợp",
    "Thời gian bắt đầu",
    "Thời gian kết thúc",
    "Tổng kinh phí (triệu đồng)",
    "Ngân sách nhà nước (NSNN)",
    "Nguồn khác",
    "Ghi chú",
]


def _wrong_values(i: int, task: dict[str, Any]) -> list[Any]:
    values = [_written(task, key) for key in _KEYS]
    if i == WRONG_TASK:
        values[_FIRST_MONEY] += 100
    return values


def make_wrong_sum(work: Path) -> list[Path]:
    """Three tasks under a one-row header, the second one's total wrong: as .ods (sheet "Danh mục") and .doc."""
    rows = [Row([f"Tên đơn vị: {ORGANIZATION}"]), Row(list(_LABELS))]
    rows += [Row(_wrong_values(i, task)) for i, task in enumerate(TASKS[:3])]
    sheet = write_fods(work / "sai_tong.fods", [Sheet(WRONG_SHEET, rows=rows)])
    doc = FlatOdt(size_pt=11).landscape().paragraph(f"Tên đơn vị: {ORGANIZATION}")
    table: list[list[str | Cell | None]] = [list(_LABELS)]
    table += [
        [
            "" if v is None else _number(v) if isinstance(v, float | int) and k in _MONEY else str(v)
            for k, v in zip(_KEYS, _wrong_values(i, t), strict=True)
        ]
        for i, t in enumerate(TASKS[:3])
    ]
    text = doc.table(table).write(work / "sai_tong.fodt")
    return [convert(sheet, "ods", work / "out"), convert(text, "doc", work / "out")]


FIXTURES = {"plan14_sheet": make_sheet, "plan14_word": make_word, "wrong_sum": make_wrong_sum}
