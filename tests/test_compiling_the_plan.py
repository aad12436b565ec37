"""`mailbot compile --out DIR` after a realistic run: the compiled plan the officer sends, as .xlsx and as .docx.

The run is the demo's mail (a resubmission, a late one, ignored and duplicate messages) plus a unit with
three tasks in three orientations and a unit whose submission still needs correction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest

from mailbot.demo import GREETING, demo_mails
from mailbot.demo_mail import VN, DemoMail, descriptions_docx, email, task, task_list_xlsx
from mailbot.officer.compiled import vietnamese_money
from mailbot.officer.compiled_xlsx import MONEY_FORMAT, PLAN_SHEET, UNITS_SHEET
from mailbot.validation.schema import Rules
from tests.compiled_reading import PlanRow, column_letters, docx_rows, in_section, pdf_pages, plan_rows
from tests.converter import needs_libreoffice
from tests.mailflow import Workspace, make_workspace
from tests.office import convert

CITY = "Sở Công Thương Hà Nội"
ENERGY = "Viện Năng lượng"
MONEY = ("Tổng", "NSNN", "Nguồn khác")
PLAN = "tong-hop-de-xuat-nhiem-vu-2024"


def _submission(rules: Rules, org: str, who: str, day: int, tasks: list[dict[str, Any]], expect: str) -> DemoMail:
    import datetime as dt

    when = dt.datetime(2023, 4, day, 9, 0, tzinfo=VN)
    files = [("PhuLuc1.xlsx", task_list_xlsx(rules, org, tasks)), ("PhuLuc2.docx", descriptions_docx(rules, tasks))]
    raw, message_id = email(f"{org} <{who}@{who}.example.vn>", "Đề xuất nhiệm vụ 2024", GREETING, files, date=when)
    return DemoMail(org, raw, when, expect, message_id)


def _more_mails(rules: Rules) -> list[DemoMail]:
    city = [
        task("Truyền thông tiêu dùng bền vững cho người dân Thủ đô", 1, "2024-02", "2024-11", 350.25, 350.25, CITY),
        task("Xanh hóa chợ truyền thống", 9, "2024-03", "2024-12", 1234.5, 1000, CITY),
        task("Thúc đẩy kinh tế tuần hoàn trong khu công nghiệp", 10, "2024-01", "2024-12", 2500, 1500, CITY),
    ]
    energy = [
        task("Xanh hóa chuỗi cung ứng điện", 9, "2024-01", "2024-06", 700, 700, ENERGY),
        dict(task("Điện mặt trời mái nhà", 2, "2024-01", "2024-12", 900, 600, ENERGY), dinh_huong="Năng lượng tái tạo"),
    ]
    return [
        _submission(rules, CITY, "socongthuong", 18, city, "acknowledged"),
        _submission(rules, ENERGY, "nangluong", 19, energy, "correction_sent"),
    ]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, rules: Rules) -> Iterator[tuple[Workspace, Path]]:
    """The workspace after `once`, and the folder `compile --out` wrote into."""
    space = make_workspace(tmp_path_factory.mktemp("compile"))
    mails = demo_mails(rules, "example.org") + _more_mails(rules)
    space.deliver(sorted(mails, key=lambda m: m.arrives))
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    out = space.root / "ban-tong-hop"
    result = space.cli("compile", "--out", str(out))
    assert result.exit_code == 0, result.output
    yield space, out


@pytest.fixture(scope="module")
def submissions(compiled: tuple[Workspace, Path]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = compiled[0].export()["submissions"]
    states = {s["organization"]: s["status"] for s in found}
    assert states[CITY] == "accepted" and states[ENERGY] == "needs_correction", states  # the scenario holds
    return found


def _accepted(submissions: list[dict[str, Any]], accepted: bool = True) -> list[dict[str, Any]]:
    """The tasks of the accepted submissions (a late one without errors too), or of the others, with their unit."""

    def is_accepted(s: dict[str, Any]) -> bool:
        errors = any(f["severity"] == "error" for f in s["findings"])
        return s["status"] == "accepted" or (s["status"] == "late" and not errors)

    return [dict(t, unit=s["organization"]) for s in submissions if is_accepted(s) == accepted for t in s["tasks"]]


@pytest.fixture(scope="module")
def rows(compiled: tuple[Workspace, Path]) -> list[PlanRow]:
    return plan_rows(compiled[1] / f"{PLAN}.xlsx")


@pytest.fixture(scope="module")
def recalculated(compiled: tuple[Workspace, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workbook as LibreOffice saves it after opening it: every formula computed and stored."""
    return convert(compiled[1] / f"{PLAN}.xlsx", "xlsx", tmp_path_factory.mktemp("recalculated"))


def test_compile_writes_the_plan_as_a_workbook_and_a_word_document(compiled: tuple[Workspace, Path]) -> None:
    out = compiled[1]
    assert sorted(p.name for p in out.iterdir()) == [f"{PLAN}.docx", f"{PLAN}.xlsx"]
    assert openpyxl.load_workbook(out / f"{PLAN}.xlsx").sheetnames == [PLAN_SHEET, UNITS_SHEET]


def test_every_accepted_task_is_in_section_a_exactly_once_with_its_unit(
    rows: list[PlanRow], submissions: list[dict[str, Any]]
) -> None:
    listed = Counter(
        (r.cells["Tên nhiệm vụ"], r.cells["Đơn vị đề xuất"]) for r in in_section(rows, "A") if r.kind == "task"
    )
    expected = Counter((t["ten_nhiem_vu"], t["unit"]) for t in _accepted(submissions))
    assert listed == expected
    assert len(expected) == 9  # the demo's six accepted tasks (the late one too) and the city's three


def test_tasks_still_needing_correction_are_in_a_section_of_their_own(
    rows: list[PlanRow], submissions: list[dict[str, Any]]
) -> None:
    listed = [(r.cells["Tên nhiệm vụ"], r.cells["Đơn vị đề xuất"]) for r in in_section(rows, "B") if r.kind == "task"]
    assert sorted(listed) == sorted((t["ten_nhiem_vu"], t["unit"]) for t in _accepted(submissions, accepted=False))
    assert listed == [("Xanh hóa chuỗi cung ứng điện", ENERGY), ("Điện mặt trời mái nhà", ENERGY)]
    groups = [r.label for r in in_section(rows, "B") if r.kind == "group"]
    assert groups == ["I. Định hướng 9: Xanh hóa", "II. Chưa xác định định hướng"]


def test_tasks_are_grouped_by_orientation_in_the_rules_order(rows: list[PlanRow], rules: Rules) -> None:
    column = rules.column("dinh_huong")
    assert column is not None
    names = {v.code: v.name for v in column.values}
    codes, current = [], None
    for row in in_section(rows, "A"):
        if row.kind == "group":
            current = int(row.label.split("Định hướng ", 1)[1].split(":")[0])
            assert row.label.endswith(f": {names[current]}")
            codes.append(current)
        elif row.kind == "task":
            assert row.cells["Định hướng"] == f"{current}. {names[current]}"
    assert codes == [1, 3, 4, 5, 6, 8, 9, 10]
    assert codes == sorted(codes, key=[v.code for v in column.values].index)


def test_every_group_ends_with_a_sub_total_and_the_section_with_a_total_as_formulas(
    rows: list[PlanRow], compiled: tuple[Workspace, Path]
) -> None:
    letters = column_letters(compiled[1] / f"{PLAN}.xlsx")
    section = in_section(rows, "A")
    kinds = [r.kind for r in section]
    assert kinds.count("group") == kinds.count("subtotal") == 8 and kinds[-1] == "total"
    for index, row in enumerate(section):
        if row.kind == "subtotal":
            start = max(r.row for r in section[:index] if r.kind == "group") + 1
            for label in MONEY:
                letter = letters[label]
                assert row.cells[label] == f"=SUBTOTAL(9,{letter}{start}:{letter}{row.row - 1})"
    total = section[-1]
    for label in MONEY:
        letter = letters[label]
        assert total.cells[label] == f"=SUBTOTAL(9,{letter}{section[0].row}:{letter}{total.row - 1})"


def test_money_has_the_format_a_vietnamese_excel_shows_as_one_thousand_two_hundred_and_thirty_four_comma_five(
    compiled: tuple[Workspace, Path],
) -> None:
    sheet = openpyxl.load_workbook(compiled[1] / f"{PLAN}.xlsx")[PLAN_SHEET]
    money_cells = [c for row in sheet.iter_rows(min_row=11) for c in row if isinstance(c.value, float)]
    assert money_cells and {c.number_format for c in money_cells} == {MONEY_FORMAT}


def test_the_plan_has_the_national_header_the_title_and_a_print_setup(compiled: tuple[Workspace, Path]) -> None:
    book = openpyxl.load_workbook(compiled[1] / f"{PLAN}.xlsx")
    sheet = book[PLAN_SHEET]
    texts = [str(c.value) for row in sheet.iter_rows(max_row=7) for c in row if c.value]
    assert texts[:4] == [
        "BỘ CÔNG THƯƠNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "VỤ TIẾT KIỆM NĂNG LƯỢNG VÀ PHÁT TRIỂN BỀN VỮNG",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert "TỔNG HỢP ĐỀ XUẤT NHIỆM VỤ NĂM 2024" in texts and "Đơn vị tính: triệu đồng" in texts
    for each in (sheet, book[UNITS_SHEET]):
        setup = each.page_setup
        assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
        assert each.sheet_properties.pageSetUpPr.fitToPage
        assert each.oddFooter.center.text == "Trang &P/&N"
    assert sheet.print_title_rows == "$8:$10"


def test_the_word_table_has_the_same_rows_as_the_workbook(
    compiled: tuple[Workspace, Path], rows: list[PlanRow]
) -> None:
    table = docx_rows(compiled[1] / f"{PLAN}.docx", 1)
    body = table[3:]  # after the two header rows and the column numbers
    assert [r[0] for r in body] == [r.label for r in rows]
    tasks = iter(r for r in rows if r.kind == "task")
    sums: dict[str, float] = dict.fromkeys(MONEY, 0.0)
    for texts in body:
        if texts[0].isdigit():
            row = next(tasks)
            assert texts[1:3] == [row.cells["Tên nhiệm vụ"], row.cells["Đơn vị đề xuất"]]
            for label in MONEY:
                sums[label] += row.cells[label] or 0.0
        elif texts[0].startswith("Cộng "):
            assert texts[1:4] == [vietnamese_money(sums[label]) for label in MONEY]
            sums = dict.fromkeys(MONEY, 0.0)


def test_the_word_document_is_landscape_with_its_header_rows_repeated_on_every_page(
    compiled: tuple[Workspace, Path],
) -> None:
    document = docx.Document(str(compiled[1] / f"{PLAN}.docx"))
    section = document.sections[0]
    assert section.page_width > section.page_height
    header_rows = [
        row for row in document.tables[1].rows if row._tr.trPr is not None and row._tr.trPr.xpath("w:tblHeader")
    ]
    assert len(header_rows) == 3
    assert [c.text for c in document.tables[0].rows[0].cells] == [
        "BỘ CÔNG THƯƠNG\nVỤ TIẾT KIỆM NĂNG LƯỢNG VÀ PHÁT TRIỂN BỀN VỮNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc",
    ]


def test_compile_before_anything_was_processed_says_so(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    result = space.cli("compile", "--out", str(tmp_path / "out"))
    assert result.exit_code == 74
    assert "no ledger yet" in result.output


@needs_libreoffice
def test_the_sub_totals_and_totals_evaluate_to_the_sums_of_their_tasks(
    recalculated: Path, rows: list[PlanRow], submissions: list[dict[str, Any]]
) -> None:
    computed = {r.row: r for r in plan_rows(recalculated, data_only=True)}
    for letter, accepted in (("A", True), ("B", False)):
        section = in_section(rows, letter)
        group: list[PlanRow] = []
        for row in section:
            if row.kind == "task":
                group.append(row)
            elif row.kind == "subtotal":
                for label in MONEY:
                    assert computed[row.row].cells[label] == pytest.approx(sum(t.cells[label] or 0 for t in group))
                group = []
        tasks = _accepted(submissions, accepted)
        for label, key in zip(MONEY, ("kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac"), strict=True):
            assert computed[section[-1].row].cells[label] == pytest.approx(sum(t[key] or 0 for t in tasks))
    assert computed[in_section(rows, "A")[-1].row].cells["Tổng"] == pytest.approx(7000.5 + 350.25 + 1234.5 + 2500)


@needs_libreoffice
def test_the_per_unit_sheet_evaluates_to_each_units_tasks_and_totals(
    recalculated: Path, submissions: list[dict[str, Any]]
) -> None:
    sheet = openpyxl.load_workbook(recalculated, data_only=True)[UNITS_SHEET]
    lines = {r[1]: r for r in sheet.iter_rows(min_row=6, values_only=True) if isinstance(r[0], int)}
    for submission in submissions:
        tasks = submission["tasks"]
        line = lines[submission["organization"]]
        assert line[2] == submission["receipt"]
        assert line[4] == len(tasks)
        assert line[5] == pytest.approx(sum(t["kinh_phi_tong"] or 0 for t in tasks))
        assert line[6] == pytest.approx(sum(t["kinh_phi_nsnn"] or 0 for t in tasks))
    totals = [r for r in sheet.iter_rows(min_row=6, values_only=True) if str(r[0]).startswith("Cộng ")]
    assert [t[4] for t in totals] == [9, 2]
    assert totals[0][5] == pytest.approx(7000.5 + 350.25 + 1234.5 + 2500)


@needs_libreoffice
def test_the_printed_plan_has_its_pages_and_no_column_split_across_them(
    compiled: tuple[Workspace, Path], tmp_path: Path
) -> None:
    pages = pdf_pages(convert(compiled[1] / f"{PLAN}.xlsx", "pdf", tmp_path))
    assert len(pages) == 2  # the plan on one page, the per-unit summary on the next
    assert all("STT" in page for page in pages)
    assert "Ghi chú" in pages[0] and "Đơn vị đề xuất" in pages[0]
    assert "Nguồn khác" in pages[1] and "TỔNG HỢP THEO ĐƠN VỊ ĐỀ XUẤT" in pages[1]
    assert [f"Trang {n}/2" in page for n, page in enumerate(pages, start=1)] == [True, True]


@needs_libreoffice
def test_the_printed_word_document_repeats_the_table_header_on_every_page_of_the_plan(
    compiled: tuple[Workspace, Path], tmp_path: Path
) -> None:
    pages = [" ".join(page.split()) for page in pdf_pages(convert(compiled[1] / f"{PLAN}.docx", "pdf", tmp_path))]
    summary = next(i for i, page in enumerate(pages) if "TỔNG HỢP THEO ĐƠN VỊ ĐỀ XUẤT" in page)
    assert summary >= 1
    for page in pages[:summary]:
        assert "Tên nhiệm vụ" in page and "Ghi chú" in page
    assert all(f"Trang {n}/{len(pages)}" in page for n, page in enumerate(pages, start=1))
