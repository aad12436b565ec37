"""Benchmark (not a test): the cost of reading + validating one realistic submission, and where it goes.

Submissions, each read from bytes and checked with `validate_files`, in-process:
  - "demo": the demo's Phụ lục 1 xlsx (the shipped template, filled in) + Phụ lục 2 docx, ~10 tasks;
  - "office": LibreOffice-written workbooks from tests/fixtures/office/ (xlsx, so no conversion runs).

For each: the median and worst time per submission over --runs runs (repeated --repeats times, the median
of the medians is printed: the machine is shared), and of `validate_reads` alone (the part done in the bot's
own process; files are read in a child); each "same again" (the same submission repeated: every cache
warm) and with "new strings" (the caches of cell strings emptied before each run, as when each submission
brings its own names and texts; the rules' own precomputed forms are kept). Then the number of
`mailbot.text.fold` calls per submission (from cProfile) and the top functions by cumulative time.

    .venv/bin/python bench/validate_profile.py [--runs 30] [--repeats 3] [--top 15] [--tasks 10]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbot.demo_mail import descriptions_docx, task, task_list_xlsx  # noqa: E402
from mailbot.readers import read_file  # noqa: E402
from mailbot.validation import values  # noqa: E402
from mailbot.validation.rules_file import load_rules  # noqa: E402
from mailbot.validation.schema import Rules  # noqa: E402
from mailbot.validation.validate import validate_files, validate_reads  # noqa: E402

OFFICE = ROOT / "tests" / "fixtures" / "office"
Submission = list[tuple[str, bytes]]


def demo_submission(rules: Rules, count: int) -> Submission:
    units = ["Viện Dệt May", "Viện Nghiên cứu Da - Giày", "Trung tâm Sản xuất sạch hơn Việt Nam"]
    tasks = [
        task(
            f"Nhiệm vụ số {n + 1}: hướng dẫn kỹ thuật sử dụng hiệu quả năng lượng ngành {n + 1}",
            1 + n % 5,
            "2024-01",
            "2024-12",
            800 + 10 * n,
            600 + 5 * n,
            units[n % len(units)],
        )
        for n in range(count)
    ]
    organization = units[0]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, organization, tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def office_submissions() -> dict[str, Submission]:
    picked = [OFFICE / "sheets_layout" / "office_plan.xlsx", OFFICE / "plan14" / "plan14.xlsx"]
    return {f"office {p.name}": [(p.name, p.read_bytes())] for p in picked if p.exists()}


def forget_cell_strings() -> None:
    """Empty the caches that hold a submission's own strings (the rules' header index is kept): as if
    every run brought new task names and texts, as real submissions do."""
    values._fold_short.cache_clear()
    values.clean.cache_clear()


def timed(submission: Submission, rules: Rules, runs: int, *, fresh: bool) -> list[float]:
    seconds = []
    for _ in range(runs):
        if fresh:
            forget_cell_strings()
        start = time.perf_counter()
        validate_files(submission, rules)
        seconds.append(time.perf_counter() - start)
    return seconds


def validation_only(submission: Submission, rules: Rules, runs: int, *, fresh: bool) -> float:
    """The median time of validate_reads alone (the bot's own process; reading is done in a child)."""
    reads = [read_file(name, data) for name, data in submission]
    seconds = []
    for _ in range(runs):
        if fresh:
            forget_cell_strings()
        start = time.perf_counter()
        validate_reads(reads, rules)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def fold_calls(stats: pstats.Stats) -> int:
    table = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table in an undocumented attribute
    return sum(
        entry[1] for (file, _line, name), entry in table.items() if file.endswith("mailbot/text.py") and name == "fold"
    )


def profile(submission: Submission, rules: Rules, runs: int, top: int) -> tuple[int, str]:
    """(fold calls per submission, the top lines by cumulative time) over `runs` profiled runs."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        validate_files(submission, rules)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    calls = fold_calls(stats) // runs
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return calls, "\n".join(lines[start:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (the median of their medians is shown)")
    parser.add_argument("--top", type=int, default=15, help="profile lines shown")
    parser.add_argument("--tasks", type=int, default=10, help="tasks in the demo submission")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    rules = load_rules(ROOT / "rules" / "sxtdbv-2024.toml")
    submissions = {f"demo xlsx+docx, {args.tasks} tasks": demo_submission(rules, args.tasks), **office_submissions()}
    for label, submission in submissions.items():
        result = validate_files(submission, rules)  # warm: imports, caches of the first call
        kib = sum(len(data) for _, data in submission) // 1024
        print(f"{label} ({kib} KiB; {len(result.tasks)} tasks, {len(result.findings)} findings)")
        for fresh in (False, True):
            medians, worst, checking = [], 0.0, []
            for _ in range(args.repeats):
                seconds = timed(submission, rules, args.runs, fresh=fresh)
                medians.append(statistics.median(seconds))
                worst = max(worst, max(seconds))
                checking.append(validation_only(submission, rules, args.runs, fresh=fresh))
            repeats = ", ".join(f"{m * 1000:.2f}" for m in medians)
            print(
                f"  {'new strings' if fresh else 'same again '}: read + validate median"
                f" {statistics.median(medians) * 1000:.2f} ms (repeats: {repeats}), worst {worst * 1000:.2f} ms;"
                f" validate_reads alone {statistics.median(checking) * 1000:.2f} ms"
            )
        if args.no_profile:
            continue
        calls, lines = profile(submission, rules, max(1, args.runs // 3), args.top)
        forget_cell_strings()
        fresh_calls, _ = profile(submission, rules, 1, args.top)
        print(f"  mailbot.text.fold calls per submission: {calls} (same again), {fresh_calls} (new strings)")
        print("  top functions by cumulative time (profiled, all runs):")
        print("\n".join("    " + line for line in lines.splitlines()))
        print()


if __name__ == "__main__":
    main()
