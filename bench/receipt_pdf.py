"""Benchmark (not a test): what the receipt PDF (phiếu tiếp nhận) costs per acknowledgement.

Renders the receipt of a submission with 20 tasks (names of 60–200 characters, two files) `--runs` times and prints
the time per receipt (p50/p95), the first receipt of a process (it loads and registers the font), the peak RSS of
the process, and the size of the PDF; also the size and page count with 60 and 200 tasks.

    .venv/bin/python bench/receipt_pdf.py [--runs 200] [--font /path/to/font.ttf]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pypdf

from mailbot.model import Task
from mailbot.replies import ReplyContent
from mailbot.validation.rules_file import load_rules
from mailbot.validation.schema import Rules

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    "nghiên cứu ứng dụng công nghệ sản xuất sạch hơn tiết kiệm năng lượng trong ngành da giày xử lý nước thải "
    "thuộc da xây dựng định mức tiêu hao nguyên vật liệu cho doanh nghiệp tại các tỉnh phía Bắc"
)
WORDS = TEXT.split(" ")
FILES = [
    {"name": "PhuLuc1_DanhMuc.xlsx", "sha256": hashlib.sha256(b"1").hexdigest()},
    {"name": "Phụ lục 2 – Thuyết minh nhiệm vụ.docx", "sha256": hashlib.sha256(b"2").hexdigest()},
]


def content(count: int) -> ReplyContent:
    tasks = [
        Task(
            stt=n,
            ten_nhiem_vu=" ".join(WORDS[(n + i) % len(WORDS)] for i in range(10 + (n * 7) % 30)).capitalize(),
            dinh_huong=1 + n % 5,
            bat_dau="2024-01",
            ket_thuc="2025-12",
            kinh_phi_tong=1000.0 + 37.5 * n,
            kinh_phi_nsnn=800.0,
            kinh_phi_khac=200.0 + 37.5 * n,
        )
        for n in range(1, count + 1)
    ]
    received = dt.datetime(2023, 4, 20, 7, 5, tzinfo=dt.UTC)
    return ReplyContent("acknowledgement", "SXTDBV-2024-0042", 1, "Viện Nghiên cứu Da - Giày", tasks, [], received)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--font", type=Path, default=None, help="default: what mailbot.receipt.find_font finds")
    args = parser.parse_args()
    rules: Rules = load_rules(ROOT / "rules" / "sxtdbv-2024.toml")
    before_import = rss_mb()
    start = time.perf_counter()
    from mailbot.receipt import find_font, receipt_pdf

    imported = time.perf_counter() - start
    font = find_font(args.font)
    if font is None:
        raise SystemExit("no font with Vietnamese glyphs (install fonts-dejavu-core or pass --font)")
    receipt = content(20)
    before = rss_mb()
    start = time.perf_counter()
    pdf = receipt_pdf(receipt, FILES, rules, font)
    first = time.perf_counter() - start
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        receipt_pdf(receipt, FILES, rules, font)
        times.append(time.perf_counter() - start)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"font: {font}; import of mailbot.receipt (ReportLab) {imported * 1000:.0f} ms")
    print(f"{'tasks':>5} {'pages':>5} {'PDF':>9} {'first':>9} {'p50':>9} {'p95':>9} {'peak RSS':>10}")
    print(
        f"{20:>5} {pages(pdf):>5} {len(pdf) / 1024:>7.1f}KB {first * 1000:>7.1f}ms"
        f" {statistics.median(times) * 1000:>7.1f}ms {p95 * 1000:>7.1f}ms {rss_mb():>8.1f}MB"
    )
    for count in (60, 200):
        start = time.perf_counter()
        big = receipt_pdf(content(count), FILES, rules, font)
        took = time.perf_counter() - start
        size, blank = f"{len(big) / 1024:>7.1f}KB", ""
        print(f"{count:>5} {pages(big):>5} {size} {blank:>9} {took * 1000:>7.1f}ms {blank:>9} {rss_mb():>8.1f}MB")
    print(f"RSS before the import {before_import:.1f} MB, before the first receipt {before:.1f} MB ({args.runs} runs)")


def pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


if __name__ == "__main__":
    main()
