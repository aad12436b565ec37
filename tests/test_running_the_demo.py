"""`mailbot demo` reads like a tool: a table of what became of each message and submission, no log lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _demo(workspace: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbot", "demo", "--dir", str(workspace)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_demo_prints_one_readable_line_per_message_and_per_submission_and_logs_nothing(tmp_path: Path) -> None:
    run = _demo(tmp_path / "demo", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # only warnings and errors are logged, and a clean demo has none
    lines = run.stdout.splitlines()
    assert lines[0] == "9 messages delivered to the demo mailbox and processed:"
    assert "  03/05/2023 08:30  acknowledged      SXTDBV-2024-0005  Đề xuất nhiệm vụ 2024 (gửi muộn)" in lines
    assert sum(" correction_sent " in line for line in lines) == 1 and "5 submissions:" in lines
    assert not any(line.lstrip().startswith("{") for line in lines)


def test_the_demo_refuses_a_folder_that_is_not_an_earlier_demo(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me\n", encoding="utf-8")
    run = _demo(tmp_path / "mine", tmp_path)
    assert run.returncode == 1 and "is not a mailbot demo" in run.stderr and "Traceback" not in run.stderr
    assert (tmp_path / "mine" / "notes.txt").is_file()
