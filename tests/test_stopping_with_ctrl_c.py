"""Ctrl-C stops `once` and `run` like a tool: no traceback, least of all from the child reading an attachment.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group, the reading child included; these
tests do the same (a new session, then SIGINT to its group) while a slow attachment is being read.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbot.demo_mail import VN, DemoMail, email
from tests.builders.sheets import xlsx_bytes
from tests.mailflow import Workspace, make_workspace


@pytest.fixture(scope="module")
def slow_sheet() -> bytes:
    """A workbook that takes the reading child several seconds."""
    return xlsx_bytes([[f"ô {r}-{c}" for c in range(20)] for r in range(8_000)])


@pytest.fixture
def space(tmp_path: Path, slow_sheet: bytes) -> Workspace:
    space = make_workspace(tmp_path)
    when = dt.datetime(2023, 4, 10, 9, tzinfo=VN)
    raw, message_id = email(
        "Viện X <x@x.example.vn>", "Đề xuất nhiệm vụ", "Kính gửi", [("PhuLuc1.xlsx", slow_sheet)], date=when
    )
    space.deliver([DemoMail("slow", raw, when, "acknowledged", message_id)])
    return space


def _children(pid: int) -> Iterator[str]:
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            yield Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")


def _ctrl_c_while_reading(space: Workspace, command: str) -> subprocess.CompletedProcess[str]:
    service = subprocess.Popen(
        [sys.executable, "-m", "mailbot", "--config", str(space.config), command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any("spawn_main" in child for child in _children(service.pid)):
            assert service.poll() is None and time.monotonic() < deadline, "the reading child never started"
            time.sleep(0.05)
        time.sleep(1.5)  # the child has imported its readers and is in the middle of the workbook
        assert service.poll() is None
        os.killpg(service.pid, signal.SIGINT)
        stdout, stderr = service.communicate(timeout=60)
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
    return subprocess.CompletedProcess(service.args, service.returncode, stdout, stderr)


def test_ctrl_c_during_once_exits_130_with_one_line_and_leaves_the_message_for_next_time(space: Workspace) -> None:
    done = _ctrl_c_while_reading(space, "once")
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("mailbot: interrupted")
    assert len(space.inbox()) == 1 and not list(space.outbox.glob("*.eml"))


def test_ctrl_c_during_run_finishes_the_message_and_stops_without_a_traceback(space: Workspace) -> None:
    done = _ctrl_c_while_reading(space, "run")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert '"event": "stopped"' in done.stderr
    assert len(space.inbox()) == 0 and len(list(space.outbox.glob("*.eml"))) == 1
