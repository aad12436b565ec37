"""The compiled plan of a large call, written straight from the ledger's views: pages, headers, the issuer, odd text."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo_mail import task
from mailbot.model import SubmissionView, TrackerData
from mailbot.officer.compiled import compile_plan, rebuild_compiled, vietnamese_money, write_compiled
from mailbot.officer.compiled_xlsx import PLAN_SHEET
from mailbot.validation.schema import Issuer, Rules
from tests.compiled_reading import docx_rows, in_section, pdf_pages, plan_rows
from tests.converter import needs_libreoffice
from tests.office import convert

UNITS = 12
TASKS_PER_UNIT = 5
NOW = dt.datetime(2023, 5, 2, 1, 30, tzinfo=dt.UTC)


def _view(number: int, tasks: list[dict[str, object]], status: str = "accepted") -> SubmissionView:
    when = dt.datetime(2023, 4, 1, tzinfo=dt.UTC) + dt.timedelta(hours=number)
    return SubmissionView(
        receipt=f"SXTDBV-2024-{number:04d}",
        organization=f"Đơn vị số {number}",
        sender=f"u{number}@example.vn",
        status=status,  # type: ignore[arg-type]  # the statuses the ledger holds
        version=1,
        first_received_at=when,
        last_received_at=when,
        tasks=tasks,
        findings=[],
    )


def _large() -> TrackerData:
    views = []
    for unit in range(1, UNITS + 1):
        tasks = [
            dict(
                task(
                    f"Nhiệm vụ {i} của đơn vị {unit}: nghiên cứu, xây dựng và nhân rộng mô hình sản xuất bền vững",
                    (unit * TASKS_PER_UNIT + i) % 10 + 1,
                    "2024-01",
                    "2024-12",
                    100.0 * i + unit,
                    50.0 * i,
                    f"Đơn vị số {unit}",
                ),
                stt=i,
            )
            for i in range(1, TASKS_PER_UNIT + 1)
        ]
        views.append(_view(unit, tasks))
    return TrackerData(views, [], {}, NOW)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, rules: Rules) -> list[Path]:
    return write_compiled(_large(), rules, tmp_path_factory.mktemp("large"))


def test_a_large_plan_lists_every_task_once_in_ten_orientation_groups(written: list[Path]) -> None:
    rows = in_section(plan_rows(written[0]), "A")
    assert [r.label for r in rows if r.kind == "task"] == [str(n) for n in range(1, UNITS * TASKS_PER_UNIT + 1)]
    assert sum(r.kind == "group" for r in rows) == sum(r.kind == "subtotal" for r in rows) == 10
    assert len(docx_rows(written[1], 1)) == 3 + len(rows) + 1  # headers, the section's banner and rows


def test_rebuilding_the_plan_replaces_both_files_and_leaves_no_temporary_file(rules: Rules, tmp_path: Path) -> None:
    first = write_compiled(_large(), rules, tmp_path)
    again = write_compiled(TrackerData([_view(1, [])], [], {}, NOW), rules, tmp_path)
    assert again == first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in first)
    assert plan_rows(first[0]) == []  # no submission with tasks: a plan with its header only


def test_the_issuer_is_taken_from_the_rules_call_section(rules: Rules, tmp_path: Path) -> None:
    issuer = Issuer(ministry="BỘ CÔNG THƯƠNG", office="CỤC CÔNG NGHIỆP")
    other = rules.model_copy(update={"call": rules.call.model_copy(update={"issuer": issuer})})
    path = write_compiled(TrackerData([], [], {}, NOW), other, tmp_path)[0]
    sheet = openpyxl.load_workbook(path)[PLAN_SHEET]
    assert sheet["A2"].value == "CỤC CÔNG NGHIỆP"


def test_text_that_looks_like_a_formula_stays_text(rules: Rules, tmp_path: Path) -> None:
    odd = dict(task('=HYPERLINK("http://x")', 1, "2024-01", "2024-12", 10, 10, "=1+1"), stt=1)
    view = _view(1, [odd])
    path = write_compiled(TrackerData([view], [], {}, NOW), rules, tmp_path)[0]
    tasks = [r for r in plan_rows(path) if r.kind == "task"]
    assert tasks[0].cells["Tên nhiệm vụ"] == '=HYPERLINK("http://x")'
    assert tasks[0].cells["Đơn vị chủ trì"] == "=1+1"
    sheet = openpyxl.load_workbook(path)[PLAN_SHEET]
    assert sheet.cell(tasks[0].row, 2).data_type == "s"


def test_a_late_version_goes_to_the_section_of_its_status_whatever_its_lateness(rules: Rules) -> None:
    late_ok = replace(_view(1, [dict(task("A", 1, "2024-01", "2024-12", 10, 10, "X"), stt=1)]), late=True)
    late_bad = replace(
        _view(2, [dict(task("B", 2, "2024-01", "2024-12", 10, 10, "Y"), stt=1)], status="needs_correction"),
        late=True,
    )
    plan = compile_plan(TrackerData([late_ok, late_bad], [], {}, NOW), rules)
    assert [(s.key, [t.fields["ten_nhiem_vu"] for t in s.tasks()]) for s in plan.sections] == [
        ("accepted", ["A"]),
        ("needs_correction", ["B"]),
    ]


@needs_libreoffice
def test_every_printed_page_of_a_large_plan_carries_the_whole_header_row(written: list[Path], tmp_path: Path) -> None:
    pages = [" ".join(page.split()) for page in pdf_pages(convert(written[0], "pdf", tmp_path))]
    summary = next(i for i, page in enumerate(pages) if "TỔNG HỢP THEO ĐƠN VỊ ĐỀ XUẤT" in page)
    assert summary >= 2  # 60 tasks take more than one page
    for page in pages[:summary]:
        assert "STT" in page and "Ghi chú" in page  # the first and the last column: none cut off
        assert "(1)" in page and "(15)" in page
    for page in pages[summary:]:
        assert "STT" in page and "Nguồn khác" in page
    assert all(f"Trang {n}/{len(pages)}" in page for n, page in enumerate(pages, start=1))


def test_a_plan_that_cannot_be_written_during_a_rebuild_is_logged_and_mail_processing_goes_on(
    rules: Rules, tmp_path: Path
) -> None:
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("a file where the folder should be", encoding="utf-8")
    assert rebuild_compiled(TrackerData([], [], {}, NOW), rules, in_the_way) == []
    assert in_the_way.read_text(encoding="utf-8") == "a file where the folder should be"


def test_money_in_the_word_document_is_written_as_a_vietnamese_excel_shows_it() -> None:
    assert vietnamese_money(1234.5) == "1.234,5"
    assert vietnamese_money(2000.5) == "2.000,5"
    assert vietnamese_money(1350.25) == "1.350,3"  # half away from zero, as Excel rounds for display
    assert vietnamese_money(1234567.0) == "1.234.567,0"
    assert vietnamese_money(-200.0) == "-200,0"
    assert vietnamese_money(None) == ""
