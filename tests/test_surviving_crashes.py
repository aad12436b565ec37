"""Killed with SIGKILL at any step, `mailbot once` recovers on the next run (mbsync-style crash matrix).

After recovery: every message has exactly one outcome, the outbox holds no two replies for one
message, and the tracker matches the ledger.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace, make_workspace

#: (checkpoint, which time it is reached): 22 crash points spread over the whole way of a message.
CRASHES = [
    ("fetched", 1), ("fetched", 5), ("fetched", 9),
    ("archived", 2), ("archived", 5), ("archived", 8),
    ("committed", 1), ("committed", 3), ("committed", 6), ("committed", 7), ("committed", 9),
    ("sending", 1), ("sending", 3), ("sending", 4), ("sending", 6),
    ("handed_over", 2), ("handed_over", 5), ("handed_over", 6),
    ("moved", 1), ("moved", 7), ("moved", 9),
    ("tracker_replacing", 1),
]  # fmt: skip


@pytest.fixture(scope="module")
def mails(rules: Rules) -> list[DemoMail]:
    return demo_mails(rules, "example.org")


def run_once(space: Workspace, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAILBOT_CRASH_AT"}
    if crash_at:
        env["MAILBOT_CRASH_AT"] = crash_at
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), "once"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def tracker_rows(path: Path, sheet: str) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[sheet].iter_rows(min_row=2, values_only=True))
    book.close()
    return [r for r in rows if any(v is not None for v in r)]


@pytest.mark.parametrize(("point", "nth"), CRASHES, ids=[f"{p}-{n}" for p, n in CRASHES])
def test_a_crash_at_any_step_is_recovered_on_the_next_run(
    tmp_path: Path, mails: list[DemoMail], point: str, nth: int
) -> None:
    space = make_workspace(tmp_path)
    space.deliver(mails)

    crashed = run_once(space, f"{point}:{nth}")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    recovered = run_once(space)
    assert recovered.returncode == 0, recovered.stderr[-2000:]

    document = space.export()
    assert [m["action"] for m in document["messages"]] == [m.expect for m in mails]
    assert space.inbox() == []
    threads = [r["In-Reply-To"] for r in space.replies()]
    answered = [m.message_id for m in mails if m.expect in ("acknowledged", "correction_sent")]
    assert sorted(threads) == sorted(answered)  # one reply per answered message, none twice
    receipts = [s["receipt"] for s in document["submissions"]]
    assert [r[0] for r in tracker_rows(space.tracker, "Hồ sơ")] == receipts
    assert len(tracker_rows(space.tracker, "Nhật ký")) == len(mails)
    assert not list(space.tracker.parent.glob(".tracker.xlsx.*.tmp"))
