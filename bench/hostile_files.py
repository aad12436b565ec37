"""Benchmark (not a test): time and peak memory of `mailbot validate` on hostile workbooks (RELIABILITY #70).

Each file is validated in-process by `python -m mailbot validate` in a child of its own (the way the
command runs, without the reading worker), under a time limit and an address-space cap so that a
checkout without the limits cannot take the machine down. Prints wall time, peak RSS (the child's
ru_maxrss) and the outcome for each file, and for an ordinary Phụ lục 1 for comparison.

    .venv/bin/python bench/hostile_files.py [--root CHECKOUT] [--timeout 60] [--memory-mb 3072]

`--root` runs another checkout's mailbot (e.g. an export of an older commit) on the same files.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders.sheets import hostile_workbooks, xlsx_bytes  # noqa: E402
from tests.builders.submissions import task_list  # noqa: E402


def run_one(path: Path, root: Path, timeout: float, memory_mb: int) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, outcome) of validating `path` in a fresh child."""

    def cap() -> None:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "mailbot", "validate", "--json", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=path.parent,  # not this checkout: `-m` puts the working directory first on sys.path
        preexec_fn=cap,
    )
    outcome = "?"
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > timeout:
            child.send_signal(signal.SIGKILL)
            _, status, usage = os.wait4(child.pid, 0)
            outcome = f"killed after {timeout:g} s"
            break
        time.sleep(0.02)
    seconds = time.monotonic() - started
    output = child.stdout.read().decode("utf-8", "replace") if child.stdout else ""
    if outcome == "?":
        outcome = _outcome(output, os.waitstatus_to_exitcode(status))
    return seconds, usage.ru_maxrss / 1024, outcome


def _outcome(output: str, code: int) -> str:
    if '"file_too_complex"' in output:
        return "file_too_complex"
    if code < 0 or code not in (0, 1):
        return f"crashed (exit {code}, likely out of memory)"
    tasks = output.count('"ten_nhiem_vu"')
    return f"read, exit {code}, {tasks} task field(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--memory-mb", type=int, default=3072)
    args = parser.parse_args()
    rows = task_list().rows
    files = {"ordinary": xlsx_bytes(rows), **hostile_workbooks(rows)}
    print(f"mailbot from {args.root}; limit {args.timeout:g} s, {args.memory_mb} MB address space")
    print(f"{'file':<26}{'size':>10}{'seconds':>10}{'peak RSS':>12}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files.items():
            path = Path(folder) / f"{name}.xlsx"
            path.write_bytes(data)
            seconds, rss, outcome = run_one(path, args.root, args.timeout, args.memory_mb)
            print(f"{name:<26}{len(data):>10,}{seconds:>10.2f}{rss:>9.0f} MB  {outcome}")


if __name__ == "__main__":
    main()
