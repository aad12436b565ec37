"""The workbook as the officer reads it after a realistic month of mail: truthful statuses and counts, plain
Vietnamese in every cell, A4 pages that print whole, links that open the submitted files, the submitters'
own words (and those that ask, forwarded once), and the officer's own columns kept across rebuilds."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.validation.schema import Rules
from tests.converter import needs_libreoffice
from tests.mailflow import Workspace
from tests.officer_day import ASKING, EXTENSION_NOTE, LATE_WITH_ERRORS, OFFICER, QUESTION, officer_day

ROOT = Path(__file__).resolve().parents[1]
#: What the intake and the classifier write as reasons, in English: none may reach a cell.
ENGLISH = re.compile(
    r"\b(late|precedence|bulk|auto-submitted|auto-replied|same message as|acknowledged|no address to reply|"
    r"per-sender limit|overall reply limit|MIME structure|delivery or read report|message larger|"
    r"InjectedFault|fault injected|StartBoundaryNotFoundDefect|mailing list|null return path)\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory, rules: Rules) -> Workspace:
    return officer_day(tmp_path_factory.mktemp("officer"), rules)


@pytest.fixture(scope="module")
def book(space: Workspace) -> Workbook:
    return load_workbook(space.tracker)


def table(ws: Worksheet, top: int = 1) -> list[dict[str, Any]]:
    values = list(ws.iter_rows(min_row=top, values_only=True))
    header = values[0]
    return [dict(zip(header, row, strict=True)) for row in values[1:] if any(v is not None for v in row)]


def by_receipt(book: Workbook) -> dict[str, dict[str, Any]]:
    return {row["Số tiếp nhận"]: row for row in table(book["Hồ sơ"])}


def cells(book: Workbook) -> list[tuple[str, str, str]]:
    return [
        (ws.title, cell.coordinate, str(cell.value))
        for ws in book.worksheets
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]


# ---------------------------------------------------------------- truthful statuses and counts


def test_lateness_and_correctness_are_two_facts_in_the_export_and_one_plain_label_in_the_workbook(
    space: Workspace, book: Workbook
) -> None:
    exported = {s["receipt"]: (s["status"], s["late"]) for s in space.export()["submissions"]}
    assert exported[LATE_WITH_ERRORS] == ("needs_correction", True)
    assert exported["SXTDBV-2024-0005"] == ("accepted", True)
    assert exported["SXTDBV-2024-0003"] == ("accepted", False)
    shown = {receipt: row["Trạng thái"] for receipt, row in by_receipt(book).items()}
    assert shown[LATE_WITH_ERRORS] == "Nộp muộn – cần chỉnh sửa"
    assert shown["SXTDBV-2024-0005"] == "Nộp muộn"
    assert shown["SXTDBV-2024-0003"] == "Đã tiếp nhận"
    assert set(shown.values()) <= {"Đã tiếp nhận", "Nộp muộn", "Cần chỉnh sửa", "Nộp muộn – cần chỉnh sửa"}


def test_every_count_in_the_statistics_follows_the_definitions_of_the_export(space: Workspace, book: Workbook) -> None:
    submissions = space.export()["submissions"]
    counts = {row[0]: row[1] for row in book["Thống kê"].iter_rows(min_row=4, max_row=12, values_only=True) if row[0]}

    def count(status: str | None, late: bool | None) -> int:
        return sum(1 for s in submissions if status in (None, s["status"]) and late in (None, s["late"]))

    assert counts["Đã tiếp nhận"] == count("accepted", False)
    assert counts["Nộp muộn"] == count("accepted", True)
    assert counts["Cần chỉnh sửa"] == count("needs_correction", False)
    assert counts["Nộp muộn – cần chỉnh sửa"] == count("needs_correction", True) == 1
    assert counts["Tổng cộng"] == len(submissions) == 7
    assert counts["Trong đó cần chỉnh sửa (kể cả nộp muộn)"] == count("needs_correction", None) == 1
    assert counts["Trong đó nộp muộn (kể cả cần chỉnh sửa)"] == count(None, True) == 2
    assert counts["Lời nhắn cần cán bộ trả lời"] == 2


# ---------------------------------------------------------------- Vietnamese everywhere


def test_no_cell_of_any_sheet_shows_a_finding_code_or_an_english_reason(space: Workspace, book: Workbook) -> None:
    document = space.export()
    codes = {f["code"] for s in document["submissions"] for f in s["findings"]}
    assert codes, "the scenario has findings to look for"
    words = re.compile(rf"\b({'|'.join(map(re.escape, sorted(codes)))})\b")
    for sheet, where, text in cells(book):
        assert not words.search(text), f"{sheet}!{where} shows a finding code: {text!r}"
        assert not ENGLISH.search(text), f"{sheet}!{where} shows an English reason: {text!r}"


def test_the_summary_of_findings_gives_their_own_vietnamese_messages(space: Workspace, book: Workbook) -> None:
    [late] = [s for s in space.export()["submissions"] if s["receipt"] == LATE_WITH_ERRORS]
    summary = by_receipt(book)[LATE_WITH_ERRORS]["Tóm tắt lỗi"]
    assert all(f["message"] in summary for f in late["findings"][:5])
    assert summary.startswith("Lỗi: ")


def test_the_log_gives_every_reason_in_vietnamese(book: Workbook) -> None:
    log = table(book["Nhật ký"])
    reasons = {row["Tiêu đề"]: row["Lý do"] for row in log}
    assert reasons["Trả lời tự động: Vắng mặt"] == "Thư trả lời tự động"
    assert reasons["Bản tin tháng 4"] == "Thư gửi hàng loạt (bản tin, quảng cáo)"
    assert reasons["Đề xuất nhiệm vụ (muộn)"] == "Nộp sau hạn chót"
    by_action = {row["Xử lý"]: row["Lý do"] for row in log}
    assert by_action["Trùng lặp"] == "Trùng với một thư đã nhận trước đó (thư trước: đã gửi xác nhận)"
    assert by_action["Cách ly"] == "Cấu trúc thư bất thường, không an toàn để mở"
    assert by_action["Lỗi xử lý (đã cách ly)"].startswith("Lỗi của chương trình khi xử lý thư (mã lỗi ")


def test_the_receipt_number_has_one_name_in_the_workbook_the_replies_and_the_readme(
    space: Workspace, book: Workbook
) -> None:
    assert all("biên nhận" not in text.lower() for _, _, text in cells(book))
    assert all(ws.title == "Biểu đồ" or "Số tiếp nhận" in [c.value for c in next(ws.iter_rows(max_row=1))]
               for ws in book.worksheets if ws.title not in ("Thống kê",))  # fmt: skip
    replies = [r.get_body(("plain",)).get_content() for r in space.replies() if r["To"] != OFFICER]  # type: ignore[union-attr]
    assert all("số tiếp nhận" in text.lower() and "biên nhận" not in text.lower() for text in replies)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Số tiếp nhận" in readme and "biên nhận" not in readme.lower()


def test_dates_are_viet_nam_wall_clock_times_and_money_uses_the_thousands_format(book: Workbook) -> None:
    ws = book["Hồ sơ"]
    headers = [c.value for c in ws[1]]
    first = ws.cell(2, headers.index("Nhận lần đầu") + 1)
    assert first.number_format == "dd/mm/yyyy hh:mm" and (first.value.day, first.value.hour) == (10, 9)  # 09:00 ICT
    money = ws.cell(2, headers.index("Tổng kinh phí (triệu đồng)") + 1)
    assert money.number_format == "#,##0.0" and money.value == 3500.5  # shown 3.500,5 by a Vietnamese Excel


# ---------------------------------------------------------------- print-ready


def test_every_printed_sheet_is_a4_landscape_one_page_wide_with_its_titles_header_and_footer(book: Workbook) -> None:
    for ws in (w for w in book.worksheets if w.sheet_state == "visible"):
        setup = ws.page_setup
        assert (setup.orientation, int(setup.paperSize), setup.fitToWidth) == ("landscape", 9, 1), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.oddHeader.right.text == "&A" and ws.oddFooter.right.text == "Trang &P/&N", ws.title
        assert ws.oddHeader.left.text.startswith("Đề xuất nhiệm vụ năm 2024"), ws.title
        assert ws.oddFooter.left.text.startswith("Cập nhật lúc "), ws.title
        if ws.title not in ("Thống kê", "Biểu đồ"):
            assert ws.print_title_rows in ("1:1", "$1:$1"), ws.title
            assert all(c.alignment.wrap_text for c in ws[1] if c.value), ws.title
    assert book["Biểu đồ"]._charts and not book["Thống kê"]._charts  # the chart has a page of its own


def pdf_pages(space: Workspace, out: Path) -> list[str]:
    import subprocess

    from pypdf import PdfReader

    profile = out / "profile"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf",
         "--outdir", str(out), str(space.tracker)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(out / "tracker.pdf").pages]


@needs_libreoffice
def test_libreoffice_prints_the_known_workbook_on_six_pages_and_no_column_is_cut_off(
    space: Workspace, book: Workbook, tmp_path: Path
) -> None:
    pages = pdf_pages(space, tmp_path)
    assert len(pages) == 6  # one page per sheet: 7 submissions, 7 tasks, 16 files, 14 messages, statistics, chart
    for number, text in enumerate(pages, start=1):
        assert f"Trang {number}/6" in text
        [ws] = [ws for ws in book.worksheets if ws.sheet_state == "visible" and f" {ws.title} " in f" {text} "]
        if ws.title in ("Thống kê", "Biểu đồ"):
            continue
        headers = [" ".join(str(c.value).split()) for c in ws[1] if c.value]
        assert headers[0] in text and headers[-1] in text, (ws.title, headers[0], headers[-1], text[:300])


# ---------------------------------------------------------------- files that open


def links(book: Workbook) -> list[tuple[str, str]]:
    return [
        (ws.title, cell.hyperlink.target)
        for ws in book.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.hyperlink is not None
    ]


def test_every_hyperlink_opens_an_existing_file_relative_to_the_workbook_even_in_a_copied_folder(
    space: Workspace, book: Workbook, tmp_path: Path
) -> None:
    copy = tmp_path / "share" / "copy"
    shutil.copytree(space.tracker.parent, copy, ignore=shutil.ignore_patterns("archive", "mail", "*.sqlite3*"))
    found = links(book)
    assert len([1 for sheet, _ in found if sheet == "Tệp hồ sơ"]) == 16  # 8 versions of 2 files: one link each
    for sheet, target in found:
        assert not target.startswith(("/", "file:")) and "\\" not in target, target
        assert (copy / unquote(target)).exists(), (sheet, target)
        if sheet == "Tệp hồ sơ":
            assert (copy / unquote(target)).is_file()


def test_each_version_keeps_its_files_under_their_original_names(space: Workspace, book: Workbook) -> None:
    folder = space.tracker.parent / "ho-so" / "SXTDBV-2024-0003"
    assert sorted(p.name for p in (folder / "v1").iterdir()) == ["PhuLuc1.xlsx", "PhuLuc2.docx"]
    assert sorted(p.name for p in (folder / "v2").iterdir()) == ["PhuLuc1_sua.xlsx", "PhuLuc2.docx"]
    assert (space.tracker.parent / "ho-so" / "SXTDBV-2024-0002" / "v1" / "Phu luc 1.docx").is_file()
    assert by_receipt(book)["SXTDBV-2024-0003"]["Tệp (lần nộp cuối)"] == "2 tệp – mở thư mục lần nộp 2"


def test_rebuilding_the_tracker_copies_no_file_twice(space: Workspace) -> None:
    files = sorted((space.tracker.parent / "ho-so").rglob("*.*"))
    before = {p: p.stat().st_mtime_ns for p in files}
    assert space.cli("once").exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert not list((space.tracker.parent / "ho-so").rglob(".*.tmp"))


# ---------------------------------------------------------------- human notes


def test_the_submitters_own_words_are_shown_without_their_signature_and_a_request_is_highlighted(
    book: Workbook,
) -> None:
    row = by_receipt(book)[ASKING]
    assert row["Lời nhắn"].endswith(EXTENSION_NOTE) and "Nguyễn Văn C" not in row["Lời nhắn"]
    ws = book["Hồ sơ"]
    headers = [c.value for c in ws[1]]
    receipts = [c.value for c in ws["A"]]
    cell = ws.cell(receipts.index(ASKING) + 1, headers.index("Lời nhắn") + 1)
    assert cell.fill.fgColor.rgb.endswith("FFD966") and cell.font.bold
    plain = ws.cell(receipts.index("SXTDBV-2024-0002") + 1, headers.index("Lời nhắn") + 1)
    assert plain.fill.fgColor.rgb in (None, "00000000")


def test_a_noted_reply_shows_its_words_without_the_quoted_text_on_its_submission_and_in_the_log(
    book: Workbook,
) -> None:
    note = by_receipt(book)["SXTDBV-2024-0001"]["Lời nhắn"]
    assert note.endswith(QUESTION) and "SXTDBV-2024-0001" not in note
    [logged] = [row for row in table(book["Nhật ký"]) if row["Xử lý"] == "Ghi nhận lời nhắn"]
    assert logged["Lời nhắn"] == QUESTION


def test_a_message_that_asks_is_forwarded_to_the_officer_once_with_the_original_attached(space: Workspace) -> None:
    def forwards() -> list[email.message.EmailMessage]:
        return [r for r in space.replies() if r["To"] == OFFICER]

    sent = forwards()
    assert len(sent) == 2
    extension = next(r for r in sent if ASKING in str(r["Subject"]))
    assert extension["Message-ID"].startswith("<mailbot.fwd.") and extension["Auto-Submitted"] == "auto-generated"
    assert EXTENSION_NOTE in extension.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [original] = [p for p in extension.walk() if p.get_content_type() == "message/rfc822"]
    assert "Viện Cơ khí" in str(original.get_payload(0)["From"])
    assert space.cli("once").exit_code == 0
    assert len(forwards()) == 2
    assert all(r["To"] != OFFICER or r["In-Reply-To"] is None for r in space.replies())  # never an answer


# ---------------------------------------------------------------- the officer's own columns


def test_the_decision_and_the_note_typed_by_the_officer_survive_a_rebuild_and_reach_the_export(
    space: Workspace,
) -> None:
    wb = load_workbook(space.tracker)
    ws = wb["Hồ sơ"]
    headers = [c.value for c in ws[1]]
    receipts = [c.value for c in ws["A"]]
    row = receipts.index("SXTDBV-2024-0005") + 1
    ws.cell(row, headers.index("Quyết định") + 1, "Chấp nhận dù muộn")
    ws.cell(row, headers.index("Ghi chú của cán bộ") + 1, "Đã gọi điện xác nhận")
    wb.save(space.tracker)
    assert space.cli("once").exit_code == 0
    again = by_receipt(load_workbook(space.tracker))["SXTDBV-2024-0005"]
    assert (again["Quyết định"], again["Ghi chú của cán bộ"]) == ("Chấp nhận dù muộn", "Đã gọi điện xác nhận")
    decisions = {s["receipt"]: s["decision"] for s in space.export()["submissions"]}
    assert decisions["SXTDBV-2024-0005"] == "Chấp nhận dù muộn" and decisions["SXTDBV-2024-0001"] is None
