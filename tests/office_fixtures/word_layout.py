"""Word documents laid out the way offices lay them out, written by LibreOffice (see tests/make_office_fixtures.py).

- `phu_luc_1_split`: Phụ lục 1 as a Word table on landscape pages: a two-row header with merged cells,
  repeated on every page (table:table-header-rows); the table split in three: by a page break (the second
  part repeats the header) and by a paragraph "(tiếp theo)" (the third part has no header); a total row.
- `phu_luc_2_numbered`: every task's thuyết minh, its ten headings numbered by automatic list numbering
  (the "1." is not in the text); the budget in a dự toán table's total row, in figures and words, in tỷ,
  or in words only.
- `legacy_tcvn3` / `legacy_vni`: Phụ lục 1 typed in ".VnTime"/".VnTimeH" (TCVN3) or "VNI-Times" (VNI)
  fonts, as a Word table (.docx) and as a sheet (.xlsx, .xls).

The tasks and texts are in this module (TASKS, DESCRIPTIONS), so the tests compare what was read with
what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from mailbot.readers.legacy_vn import _FROM_VNI, _TCVN3_OF
from tests.builders.submissions import COLUMNS, ORGANIZATION
from tests.builders.submissions import TASKS as BASE_TASKS
from tests.office import convert
from tests.office_fixtures.flat_odt import Cell, FlatOdt, ListItem, Run

_ORIENTATIONS = (1, 3, 10)
_EXTRA_NAMES = (
    "Đánh giá vòng đời sản phẩm giày thể thao xuất khẩu",
    "Hướng dẫn sản xuất sạch hơn cho cơ sở thuộc da",
    "Xây dựng cơ sở dữ liệu phát thải ngành da giày",
    "Thí điểm nhãn sinh thái cho sản phẩm túi xách",
    "Đào tạo cán bộ quản lý năng lượng ngành da giày",
    "Nghiên cứu vật liệu thay thế da thuộc bằng sợi tái chế",
    "Truyền thông tiêu dùng bền vững cho người tiêu dùng trẻ",
    "Khảo sát hiện trạng thu gom phế liệu giày dép",
    "Xây dựng sổ tay thiết kế sinh thái cho doanh nghiệp nhỏ",
)
#: Budgets (total, state, other), chosen so each budget style of Phụ lục 2 has its amount.
_EXTRA_BUDGETS = (
    (500.0, 500.0, None),
    (1200.0, 1000.0, 200.0),
    (750.0, 600.0, 150.0),
    (300.0, 300.0, None),
    (500.0, 400.0, 100.0),
    (1200.0, 1200.0, None),
    (750.0, 750.0, None),
    (900.0, 600.0, 300.0),
    (450.0, 450.0, None),
)


def _extra_task(i: int, name: str) -> dict[str, Any]:
    total, state, other = _EXTRA_BUDGETS[i]
    return {
        "stt": 4 + i,
        "ten_nhiem_vu": name,
        "dinh_huong": _ORIENTATIONS[i % 3],
        "muc_tieu": f"Mục tiêu của nhiệm vụ số {4 + i}",
        "noi_dung": f"Khảo sát, phân tích và đề xuất giải pháp (nội dung {4 + i})",
        "san_pham": "Báo cáo tổng hợp",
        "don_vi_chu_tri": ORGANIZATION,
        "don_vi_phoi_hop": "Hiệp hội Da - Giày - Túi xách Việt Nam" if i % 2 else None,
        "bat_dau": f"2024-{1 + i % 3:02d}",
        "ket_thuc": f"2024-{10 + i % 3:02d}",
        "kinh_phi_tong": total,
        "kinh_phi_nsnn": state,
        "kinh_phi_khac": other,
        "ghi_chu": "Nhiệm vụ mới" if i % 3 == 0 else None,
        "loai": None,
    }


#: Twelve tasks: enough rows for the table to run over pages.
TASKS: list[dict[str, Any]] = [dict(t) for t in BASE_TASKS] + [
    _extra_task(i, name) for i, name in enumerate(_EXTRA_NAMES)
]
KEYS = [c[0] for c in COLUMNS]


def _money(value: float | None) -> str:
    if value is None:
        return ""
    whole = f"{int(value):,}".replace(",", ".")
    return whole + (f",{str(value).split('.')[1]}" if value != int(value) else "")


def _cell_text(task: dict[str, Any], key: str) -> str:
    value = task[key]
    if value is None:
        return ""
    if key.startswith("kinh_phi"):
        return _money(value)
    if key in ("bat_dau", "ket_thuc"):
        year, month = value.split("-")
        return f"{month}/{year}"
    return str(value)


def header_rows() -> list[list[str | Cell | None]]:
    """The two header rows: single columns merged down, the time and budget groups merged across."""
    top: list[str | Cell | None] = []
    bottom: list[str | Cell | None] = []
    for c, (_key, _label, group, child) in enumerate(COLUMNS):
        if group is None:
            top.append(Cell(child, rowspan=2))
        elif c == 0 or COLUMNS[c - 1][2] != group:
            top.append(Cell(group, colspan=sum(1 for col in COLUMNS if col[2] == group)))
        if group is not None:
            bottom.append(child)
    return [top, bottom]


def task_row(task: dict[str, Any]) -> list[str | Cell | None]:
    return [_cell_text(task, key) for key in KEYS]


def total_row(tasks: list[dict[str, Any]]) -> list[str | Cell | None]:
    row: list[str | Cell | None] = ["", "Tổng cộng"] + [""] * (len(KEYS) - 2)
    for key in ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac"):
        row[KEYS.index(key)] = _money(sum(t[key] or 0.0 for t in tasks))
    return row


def _national_header(doc: FlatOdt) -> None:
    doc.paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, align="center")
    doc.paragraph("Độc lập - Tự do - Hạnh phúc", align="center")
    doc.paragraph("PHỤ LỤC 1", bold=True, align="center")
    doc.paragraph("DANH MỤC NHIỆM VỤ ĐỀ XUẤT NĂM 2024", bold=True, align="center")
    doc.paragraph(f"Tên đơn vị: {ORGANIZATION}")


#: (first task, last task + 1) of the three parts of the split table.
SPLIT_PARTS = ((0, 7), (7, 10), (10, 12))
_WIDTHS = [1.0, 3.5, 1.4, 2.4, 2.6, 2.2, 2.0, 2.0, 1.4, 1.4, 1.4, 1.4, 1.4, 1.6]


def phu_luc_1_split(work: Path) -> list[Path]:
    doc = FlatOdt()
    doc.landscape()
    _national_header(doc)
    (a, b), (c, d), (e, f) = SPLIT_PARTS
    header = header_rows()
    doc.table(header + [task_row(t) for t in TASKS[a:b]], header_rows=2, column_widths_cm=_WIDTHS)
    doc.page_break()
    doc.table(header + [task_row(t) for t in TASKS[c:d]], header_rows=2, column_widths_cm=_WIDTHS)
    doc.paragraph("(tiếp theo)")
    doc.table([task_row(t) for t in TASKS[e:f]] + [total_row(TASKS)], column_widths_cm=_WIDTHS)
    doc.paragraph("Thủ trưởng đơn vị", align="right")
    doc.paragraph("(Ký tên, đóng dấu)", align="right")
    doc.portrait()
    doc.paragraph("Ghi chú: kinh phí tính bằng triệu đồng.")
    return [convert(doc.write(work / "phu_luc_1_split.fodt"), "docx", work)]


# ---------------------------------------------------------------- Phụ lục 2

HEADINGS = (
    ("ten_nhiem_vu", "Tên nhiệm vụ"),
    ("don_vi_chu_tri", "Đơn vị chủ trì"),
    ("chu_nhiem", "Chủ nhiệm nhiệm vụ"),
    ("tinh_cap_thiet", "Tính cấp thiết của nhiệm vụ"),
    ("muc_tieu", "Mục tiêu của nhiệm vụ"),
    ("noi_dung", "Nội dung thực hiện"),
    ("san_pham", "Sản phẩm dự kiến"),
    ("tien_do", "Tiến độ thực hiện"),
    ("kinh_phi", "Kinh phí thực hiện"),
    ("hieu_qua", "Hiệu quả dự kiến"),
)
_WORDS = {500.0: "Năm trăm triệu đồng", 750.0: "Bảy trăm năm mươi triệu đồng", 1200.0: "Một tỷ hai trăm triệu đồng"}
#: How each task's budget is stated: "table" (dự toán, total row only), "words" (figures in đồng and words),
#: "ty" ("1,2 tỷ đồng"), "words_only" ("Kinh phí bằng chữ: Bảy trăm năm mươi triệu đồng").
BUDGET_STYLES = ["table", "table", "table", "words", "ty", "words_only", "table", "words", "ty", "words_only"]
BUDGET_STYLES += ["table", "table"]


def description_texts(task: dict[str, Any]) -> dict[str, str]:
    """The text of each section but Kinh phí, as written."""
    return {
        "ten_nhiem_vu": task["ten_nhiem_vu"],
        "don_vi_chu_tri": task["don_vi_chu_tri"],
        "chu_nhiem": "Nguyễn Văn A, Trưởng phòng",
        "tinh_cap_thiet": "Ngành da giày tiêu thụ nhiều nguyên liệu và năng lượng.",
        "muc_tieu": task["muc_tieu"],
        "noi_dung": task["noi_dung"],
        "san_pham": task["san_pham"],
        "tien_do": f"Từ tháng {_cell_text(task, 'bat_dau')} đến tháng {_cell_text(task, 'ket_thuc')}.",
        "hieu_qua": "Giảm tiêu hao nguyên liệu ít nhất 5%.",
    }


def _budget(doc: FlatOdt, task: dict[str, Any], style: str) -> None:
    total = task["kinh_phi_tong"]
    if style == "table":
        state, other = task["kinh_phi_nsnn"] or 0.0, task["kinh_phi_khac"] or 0.0
        doc.paragraph("Dự toán kinh phí (đơn vị: triệu đồng):")
        doc.table(
            [
                ["STT", "Nội dung chi", "Tổng", "NSNN", "Nguồn khác"],
                ["1", "Thuê khoán chuyên môn", _money(state * 0.6), _money(state * 0.6), ""],
                ["2", "Hội thảo, khảo sát", _money(total - state * 0.6), _money(state * 0.4), _money(other)],
                [Cell("Tổng cộng", colspan=2), _money(total), _money(state), _money(other)],
            ],
            header_rows=1,
            column_widths_cm=[1.2, 6.0, 2.5, 2.5, 2.5],
        )
    elif style == "words":
        doc.paragraph(f"Tổng kinh phí: {int(total * 1_000_000):,} đồng ({_WORDS[total]})".replace(",", "."))
    elif style == "ty":
        doc.paragraph(f"Tổng kinh phí: {_money(total / 1000)} tỷ đồng")
    else:
        doc.paragraph(f"Kinh phí bằng chữ: {_WORDS[total]}.")


def phu_luc_2_numbered(work: Path) -> list[Path]:
    doc = FlatOdt()
    for n, task in enumerate(TASKS):
        if n:
            doc.page_break()
        doc.heading("THUYẾT MINH NHIỆM VỤ", level=1)
        texts = description_texts(task)
        for i, (key, title) in enumerate(HEADINGS):
            doc.numbered([ListItem(title, heading_level=2)], continue_previous=i > 0)
            if key == "kinh_phi":
                _budget(doc, task, BUDGET_STYLES[n])
            else:
                doc.paragraph(texts[key])
    return [convert(doc.write(work / "phu_luc_2_numbered.fodt"), "docx", work)]


# ---------------------------------------------------------------- legacy encodings

LEGACY_TASKS = TASKS[:3]
LEGACY_FONTS = {"tcvn3": (".VnTime", ".VnTimeH"), "vni": ("VNI-Times", "VNI-Times")}
_VNI_OF = {letter: spelling for spelling, letter in _FROM_VNI.items()}


def _tcvn3(text: str) -> list[Run]:
    """TCVN3 runs: words with a capital the ".VnTime" font lacks go in ".VnTimeH", lower-cased."""
    runs: list[Run] = []
    for i, word in enumerate(text.split(" ")):
        piece = (" " if i else "") + word
        missing = any(not ch.isascii() and ch not in _TCVN3_OF for ch in word)
        if missing and word == word.upper():
            runs.append(Run("".join(_TCVN3_OF.get(ch, ch) for ch in piece.lower()), font=".VnTimeH"))
        else:
            runs.append(Run("".join(_TCVN3_OF.get(ch, ch) for ch in piece), font=".VnTime"))
    return runs


def legacy_runs(text: str, encoding: str) -> list[Run]:
    if encoding == "tcvn3":
        return _tcvn3(text)
    return [Run("".join(_VNI_OF.get(ch, ch) for ch in text), font="VNI-Times")]


def _legacy_docx(work: Path, encoding: str) -> Path:
    doc = FlatOdt()
    doc.landscape()
    doc.paragraph(legacy_runs("PHỤ LỤC 1", encoding), align="center")
    doc.paragraph(legacy_runs(f"Tên đơn vị: {ORGANIZATION}", encoding))
    rows: list[list[str | Cell | None]] = []
    for row in header_rows() + [task_row(t) for t in LEGACY_TASKS]:
        rows.append([_legacy_cell(cell, encoding) for cell in row])
    doc.table(rows, header_rows=2, column_widths_cm=_WIDTHS)
    return convert(doc.write(work / f"legacy_{encoding}.fodt"), "docx", work)


def _legacy_cell(cell: str | Cell | None, encoding: str) -> str | Cell | None:
    if cell is None:
        return None
    if isinstance(cell, str):
        return Cell(legacy_runs(cell, encoding)) if cell else cell
    assert isinstance(cell.text, str)
    return Cell(legacy_runs(cell.text, encoding), colspan=cell.colspan, rowspan=cell.rowspan)


def _legacy_fods(work: Path, encoding: str) -> Path:
    """A flat ODS sheet: title, unit, one header row, the tasks; text cells in the legacy font."""
    font = LEGACY_FONTS[encoding][0]
    rows: list[list[Any]] = [[f"Tên đơn vị: {ORGANIZATION}"], []]
    rows.append([label for _key, label, _group, _child in COLUMNS])
    for task in LEGACY_TASKS:
        rows.append([task[key] if not key.startswith(("bat", "ket")) else _cell_text(task, key) for key in KEYS])
    body = "".join(
        "<table:table-row>" + "".join(_ods_cell(v, encoding) for v in row) + "</table:table-row>" for row in rows
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3" '
        'office:mimetype="application/vnd.oasis.opendocument.spreadsheet">'
        f"<office:font-face-decls><style:font-face style:name={quoteattr(font)} svg:font-family={quoteattr(font)}/>"
        "</office:font-face-decls><office:automatic-styles>"
        '<style:style style:name="ceLegacy" style:family="table-cell">'
        f"<style:text-properties style:font-name={quoteattr(font)}/>"
        "</style:style></office:automatic-styles>"
        f'<office:body><office:spreadsheet><table:table table:name="PL1">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document>\n"
    )
    path = work / f"legacy_{encoding}.fods"
    path.write_text(xml, encoding="utf-8")
    return path


def _ods_cell(value: Any, encoding: str) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p>'
            "</table:table-cell>"
        )
    text = (
        "".join(run.text for run in legacy_runs(str(value), encoding)) if encoding == "vni" else _flat_tcvn3(str(value))
    )
    return (
        f'<table:table-cell table:style-name="ceLegacy" office:value-type="string"><text:p>{escape(text)}</text:p>'
        "</table:table-cell>"
    )


def _flat_tcvn3(text: str) -> str:
    """TCVN3 text for one cell in ".VnTime" (a sheet cell has one font; capitals without a code stay Unicode)."""
    return "".join(_TCVN3_OF.get(ch, ch) for ch in text)


def legacy(encoding: str) -> Any:
    def make(work: Path) -> list[Path]:
        source = _legacy_fods(work, encoding)
        made = [convert(source, fmt, work) for fmt in ("xlsx", "xls", "ods")]
        return [_legacy_docx(work, encoding), *made]

    return make


FIXTURES = {
    "phu_luc_1_split": phu_luc_1_split,
    "phu_luc_2_numbered": phu_luc_2_numbered,
    "legacy_tcvn3": legacy("tcvn3"),
    "legacy_vni": legacy("vni"),
}
