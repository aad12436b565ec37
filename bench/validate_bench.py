"""Benchmark (not a test): how long `validate` takes on a 200-task Phụ lục 1.

Builds a realistic workbook (two-row merged header, numbering row, section rows, Vietnamese text
numbers, a total row) and one Phụ lục 2 document describing every task, then times
`validate_files` over several runs and reports the median and worst, plus peak memory.

    .venv/bin/python bench/validate_bench.py [--tasks 200] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.validation.rules_file import load_rules
from mailbot.validation.validate import validate_files
from tests.builders.documents import description_paragraphs, docx_bytes
from tests.builders.sheets import xlsx_bytes
from tests.builders.submissions import TASKS, task_list


def many_tasks(count: int) -> list[dict[str, object]]:
    out = []
    for n in range(count):
        task = dict(TASKS[n % len(TASKS)])
        task["stt"] = n + 1
        task["ten_nhiem_vu"] = f"{task['ten_nhiem_vu']} – giai đoạn {n + 1}"
        out.append(task)
    return out


def descriptions(tasks: list[dict[str, object]], *, typo: bool) -> bytes:
    """One Phụ lục 2 document for all tasks; with `typo`, each name loses a letter (fuzzy matching)."""
    paragraphs: list[str] = []
    for task in tasks:
        name = str(task["ten_nhiem_vu"])
        if typo:
            name = name[:10] + name[11:]
        paragraphs += description_paragraphs(name, budget_text=f"Tổng: {task['kinh_phi_tong']}")
    return docx_bytes(paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rules = load_rules(Path(__file__).resolve().parents[1] / "rules" / "sxtdbv-2024.toml")
    tasks = many_tasks(args.tasks)
    layout = task_list(tasks, two_row_header=True, numbering=True, total=True, vn_numbers=True)
    sheet = xlsx_bytes(layout.rows, merges=layout.merge_ranges())
    files = [("PhuLuc1.xlsx", sheet), ("PhuLuc2.docx", descriptions(tasks, typo=False))]
    typos = [("PhuLuc1.xlsx", sheet), ("PhuLuc2.docx", descriptions(tasks, typo=True))]
    timings = {
        "Phụ lục 1 only": [("PhuLuc1.xlsx", sheet)],
        "Phụ lục 1 + Phụ lục 2": files,
        "… every name with a typo": typos,
    }
    print(f"validate on {args.tasks} tasks, {args.runs} runs each (xlsx {len(sheet) // 1024} KiB)")
    for label, submission in timings.items():
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = validate_files(submission, rules)
            seconds.append(time.perf_counter() - start)
        assert len(result.tasks) == args.tasks, "the benchmark must read every task"
        print(f"  {label:<24} median {statistics.median(seconds) * 1000:7.1f} ms   worst {max(seconds) * 1000:7.1f} ms")
    tracemalloc.start()
    validate_files(files, rules)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  peak Python memory (both files): {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
