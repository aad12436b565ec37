"""After a real `mailbot once`, the tracker's sheet "Đơn vị" lists every roster unit with its state, latest receipt
and date, then the submissions from outside the roster; without a roster there is no such sheet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mailbot.adapters.xlsx_tracker_sheets import RECEIPT_HEADER
from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace, make_workspace

ROSTER = (
    "\ufeffMã;Tên đơn vị;Email;Tên miền\r\n"
    "DG;Viện Nghiên cứu Da - Giày;leather@leather.example.vn;\r\n"
    "SXSH;Trung tâm Sản xuất sạch hơn Việt Nam;;cleaner.example.vn\r\n"
    "DM;VIEN DET MAY;;\r\n"
    "HTX;Hợp tác xã Xanh;coop@coop.example.vn;\r\n"
    "VNL;Viện Năng lượng;vanthu@ievn.vn;\r\n"
)
HEADER = (
    "Mã", "Đơn vị", "Địa chỉ thư / tên miền", "Trạng thái", RECEIPT_HEADER, "Nhận lần cuối", "Số lần nộp",
    "Khớp theo", "Ghi chú",
)  # fmt: skip


def _run(space: Workspace, mails: list[DemoMail]) -> list[dict[str, Any]]:
    space.deliver(mails)
    result = space.cli("once")
    assert result.exit_code == 0, result.output
    submissions: list[dict[str, Any]] = space.export()["submissions"]
    return submissions


@pytest.fixture(scope="module")
def with_roster(tmp_path_factory: pytest.TempPathFactory, rules: Rules) -> tuple[Workspace, list[dict[str, Any]]]:
    """The demo's mail but the textile institute's corrected resubmission, with a roster beside the config."""
    space = make_workspace(tmp_path_factory.mktemp("roster"))
    (space.root / "don-vi.csv").write_text(ROSTER, encoding="utf-8")
    space.config.write_text(space.config.read_text(encoding="utf-8") + '\n[roster]\nfile = "don-vi.csv"\n')
    mails = demo_mails(rules, "example.org")
    resubmission = [m for m in mails if "textile" in m.message_id][-1]
    return space, _run(space, [m for m in mails if m is not resubmission])


def _rows(path: Path) -> tuple[list[str], list[list[Any]], list[Any]]:
    book = openpyxl.load_workbook(path)
    ws = book["Đơn vị"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    header, *body = rows
    table = body[: next(i for i, r in enumerate(body) if all(v is None for v in r))]
    return [str(h) for h in header], table, [v for r in body[len(table) :] for v in r if v is not None]


def test_every_roster_unit_is_listed_in_roster_order_with_its_state(
    with_roster: tuple[Workspace, list[dict[str, Any]]],
) -> None:
    space, _ = with_roster
    header, rows, _ = _rows(space.tracker)
    assert tuple(header) == HEADER
    units = [(r[0], r[1], r[3], r[7]) for r in rows[:5]]
    assert units == [
        ("DG", "Viện Nghiên cứu Da - Giày", "Đã nộp", "Địa chỉ thư"),
        ("SXSH", "Trung tâm Sản xuất sạch hơn Việt Nam", "Đã nộp", "Tên miền"),
        ("DM", "VIEN DET MAY", "Cần chỉnh sửa", "Tên đơn vị"),
        ("HTX", "Hợp tác xã Xanh", "Nộp muộn", "Địa chỉ thư"),
        ("VNL", "Viện Năng lượng", "Chưa nộp", None),
    ]


def test_each_unit_shows_its_latest_receipt_and_when_it_arrived_in_viet_nam_time(
    with_roster: tuple[Workspace, list[dict[str, Any]]],
) -> None:
    space, submissions = with_roster
    _, rows, _ = _rows(space.tracker)
    by_org = {s["organization"]: s for s in submissions}
    leather = by_org["Viện Nghiên cứu Da - Giày"]
    assert rows[0][4] == leather["receipt"]
    received = dt.datetime.fromisoformat(leather["last_received_at"]).astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert rows[0][5].strftime("%d/%m/%Y %H:%M") == received.strftime("%d/%m/%Y %H:%M")
    assert rows[4][4] is None and rows[4][5] is None  # nothing from Viện Năng lượng


def test_a_submission_from_outside_the_roster_is_listed_as_such(
    with_roster: tuple[Workspace, list[dict[str, Any]]],
) -> None:
    space, submissions = with_roster
    _, rows, _ = _rows(space.tracker)
    plastic = next(s for s in submissions if s["sender"].startswith("plastic@"))
    assert [(r[1], r[2], r[3], r[4]) for r in rows[5:]] == [
        ("Công ty Cổ phần Nhựa Xanh", "plastic@plastic.example.vn", "Ngoài danh sách", plastic["receipt"])
    ]


def test_the_sheet_ends_with_the_counts_by_state(with_roster: tuple[Workspace, list[dict[str, Any]]]) -> None:
    space, _ = with_roster
    _, _, after = _rows(space.tracker)
    assert after == [
        "Tổng số đơn vị: 5 — Chưa nộp: 1; Đã nộp: 2; Cần chỉnh sửa: 1; Nộp muộn: 1; "
        "Nộp muộn – cần chỉnh sửa: 0; Ngoài danh sách: 1"
    ]


def test_the_sheet_is_an_excel_table_with_a_frozen_header_that_prints_a4_landscape(
    with_roster: tuple[Workspace, list[dict[str, Any]]],
) -> None:
    space, _ = with_roster
    book = openpyxl.load_workbook(space.tracker)
    assert book.sheetnames[1] == "Đơn vị"
    ws = book["Đơn vị"]
    assert list(ws.tables) == ["DonVi"] and ws.tables["DonVi"].ref == "A1:I7"
    assert ws.freeze_panes == "C2"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.print_title_rows == "$1:$1"


def test_without_a_roster_the_workbook_has_no_units_sheet(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, demo_mails(rules, "example.org")[:1])
    assert "Đơn vị" not in openpyxl.load_workbook(space.tracker).sheetnames
