"""`mailbot status` says when the officer's tracker was last written and whether it shows what the ledger holds."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from mailbot.demo import demo_mails
from mailbot.validation.schema import Rules
from tests.mailflow import make_workspace


def test_status_tells_when_the_tracker_was_written_and_whether_it_is_current(tmp_path: Path, rules: Rules) -> None:
    mails = demo_mails(rules, "example.org")
    space = make_workspace(tmp_path)
    space.deliver(mails[:1])
    assert space.cli("once").exit_code == 0
    current = json.loads(space.cli("status", "--json").output)["tracker"]
    written = dt.datetime.fromisoformat(current["written_at"])
    assert current["current"] is True and current["path"] == str(space.tracker)
    assert abs((written - dt.datetime.fromtimestamp(space.tracker.stat().st_mtime, dt.UTC)).total_seconds()) < 1

    space.deliver(mails[1:2])  # answered, but the crash comes before the tracker is rewritten
    env = os.environ | {"MAILBOT_CRASH_AT": "tracker_replacing:1"}
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), "once"]
    crashed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    behind = space.cli("status")
    assert "tracker: last written" in behind.output and "behind the ledger" in behind.output
    assert json.loads(space.cli("status", "--json").output)["tracker"]["current"] is False
