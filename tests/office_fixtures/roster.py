"""A roster of expected units as an admin keeps it in a spreadsheet, written by LibreOffice.

A merged title row above the header, bold headers, a numeric code, two addresses on two lines of one cell,
a domain written "@…", an empty row between units. `EXPECTED` is what mailbot must read from it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailbot.officer.roster import Unit
from tests.office import convert
from tests.office_fixtures.flat_ods import Row, Sheet, cell, write_fods

EXPECTED = [
    Unit("VNL", "Viện Năng lượng", ("vanthu@ievn.vn", "kehoach@ievn.vn"), (), row=3),
    Unit("101", "Trường Đại học Bách khoa Hà Nội", (), ("hust.edu.vn",), row=4),
    Unit(None, "Viện Nghiên cứu Da - Giày", ("leather@leather.example.vn",), ("leather.example.vn",), row=6),
]


def _don_vi(work: Path) -> list[Path]:
    header = ["STT", "Mã", "Tên đơn vị", "Thư điện tử", "Tên miền"]
    sheet = Sheet(
        "Danh sách",
        rows=[
            Row([cell("DANH SÁCH ĐƠN VỊ THUỘC BỘ NHẬN ĐỀ XUẤT NHIỆM VỤ", colspan=5, bold=True)]),
            Row([cell(h, bold=True) for h in header]),
            Row([1, "VNL", "Viện Năng lượng", cell("vanthu@ievn.vn\nkehoach@ievn.vn", wrap=True), None]),
            Row([2, 101, "Trường Đại học Bách khoa Hà Nội", "@hust.edu.vn", None]),
            Row([None, None, None, None, None]),
            Row([3, None, "Viện Nghiên cứu Da - Giày", "leather@leather.example.vn", "leather.example.vn"]),
        ],
        widths=[1.2, 2.0, 8.0, 6.0, 4.0],
    )
    return [convert(write_fods(work / "don-vi.fods", [sheet]), "xlsx", work)]


FIXTURES: dict[str, Callable[[Path], list[Path]]] = {"don-vi": _don_vi}
