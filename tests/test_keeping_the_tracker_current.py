"""The tracker follows the ledger without holding up replies: `run` rewrites it at most once per
[storage] tracker_max_lag_seconds under load and at the latest one window after the last change; `once`
leaves it current; a crash between a commit and the rewrite is repaired by the next start."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail, email
from mailbot.validation.schema import Rules
from tests.mailflow import ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink
from tests.tracker_watch import log_rows, wait_until

LAG = 2.0  # seconds: the window in these tests


def _with_settings(space: Workspace, storage: str, schedule: str = "") -> None:
    """Add keys to [storage] (the last section of both kinds of workspace) and a [schedule] section."""
    text = space.config.read_text(encoding="utf-8").rstrip("\n") + "\n" + storage + "\n"
    if schedule:
        text += f"\n[schedule]\n{schedule}\n"
    space.config.write_text(text, encoding="utf-8")


def _start(space: Workspace) -> subprocess.Popen[str]:
    """`mailbot run`, its log (JSON lines on stderr) in run.log: a pipe nobody reads would block it once full."""
    env = {k: v for k, v in os.environ.items() if k != "MAILBOT_CRASH_AT"}
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), "run"]
    with open(space.root / "run.log", "w", encoding="utf-8") as log:
        return subprocess.Popen(command, stderr=log, text=True, env=env)


def _stop(service: subprocess.Popen[str], space: Workspace) -> list[dict[str, Any]]:
    """SIGTERM, wait for the exit, the log events."""
    service.terminate()
    service.wait(timeout=120)
    stderr = (space.root / "run.log").read_text(encoding="utf-8")
    assert service.returncode == 0, stderr[-3000:]
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _moment(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(event["timestamp"]).timestamp()


def _letters(count: int) -> list[DemoMail]:
    """Distinct messages from distinct senders (no attachment: each is answered with a correction)."""
    when = dt.datetime.now(dt.UTC)
    letters = []
    for n in range(count):
        sender = f"Đơn vị {n} <don-vi-{n}@example.org>"
        raw, message_id = email(sender, f"Hồ sơ đề xuất {n}", "Kính gửi Vụ.", date=when)
        letters.append(DemoMail(f"letter {n}", raw, when, "correction_sent", message_id))
    return letters


@pytest.fixture
def idle_space(
    tmp_path: Path, dovecot: Dovecot, certificates: Certificates, start_smtp_sink: Callable[..., SmtpSink]
) -> ImapWorkspace:
    """A real Dovecot account watched with IDLE (the poll is an hour away), a window of LAG seconds."""
    user = (f"u{secrets.token_hex(4)}", secrets.token_urlsafe(10))
    dovecot.add_user(*user)
    space = ImapWorkspace(tmp_path / "work", dovecot, user, start_smtp_sink(tls=True), certificates)
    _with_settings(space, f"tracker_max_lag_seconds = {LAG}", "interval_seconds = 3600")
    return space


def _deliver_continuously(space: ImapWorkspace, letters: list[DemoMail], every: float) -> None:
    for letter in letters:
        space.deliver([letter])
        time.sleep(every)


def test_under_continuous_mail_the_tracker_is_rewritten_at_most_once_per_window(idle_space: ImapWorkspace) -> None:
    letters = _letters(16)
    service = _start(idle_space)
    try:
        wait_until(lambda: (idle_space.root / "var" / "heartbeat").exists(), 60, "the first batch did not finish")
        _deliver_continuously(idle_space, letters, every=0.4)
        wait_until(lambda: len(idle_space.replies()) == len(letters), 60, "not every letter was answered")
    finally:
        events = _stop(service, idle_space)
    stopping = next(_moment(e) for e in events if e["event"] == "stopping")
    writes = [_moment(e) for e in events if e["event"] == "tracker_written" and _moment(e) < stopping]
    batches = [e for e in events if e["event"] == "batch_done" and e["processed"]]
    assert len(batches) > len(writes) + 2  # the mail came in many batches: the window, not the batch, set the pace
    gaps = [later - earlier for earlier, later in itertools.pairwise(writes)]
    assert len(writes) >= 2 and min(gaps) >= LAG - 0.05  # the log's clock against the keeper's: a little slack


def test_after_the_last_message_the_tracker_is_current_within_the_window(idle_space: ImapWorkspace) -> None:
    letters = _letters(8)
    service = _start(idle_space)
    try:
        wait_until(lambda: (idle_space.root / "var" / "heartbeat").exists(), 60, "the first batch did not finish")
        _deliver_continuously(idle_space, letters, every=0.2)
        wait_until(lambda: len(idle_space.replies()) == len(letters), 60, "not every letter was answered")
        answered = time.monotonic()
        wait_until(lambda: log_rows(idle_space.tracker) == len(letters), LAG + 15, "the tracker did not catch up")
        caught_up = time.monotonic() - answered
    finally:
        _stop(service, idle_space)
    assert caught_up < LAG + 15  # one window and one rebuild on a busy test machine, not the next poll an hour away


def test_once_leaves_the_tracker_current_every_time(tmp_path: Path, rules: Rules) -> None:
    mails = demo_mails(rules, "example.org")
    space = make_workspace(tmp_path)
    _with_settings(space, "tracker_max_lag_seconds = 3600")  # the window is `run`'s; `once` ignores it
    for batch in (mails[:2], mails[2:3]):
        space.deliver(batch)
        assert space.cli("once").exit_code == 0
        assert log_rows(space.tracker) == len(space.export()["messages"]) > 0


def test_a_crash_before_the_tracker_was_rewritten_is_repaired_by_the_next_start_of_run(
    tmp_path: Path, rules: Rules
) -> None:
    mails = demo_mails(rules, "example.org")
    space = make_workspace(tmp_path)
    _with_settings(space, "tracker_max_lag_seconds = 3600", "interval_seconds = 3600")
    space.deliver(mails[:1])
    assert space.cli("once").exit_code == 0
    space.deliver(mails[1:3])
    env = os.environ | {"MAILBOT_CRASH_AT": "tracker_replacing:1"}
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), "once"]
    crashed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert log_rows(space.tracker) == 1  # the ledger holds three messages, the tracker one

    service = _start(space)  # no new mail, a window of an hour: only the check at start can repair it
    try:
        wait_until(lambda: log_rows(space.tracker) == 3, 60, "the tracker was not repaired at start")
    finally:
        _stop(service, space)


def test_a_run_started_on_a_current_tracker_leaves_it_as_it_is(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _with_settings(space, f"tracker_max_lag_seconds = {LAG}", "interval_seconds = 5")
    space.deliver(demo_mails(rules, "example.org")[:2])
    assert space.cli("once").exit_code == 0
    before = space.tracker.stat().st_ino, space.tracker.stat().st_mtime_ns

    service = _start(space)
    try:
        wait_until(lambda: (space.root / "var" / "heartbeat").exists(), 60, "the first batch did not finish")
        time.sleep(LAG * 2)  # the check at start, and after the first batch, found nothing to do
    finally:
        events = _stop(service, space)
    assert not [e for e in events if e["event"] == "tracker_written"]
    assert (space.tracker.stat().st_ino, space.tracker.stat().st_mtime_ns) == before


@pytest.mark.parametrize("value", ["0", "-5", '"soon"'])
def test_check_names_a_bad_lag_window(tmp_path: Path, value: str) -> None:
    space = make_workspace(tmp_path)
    _with_settings(space, f"tracker_max_lag_seconds = {value}")
    result = space.cli("check")
    assert result.exit_code == 78
    assert "storage.tracker_max_lag_seconds" in result.output


def test_under_run_an_unwritable_tracker_is_told_and_written_as_soon_as_it_can_be(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _with_settings(space, f"tracker_max_lag_seconds = {LAG}", "interval_seconds = 5")
    alerts = '\n[alerts]\nto = ["quan-tri@example.org"]\ntracker_minutes = 0\n'
    space.config.write_text(space.config.read_text(encoding="utf-8") + alerts, encoding="utf-8")
    space.tracker.parent.mkdir(parents=True, exist_ok=True)
    space.tracker.mkdir()  # something that is not a workbook holds its place
    space.deliver(demo_mails(rules, "example.org")[:1])

    def told(kind: str) -> bool:
        return any(m.get("X-Mailbot-Alert") == f"tracker_locked; {kind}" for m in space.replies())

    service = _start(space)
    try:
        wait_until(lambda: told("alert"), 60, "the unwritable tracker was not told")
        space.tracker.rmdir()  # the ledger does not change again: the keeper tries again all the same
        wait_until(lambda: log_rows(space.tracker) == 1 and told("resolved"), 60, "the tracker was not written")
    finally:
        _stop(service, space)
