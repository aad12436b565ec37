"""The receipt (phiếu tiếp nhận) an acknowledgement attaches: a PDF in Vietnamese that reads back exactly."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pypdf

from mailbot.model import Task
from mailbot.receipt import RECEIPT_TITLE, find_font, receipt_name, receipt_pdf
from mailbot.replies import ReplyContent
from mailbot.validation.schema import Rules

ORGANIZATION = "Viện Nghiên cứu Da - Giày"
RECEIVED = dt.datetime(2023, 4, 20, 7, 5, tzinfo=dt.UTC)  # 14:05 in Viet Nam
NAMES = [
    "Ứng dụng công nghệ xử lý nước thải thuộc da đạt quy chuẩn kỹ thuật quốc gia về môi trường",
    "Xây dựng định mức tiêu hao nguyên vật liệu, năng lượng cho các doanh nghiệp sản xuất giày dép xuất khẩu "
    "tại các tỉnh Bắc Ninh, Hải Dương, Hưng Yên và Thành phố Hồ Chí Minh giai đoạn 2024–2025",
    "Truyền thông nâng cao nhận thức về sản xuất và tiêu dùng bền vững",
]
FILES = [
    {"name": "PhuLuc1_DanhMuc.xlsx", "sha256": hashlib.sha256(b"phu luc 1").hexdigest()},
    {"name": "Phụ lục 2 – Thuyết minh nhiệm vụ.docx", "sha256": hashlib.sha256(b"phu luc 2").hexdigest()},
]


def task(n: int, name: str | None = None) -> Task:
    return Task(
        stt=n,
        ten_nhiem_vu=name or f"Nhiệm vụ số {n}: nghiên cứu giải pháp tiết kiệm năng lượng trong ngành da giày",
        dinh_huong=1 + n % 3,
        bat_dau="2024-01",
        ket_thuc="2025-12",
        kinh_phi_tong=1500.5,
        kinh_phi_nsnn=1000.0,
        kinh_phi_khac=500.5,
    )


def content(**changes: Any) -> ReplyContent:
    values: dict[str, Any] = {
        "kind": "acknowledgement",
        "receipt": "SXTDBV-2024-0007",
        "version": 1,
        "organization": ORGANIZATION,
        "tasks": [task(n, name) for n, name in enumerate(NAMES, start=1)],
        "findings": [],
        "received_at": RECEIVED,
    }
    return ReplyContent(**(values | changes))


def pages(pdf: bytes) -> list[str]:
    """Each page's text, NFC, with its lines joined by single spaces (a wrapped name reads as one)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join(unicodedata.normalize("NFC", page.extract_text()).split()) for page in reader.pages]


def text(pdf: bytes) -> str:
    return " ".join(pages(pdf))


def test_the_receipt_reads_back_in_the_exact_vietnamese(rules: Rules, font: Path) -> None:
    got = text(receipt_pdf(content(), FILES, rules, font))
    expected = [
        RECEIPT_TITLE,
        "Phiếu tiếp nhận",
        "SXTDBV-2024-0007",
        ORGANIZATION,
        "Lần nộp thứ 1",
        "14:05 ngày 20/4/2023 (giờ Việt Nam)",
        rules.call.title,
        rules.call.document,
        *NAMES,
        "01/2024–12/2025",
        *(f["name"] for f in FILES),
        *(f["sha256"] for f in FILES),
        "Tổng cộng (3 nhiệm vụ) 4.501,5",
        "ngân sách nhà nước (NSNN) 3.000",
        "Nguồn khác 1.501,5",
    ]
    for phrase in expected:
        assert unicodedata.normalize("NFC", phrase) in got, phrase


def test_each_task_shows_its_orientation_by_number_and_name(rules: Rules, font: Path) -> None:
    column = rules.column("dinh_huong")
    assert column is not None
    names = {v.code: v.name for v in column.values}
    got = text(receipt_pdf(content(tasks=[task(1)]), FILES, rules, font))
    assert f"2 – {names[2]}" in got


def test_text_written_in_decomposed_form_reads_back_composed(rules: Rules, font: Path) -> None:
    decomposed = unicodedata.normalize("NFD", ORGANIZATION)
    reader = pypdf.PdfReader(io.BytesIO(receipt_pdf(content(organization=decomposed), FILES, rules, font)))
    assert ORGANIZATION in " ".join(reader.pages[0].extract_text().split())


def test_markup_in_a_task_name_is_shown_as_written(rules: Rules, font: Path) -> None:
    name = "Nhiệm vụ <b>A & B</b> &amp; <font size=40>"
    assert name in text(receipt_pdf(content(tasks=[task(1, name)]), FILES, rules, font))


def test_odd_text_and_missing_values_never_break_the_receipt(rules: Rules, font: Path) -> None:
    tasks = [
        Task(ten_nhiem_vu="X" * 500),
        Task(),
        Task(ten_nhiem_vu="Tên\x00 có\u202e ký tự lạ \ud800 😀", dinh_huong=99),
    ]
    odd = content(
        receipt="SXTDBV\ud800-1", organization="Viện\r\nBcc: x", tasks=tasks, received_at=dt.datetime(2023, 4, 20)
    )
    pdf = receipt_pdf(odd, [{"name": "N" * 255, "sha256": "0" * 64}, {"name": "thiếu mã.xlsx"}], rules, font)
    got = text(pdf)
    assert "(không có tên)" in got
    assert "Tên có ký tự lạ \ufffd" in got
    assert "Viện Bcc: x" in got
    assert "SXTDBV\ufffd-1" in got
    assert "07:00 ngày 20/4/2023" in got  # a moment without a zone is UTC
    assert pypdf.PdfReader(io.BytesIO(pdf)).metadata["/CreationDate"] == "D:20230420070000+07'00'"


def test_a_receipt_with_60_tasks_spans_pages_with_the_header_repeated(rules: Rules, font: Path) -> None:
    tasks = [task(n) for n in range(1, 61)]
    got = pages(receipt_pdf(content(tasks=tasks), FILES, rules, font))
    assert len(got) >= 3
    header = "STT Tên nhiệm vụ Định hướng Thời gian thực hiện Kinh phí (triệu đồng)"
    for number, page in enumerate(got, start=1):
        assert f"Trang {number}/{len(got)}" in page
        assert "được tạo tự động bởi hệ thống tiếp nhận hồ sơ mailbot" in page
        if "Nhiệm vụ số" in page:
            assert header in page, number
    assert sum("Nhiệm vụ số" in page for page in got) >= 3
    every = " ".join(got)
    for t in tasks:
        assert every.count(f"{t.ten_nhiem_vu} ") == 1, t.ten_nhiem_vu
    assert "Tổng cộng (60 nhiệm vụ) 90.030" in every


def test_the_same_input_gives_the_same_bytes_dated_when_received(rules: Rules, font: Path) -> None:
    first = receipt_pdf(content(), FILES, rules, font)
    assert receipt_pdf(content(), FILES, rules, font) == first
    assert pypdf.PdfReader(io.BytesIO(first)).metadata["/CreationDate"] == "D:20230420140500+07'00'"
    later = receipt_pdf(content(received_at=RECEIVED + dt.timedelta(minutes=1)), FILES, rules, font)
    assert later != first


def test_a_late_receipt_says_it_came_after_the_deadline(rules: Rules, font: Path) -> None:
    late = text(receipt_pdf(content(late=True), FILES, rules, font))
    assert "Nộp sau thời hạn: hồ sơ được nhận lúc 14:05 ngày 20/4/2023" in late
    assert "sau thời hạn nộp hồ sơ (23:59 ngày 30/4/2023)" in late
    on_time = text(receipt_pdf(content(), FILES, rules, font))
    assert "Nộp trong thời hạn" in on_time
    assert "sau thời hạn" not in on_time


def test_a_resubmission_says_which_submission_it_is(rules: Rules, font: Path) -> None:
    got = text(receipt_pdf(content(version=3), FILES, rules, font))
    assert "Lần nộp thứ 3 (thay thế toàn bộ hồ sơ đã nộp trước đó theo số tiếp nhận trên)" in got


def test_a_receipt_without_tasks_or_files_says_so(rules: Rules, font: Path) -> None:
    got = text(receipt_pdf(content(tasks=[], organization=None), [], rules, font))
    assert "(Không đọc được nhiệm vụ nào.)" in got
    assert "(Không có tệp đính kèm.)" in got
    assert "(chưa xác định được tên đơn vị trong hồ sơ)" in got
    assert "Tổng cộng (0 nhiệm vụ) 0" in got


def test_the_receipt_is_one_a4_portrait_page_with_its_fonts_embedded(rules: Rules, font: Path) -> None:
    reader = pypdf.PdfReader(io.BytesIO(receipt_pdf(content(), FILES, rules, font)))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    used = [f for f in fonts if f["/Subtype"] == "/TrueType"]
    assert used
    assert all("/FontFile2" in f["/FontDescriptor"] for f in used)


def test_each_embedded_face_carries_only_the_characters_it_sets(rules: Rules, font: Path) -> None:
    pdf = receipt_pdf(content(), FILES, rules, font)
    fonts = [f.get_object() for f in pypdf.PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"].values()]
    carried = {  # each embedded face's characters, as its ToUnicode map lists them
        str(f["/BaseFont"]): {chr(int(code, 16)) for code in re.findall(rb"<[0-9A-F]{2}> <([0-9A-F]{4})>", cmap)}
        for f in fonts
        if "/ToUnicode" in f and (cmap := f["/ToUnicode"].get_object().get_data())
    }
    assert len(carried) == 3 and all(carried.values())  # regular, bold, mono: each map read, none empty
    [mono] = [chars for name, chars in carried.items() if "Mono" in name]
    assert mono <= set("0123456789abcdef \x00")  # the SHA-256s' digits: not all of ASCII
    assert all(chars <= set(text(pdf)) | {" ", "\x00"} for chars in carried.values()), carried


def test_the_receipts_streams_are_plain_flate(rules: Rules, font: Path) -> None:
    pdf = receipt_pdf(content(), FILES, rules, font)
    assert b"/FlateDecode" in pdf and b"/ASCII85Decode" not in pdf


def test_the_receipt_is_named_for_its_number(rules: Rules) -> None:
    assert receipt_name("SXTDBV-2024-0001") == "Phieu-tiep-nhan-SXTDBV-2024-0001.pdf"
    assert receipt_name("SXTDBV/2024 0001\r\n") == "Phieu-tiep-nhan-SXTDBV-2024-0001.pdf"


def test_find_font_honours_a_configured_font(tmp_path: Path, font: Path) -> None:
    configured = tmp_path / "Phong chu.ttf"
    shutil.copyfile(font, configured)
    assert find_font(configured) == configured


def test_find_font_gives_none_for_a_missing_or_unusable_configured_font(tmp_path: Path) -> None:
    assert find_font(tmp_path / "missing.ttf") is None
    not_a_font = tmp_path / "not-a-font.ttf"
    not_a_font.write_bytes(b"\x00\x01\x00\x00 this is no font")
    assert find_font(not_a_font) is None


def test_find_font_refuses_a_font_without_every_vietnamese_letter(tmp_path: Path, font: Path) -> None:
    mono = font.with_name("DejaVuSansMono.ttf")  # DejaVu Sans Mono has no "ầ", "ế" …
    assert mono.is_file(), "DejaVu Sans Mono is missing: install fonts-dejavu-core (make test does)"
    assert find_font(mono) is None


def test_find_font_finds_debians_dejavu_sans() -> None:
    debian = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    assert debian.is_file(), "DejaVu Sans is missing: install fonts-dejavu-core (make test does)"
    assert find_font(None) == debian
