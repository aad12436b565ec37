"""Receipts made one after another in one process: what is remembered between them never shows in a receipt."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf

from mailbot.model import Task
from mailbot.receipt import receipt_pdf
from mailbot.replies import ReplyContent
from mailbot.validation.schema import Rules

RECEIVED = dt.datetime(2023, 4, 20, 7, 5, tzinfo=dt.UTC)
FILES = [{"name": "PhuLuc1_DanhMuc.xlsx", "sha256": hashlib.sha256(b"1").hexdigest()}]
IN_A_FRESH_PROCESS = (
    "import pickle, sys\n"
    "from mailbot.receipt import receipt_pdf\n"
    "sys.stdout.buffer.write(receipt_pdf(*pickle.load(sys.stdin.buffer)))\n"
)


def content(unit: str, names: list[str], receipt: str = "SXTDBV-2024-0007") -> ReplyContent:
    tasks = [
        Task(stt=n, ten_nhiem_vu=name, dinh_huong=1, bat_dau="2024-01", ket_thuc="2025-12", kinh_phi_tong=10.0 * n)
        for n, name in enumerate(names, start=1)
    ]
    return ReplyContent("acknowledgement", receipt, 1, unit, tasks, [], RECEIVED)


def fresh(*arguments: Any) -> bytes:
    done = subprocess.run(
        [sys.executable, "-c", IN_A_FRESH_PROCESS], input=pickle.dumps(arguments), capture_output=True, check=True
    )
    return done.stdout


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_receipt_made_after_others_is_byte_identical_to_one_made_first_in_a_fresh_process(
    rules: Rules, font: Path
) -> None:
    wanted = content("Viện Nghiên cứu Da - Giày", ["Ứng dụng công nghệ xử lý nước thải thuộc da"] * 3)
    others = [
        content("Trường Đại học Bách khoa Hà Nội", [f"Nhiệm vụ {n}: tiết kiệm năng lượng ỹ ữ ộ" for n in range(30)]),
        content("Công ty <A&B>  “Ngoặc”", ["a < b & c > d", "  hai   khoảng  trắng  ", "Ω ≈ ∑ ₫"], "X-1"),
        content("Viện Nghiên cứu Da - Giày", ["Ứng dụng công nghệ xử lý nước thải thuộc da"] * 2),
    ]
    for other in others:
        receipt_pdf(other, FILES, rules, font)
    assert receipt_pdf(wanted, FILES, rules, font) == fresh(wanted, FILES, rules, font)


def test_a_receipt_made_after_one_with_other_letters_reads_back_with_its_own(rules: Rules, font: Path) -> None:
    receipt_pdf(content("Ủy ban Ưu tiên Ỵ", ["Ẫn ẵ ặ ẩ Ỹ ỷ"]), FILES, rules, font)
    text = text_of(receipt_pdf(content("Sở Khoa học Đà Nẵng", ["Quản lý đô thị thông minh"]), FILES, rules, font))
    assert "Sở Khoa học Đà Nẵng" in text
    assert "Quản lý đô thị thông minh" in text
    assert "Ỹ" not in text


def test_text_with_markup_signs_or_repeated_spaces_reads_back_as_after_a_plain_one(rules: Rules, font: Path) -> None:
    receipt_pdf(content("Viện A", ["Nhiệm vụ thường"]), FILES, rules, font)
    text = text_of(receipt_pdf(content("Viện <b>B</b> & C", ["x < y &amp; z"]), FILES, rules, font))
    assert "Viện <b>B</b> & C" in text
    assert "x < y &amp; z" in text
