"""Benchmark (not a test): `mailbot validate` on a workbook built to make checking slow.

The workbook is small (about 20 KB: Excel's shared-strings table stores a text once however many
cells hold it) but its 4,998 task cells under a Phụ lục 1 header all hold one 32,000-character
string. Checking used to fold and fuzzy-match (difflib) the whole text of every cell, which takes
hours; with bounded text and the per-submission time budget it takes seconds. Prints the time of
`python -m mailbot validate` on it (a child of its own, killed at --timeout) and the outcome.

    .venv/bin/python bench/hostile_validation.py [--root CHECKOUT] [--timeout 300] [--rows 357]

`--root` runs another checkout's mailbot (e.g. an export of an older commit) on the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders.sheets import long_text_workbook  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--rows", type=int, default=357)
    args = parser.parse_args()
    data = long_text_workbook(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.xlsx"
        path.write_bytes(data)
        env = {**os.environ, "PYTHONPATH": str(args.root)}
        command = [sys.executable, "-m", "mailbot", "validate", "--json", str(path)]
        started = time.monotonic()
        try:
            run = subprocess.run(command, capture_output=True, env=env, cwd=folder, timeout=args.timeout, check=False)
        except subprocess.TimeoutExpired:
            print(f"{len(data):,} bytes, {args.rows * 14:,} cells of 32,000 characters: killed at {args.timeout:g} s")
            return
        seconds = time.monotonic() - started
    findings = Counter(f["code"] for f in json.loads(run.stdout)["findings"])
    print(f"{len(data):,} bytes, {args.rows * 14:,} cells of 32,000 characters: {seconds:.1f} s, exit {run.returncode}")
    print("findings:", ", ".join(f"{code} × {count}" for code, count in findings.most_common()))


if __name__ == "__main__":
    main()
