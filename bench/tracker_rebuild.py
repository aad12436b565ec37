"""Benchmark (not a test): the tracker's rebuild (the officer's workbook and the compiled plan) with N on file.

The ledger is filled by mailbot itself: `mailbot once` over a Maildir of --seed distinct realistic submissions
(bench/rush_mail.py: a Phụ lục 1 .xlsx and a Phụ lục 2 .docx each, a sender, organisation and task name of their
own). Answering 5,000 that way would take most of an hour on this machine, so the larger ledgers are made by
cloning the seeded rows in SQL: each clone of a submission gets a new receipt (the ledger's own `<prefix>-NNNN`
sequence), sender, organisation and task names (suffixed), and each clone of its messages, versions and replies
new ids, Message-IDs, mailbox keys and recipients; the clones' attachments are the seeded ones (same archived
files, so the tracker's `ho-so/` folder gets a copy per receipt, as it would). Everything is kept under --dir,
so timings can be repeated without rebuilding the ledgers (--fresh starts over).

For each size it times, best of --repeat (after one warm-up rebuild that copies the files beside the tracker):
the fingerprint (`tracker_fingerprint`), `tracker_data`, the workbook (`XlsxTracker.write`), the compiled plan's
.xlsx and .docx (built from one `compile_plan`), and the whole `rebuild_tracker`, with the compiled plan
unchanged (skipped) and changed (rewritten, as after a new submission).

    .venv/bin/python bench/tracker_rebuild.py [--sizes 1000,5000] [--dir /tmp/mailbot-tracker-bench]
    .venv/bin/python bench/tracker_rebuild.py --save before   # also writes the outputs (fixed time) to <size>/before
    .venv/bin/python bench/tracker_rebuild.py --compare before after   # cell by cell, paragraph by paragraph
    .venv/bin/python bench/tracker_rebuild.py --profile 5000 --sizes 5000   # cProfile of one rebuild, top 40
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import json
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.rush_mail import EXTRA_CONFIG, Submissions, deliver_maildir  # noqa: E402
from mailbot.bootstrap import App, build_app  # noqa: E402
from mailbot.config import load_settings  # noqa: E402
from mailbot.officer.compiled import compile_plan, plan_stem  # noqa: E402
from mailbot.officer.compiled_docx import plan_docx  # noqa: E402
from mailbot.officer.compiled_xlsx import plan_xlsx  # noqa: E402
from mailbot.readmodel import tracker_data  # noqa: E402
from mailbot.tracker_keeping import rebuild_tracker, tracker_fingerprint  # noqa: E402

RULES = ROOT / "rules" / "sxtdbv-2024.toml"
FIXED_TIME = dt.datetime(2023, 4, 21, 8, 30, tzinfo=dt.UTC)  # the saved outputs' "Cập nhật lúc"
NEEDS_CORRECTION = json.dumps(
    [
        {"code": "missing_value", "severity": "error", "message": "Thiếu kinh phí NSNN của nhiệm vụ 1.",
         "hint": "Điền kinh phí.", "file": "PhuLuc1.xlsx", "sheet": "Sheet1", "row": 8, "column": "K", "cell": "K8"},
        {"code": "date_order", "severity": "warning", "message": "Thời gian kết thúc trước thời gian bắt đầu.",
         "hint": "", "file": "PhuLuc1.xlsx", "cell": "M8"},
    ],
    ensure_ascii=False,
)  # fmt: skip
CONFIG = """[mailbox]
kind = "maildir"
path = "./mail"

[smtp]
kind = "outbox"
path = "./outbox"
from = "Vụ TKNL <vu-tknl@bo.example.vn>"

[rules]
file = "{rules}"

[storage]
dir = "./var"
tracker = "./var/tracker.xlsx"
"""


# ------------------------------------------------------------------------------------------ the ledgers


def workspace(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(CONFIG.format(rules=RULES) + EXTRA_CONFIG, encoding="utf-8")
    return config


def seeded(root: Path, count: int) -> Path:
    """The folder of a ledger filled by `mailbot once` with `count` submissions (made once, then kept)."""
    folder = root / f"seed-{count}"
    if (folder / "done").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    config = workspace(folder)
    deliver_maildir(folder / "mail", Submissions(RULES, tag="S").raws(range(count)))
    started = time.perf_counter()
    command = [sys.executable, "-m", "mailbot", "--config", str(config), "once"]
    subprocess.run(command, check=True, capture_output=True, timeout=120 + 5.0 * count)
    print(f"seeded {count:,} submissions by `mailbot once` in {time.perf_counter() - started:.0f} s", flush=True)
    (folder / "done").write_text("", encoding="ascii")
    return folder


def sized(root: Path, seed: Path, size: int) -> Path:
    """A copy of the seeded ledger grown to `size` submissions by cloning its rows (made once, then kept)."""
    folder = root / f"n{size}"
    if (folder / "done").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    workspace(folder)
    (folder / "var").mkdir()
    shutil.copytree(seed / "var" / "archive", folder / "var" / "archive")
    source = sqlite3.connect(seed / "var" / "ledger.sqlite3")
    target = sqlite3.connect(folder / "var" / "ledger.sqlite3")
    source.backup(target)
    source.close()
    with target:
        clone_rows(target, size)
    target.close()
    (folder / "done").write_text("", encoding="ascii")
    return folder


def clone_rows(db: sqlite3.Connection, size: int) -> None:
    originals = db.execute("SELECT id FROM submissions ORDER BY id").fetchall()
    have, copy = len(originals), 0
    while have < size:
        copy += 1
        for (submission,) in originals[: size - have]:
            clone_submission(db, submission, copy, have + 1)
            have += 1


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    keys = [k for k in row if k != "id"]
    marks = ", ".join("?" * len(keys))
    cursor = db.execute(f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({marks})", [row[k] for k in keys])
    return int(cursor.lastrowid or 0)


def _rows(db: sqlite3.Connection, table: str, where: str, arg: int) -> list[dict[str, Any]]:
    names = _columns(db, table)
    return [dict(zip(names, r, strict=True)) for r in db.execute(f"SELECT * FROM {table} WHERE {where}", (arg,))]


def clone_submission(db: sqlite3.Connection, submission: int, copy: int, number: int) -> None:
    tag = f"-c{copy}"
    (row,) = _rows(db, "submissions", "id = ?", submission)
    old_sender = row["sender"]
    user, _, domain = old_sender.partition("@")
    sender = f"{user}{tag}@{domain}"
    prefix = row["receipt"].rsplit("-", 1)[0]
    row |= {"receipt": f"{prefix}-{number:04d}", "sender": sender}
    new_submission = _insert(db, "submissions", row)
    messages: dict[int, int] = {}
    for message in _rows(db, "messages", "submission_id = ?", submission):
        old = message["id"]
        message |= {
            "submission_id": new_submission,
            "mailbox_key": f"{message['mailbox_key']}{tag}",
            "message_id": f"{message['message_id']}{tag}" if message["message_id"] else None,
            "sha256": f"{message['sha256'][:-8]}{copy:08d}",
            "sender": (message["sender"] or "").replace(old_sender, sender),
            "subject": f"{message['subject']}{tag}",
        }
        messages[old] = _insert(db, "messages", message)
    for version in _rows(db, "versions", "submission_id = ?", submission):
        version |= {
            "submission_id": new_submission,
            "message_row": messages.get(version["message_row"], version["message_row"]),
            "organization": f"{version['organization']}{tag}" if version["organization"] else None,
            "tasks": version["tasks"]
            .replace('"ten_nhiem_vu": "', f'"ten_nhiem_vu": "{tag[1:]} ')
            .replace('"dinh_huong": 4,', f'"dinh_huong": {1 + number % 4},'),  # all four orientations
        }
        if number % 7 == 0:  # one in seven needs correction: section B of the compiled plan, the findings' column
            version |= {"status": "needs_correction", "findings": NEEDS_CORRECTION}
        _insert(db, "versions", version)
    for reply in _rows(db, "outbox", "submission_id = ?", submission):
        reply |= {
            "submission_id": new_submission,
            "message_row": messages.get(reply["message_row"], reply["message_row"]),
            "reply_id": f"{reply['reply_id']}{tag}",
            "recipient": sender,
        }
        _insert(db, "outbox", reply)


# ------------------------------------------------------------------------------------------ the timings


def best(repeat: int, step: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return min(times)


def timings(app: App, repeat: int) -> dict[str, float]:
    ledger, out = app.ledger, app.settings.storage.tracker.parent
    mark = out / f".{plan_stem(app.rules.call.plan_year)}.sha256"  # the compiled plan's: rebuilt when it differs

    def rebuild_all() -> None:  # as after a new submission: the workbook and the compiled plan both
        mark.unlink(missing_ok=True)
        rebuild_tracker(app)

    rebuild_tracker(app)  # warm-up: copies the attachments beside the tracker (later rebuilds only compare sizes)
    data = tracker_data(ledger, app.archive, app.rules, app.roster)
    plan = compile_plan(data, app.rules)
    return {
        "fingerprint": best(repeat, lambda: tracker_fingerprint(app.settings, ledger)),
        "tracker_data": best(repeat, lambda: tracker_data(ledger, app.archive, app.rules, app.roster)),
        "tracker workbook (write)": best(repeat, lambda: app.tracker.write(data)),
        "compile_plan": best(repeat, lambda: compile_plan(data, app.rules)),
        "compiled plan .xlsx": best(repeat, lambda: plan_xlsx(plan)),
        "compiled plan .docx": best(repeat, lambda: plan_docx(plan)),
        "rebuild_tracker, plan same": best(repeat, lambda: rebuild_tracker(app)),
        "rebuild_tracker, all": best(repeat, rebuild_all),
    }


def save_outputs(app: App, where: Path) -> None:
    """The workbook and the compiled plan at a fixed time, for --compare."""
    data = dataclasses.replace(tracker_data(app.ledger, app.archive, app.rules, app.roster), generated_at=FIXED_TIME)
    app.tracker.write(data)
    plan = compile_plan(data, app.rules)
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy2(app.settings.storage.tracker, where / "tracker.xlsx")
    stem = plan_stem(app.rules.call.plan_year)
    (where / f"{stem}.xlsx").write_bytes(plan_xlsx(plan))
    (where / f"{stem}.docx").write_bytes(plan_docx(plan))


def profile(app: App, where: Path) -> None:
    rebuild_tracker(app)
    profiler = cProfile.Profile()
    profiler.enable()
    rebuild_tracker(app)
    profiler.disable()
    profiler.dump_stats(where)
    pstats.Stats(str(where)).sort_stats("cumulative").print_stats(40)


# ------------------------------------------------------------------------------------------ comparing outputs


def compare_xlsx(a: Path, b: Path) -> list[str]:
    from openpyxl import load_workbook

    left, right = load_workbook(a), load_workbook(b)
    if left.sheetnames != right.sheetnames:
        return [f"{a.name}: sheets {left.sheetnames} != {right.sheetnames}"]
    out = []
    for title in left.sheetnames:
        x, y = left[title], right[title]
        facts = ("dimensions", "freeze_panes", "sheet_state", "print_title_rows", "print_area")
        out += [f"{title}: {f}" for f in facts if getattr(x, f) != getattr(y, f)]
        for what, fact in (
            ("tables", lambda s: dict(s.tables.items())),
            ("merged cells", lambda s: sorted(map(str, s.merged_cells.ranges))),
            ("column widths", lambda s: {k: d.width for k, d in s.column_dimensions.items()}),
            ("row heights", lambda s: {k: d.height for k, d in s.row_dimensions.items()}),
            ("page setup", lambda s: (repr(s.page_setup), repr(s.page_margins), s.oddHeader.left.text)),
        ):
            out += [f"{title}: {what}"] if fact(x) != fact(y) else []
        for row_x, row_y in zip(x.iter_rows(), y.iter_rows(), strict=True):
            for c, d in zip(row_x, row_y, strict=True):
                if _cell(c) != _cell(d):
                    out.append(f"{title}!{c.coordinate}: {_cell(c)} != {_cell(d)}")
    return out


def _cell(c: Any) -> tuple[Any, ...]:
    link = c.hyperlink.target if c.hyperlink else None
    return (c.value, c.data_type, c.number_format, c.quotePrefix, repr(c.font), repr(c.fill), repr(c.alignment),
            repr(c.border), repr(c.protection), link)  # fmt: skip


def compare_docx(a: Path, b: Path) -> list[str]:
    import docx

    left, right = docx.Document(str(a)), docx.Document(str(b))

    def texts(d: Any) -> list[str]:
        body = [f"p[{p.style.name}] {p.text}" for p in d.paragraphs]
        cells = [f"t{i} {r}.{c} {cell.text}" for i, t in enumerate(d.tables)
                 for r, row in enumerate(t.rows) for c, cell in enumerate(row.cells)]  # fmt: skip
        sections = [f"s {s.orientation} {s.page_width} {s.page_height}" for s in d.sections]
        return body + cells + sections

    x, y = texts(left), texts(right)
    diffs = [f"{a.name}: {p!r} != {q!r}" for p, q in zip(x, y, strict=False) if p != q]
    return diffs + ([f"{a.name}: {len(x)} != {len(y)} parts"] if len(x) != len(y) else [])


def compare(root: Path, sizes: list[int], one: str, other: str) -> int:
    failures = 0
    for size in sizes:
        a, b = root / f"n{size}" / one, root / f"n{size}" / other
        for path in sorted(a.iterdir()):
            diffs = compare_xlsx(path, b / path.name) if path.suffix == ".xlsx" else compare_docx(path, b / path.name)
            print(f"{size:>6,} {path.name}: {'same' if not diffs else f'{len(diffs)} differences'}")
            for line in diffs[:20]:
                print("       ", line)
            failures += bool(diffs)
    return failures


# ------------------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mailbot-tracker-bench"))
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--seed", type=int, default=500, help="submissions answered by `mailbot once`")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="rebuild the ledgers")
    parser.add_argument("--save", metavar="LABEL", help="write the outputs at a fixed time to <dir>/n<size>/LABEL")
    parser.add_argument("--compare", nargs=2, metavar="LABEL")
    parser.add_argument("--profile", type=Path, metavar="FILE.prof")
    parser.add_argument("--no-timings", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.compare:
        return 1 if compare(args.dir, sizes, *args.compare) else 0
    if args.fresh:
        shutil.rmtree(args.dir, ignore_errors=True)
    seed = seeded(args.dir, args.seed)
    for size in sizes:
        app = build_app(load_settings(sized(args.dir, seed, size) / "config.toml"))
        try:
            if args.save:
                save_outputs(app, app.settings.storage.dir.parent / args.save)
            if args.profile:
                profile(app, args.profile)
            if not args.no_timings:
                for what, seconds in timings(app, args.repeat).items():
                    print(f"{size:>6,} on file  {what:<26} {seconds:8.3f} s", flush=True)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"{size:>6,} on file  {'peak RSS of this process':<26} {peak:8.0f} MB (so far)", flush=True)
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
