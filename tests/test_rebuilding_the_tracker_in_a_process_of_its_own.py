"""Under `run` the tracker is rebuilt by a child process of mailbot's, at a lower priority, so that a rebuild never
holds the interpreter while a reply is made; a child that dies is replaced and the tracker still follows the
ledger; stopping leaves the tracker current and no child behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from mailbot.demo import demo_mails
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace, make_workspace
from tests.tracker_watch import log_rows, wait_until

LAG = 1.0  # seconds: the window in these tests


def _workspace(tmp_path: Path, lag: float = LAG) -> Workspace:
    space = make_workspace(tmp_path)
    text = space.config.read_text(encoding="utf-8").rstrip("\n")  # [storage] is the last section
    text += f"\ntracker_max_lag_seconds = {lag}\n\n[schedule]\ninterval_seconds = 5\n"
    space.config.write_text(text, encoding="utf-8")
    return space


def _start(space: Workspace) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAILBOT_CRASH_AT"}
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), "run"]
    with open(space.root / "run.log", "w", encoding="utf-8") as log:
        return subprocess.Popen(command, stderr=log, text=True, env=env)


def _events(space: Workspace) -> list[dict[str, Any]]:
    """The service's log so far (JSON lines); a line being written is left for the next look."""
    lines = (space.root / "run.log").read_text(encoding="utf-8").splitlines()
    events = []
    for line in lines:
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                events.append(json.loads(line))
    return events


def _stop(service: subprocess.Popen[str], space: Workspace) -> list[dict[str, Any]]:
    service.terminate()
    service.wait(timeout=120)
    assert service.returncode == 0, (space.root / "run.log").read_text(encoding="utf-8")[-3000:]
    return _events(space)


def _children(space: Workspace) -> list[int]:
    """The pids of the tracker's processes the service told of, in order."""
    return [e["pid"] for e in _events(space) if e["event"] == "tracker_process_started"]


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return int(stat.rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] == "Z"


def test_under_run_the_tracker_is_written_by_a_child_of_mailbot_at_a_lower_priority(
    tmp_path: Path, rules: Rules
) -> None:
    space = _workspace(tmp_path)
    space.deliver(demo_mails(rules, "example.org")[:2])
    service = _start(space)
    try:
        wait_until(lambda: log_rows(space.tracker) == 2, 90, "the tracker was not written", service)
        [child] = _children(space)
        assert child != service.pid and _parent_of(child) == service.pid
        assert os.getpriority(os.PRIO_PROCESS, child) == min(19, os.getpriority(os.PRIO_PROCESS, service.pid) + 10)
    finally:
        events = _stop(service, space)
    writers = {e["pid"] for e in events if e["event"] == "tracker_written"}
    assert writers == {child}  # every rewrite was the child's, none the service's own


def test_a_killed_tracker_process_is_replaced_and_the_tracker_still_follows_the_ledger(
    tmp_path: Path, rules: Rules
) -> None:
    mails = demo_mails(rules, "example.org")
    space = _workspace(tmp_path)
    space.deliver(mails[:1])
    service = _start(space)
    try:
        wait_until(lambda: log_rows(space.tracker) == 1, 90, "the tracker was not written", service)
        [first] = _children(space)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: _gone(first), 10, "the tracker's process was not killed", service)
        space.deliver(mails[1:3])
        wait_until(
            lambda: log_rows(space.tracker) == 3, 90, "the tracker did not follow the ledger after the kill", service
        )
        second = _children(space)[-1]
        assert second != first and _parent_of(second) == service.pid
    finally:
        events = _stop(service, space)
    crashed = [e for e in events if e["event"] == "tracker_crashed"]
    assert len(crashed) == 1 and crashed[0]["exit_code"] == -signal.SIGKILL


def test_stopping_run_leaves_the_tracker_current_and_no_tracker_process_behind(tmp_path: Path, rules: Rules) -> None:
    mails = demo_mails(rules, "example.org")
    space = _workspace(tmp_path, lag=3600)  # after the check at start, only the check at stop can write it
    service = _start(space)
    try:
        wait_until(
            lambda: bool(_children(space)) and space.tracker.exists(),
            90,
            "the check at start did not write it",
            service,
        )
        [child] = _children(space)
        space.deliver(mails[:2])
        wait_until(lambda: len(space.replies()) == 2, 90, "the mail was not answered", service)
        assert log_rows(space.tracker) == 0  # within the window: not yet
    finally:
        _stop(service, space)
    assert log_rows(space.tracker) == 2
    wait_until(lambda: _gone(child), 10, "the tracker's process outlived the service")
