"""Shared by the reminder and digest tests: a Maildir workspace with a roster, and readers of mailbot's own mail.

The roster holds the demo's leather and textile institutes (who submit), an energy institute with two
addresses (who never submits) and a centre known only by its domain (who cannot be reminded).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace, make_workspace

ROSTER = """Mã,Tên đơn vị,Email
DG,Viện Nghiên cứu Da - Giày,leather@leather.example.vn
DM,Viện Dệt May,textile@textile.example.vn
NL,Viện Năng lượng,van-thu@vnl.example.vn; nl@vnl.example.vn
TT,Trung tâm Tiết kiệm năng lượng,@ttnl.example.vn
"""
ENERGY = ["van-thu@vnl.example.vn", "nl@vnl.example.vn"]
OFFICER = "can-bo@moit.example.vn"


def officer_workspace(root: Path, extra: str = "") -> Workspace:
    """The demo's workspace with the roster above and `extra` TOML appended."""
    space = make_workspace(root)
    (root / "don-vi.csv").write_text(ROSTER, encoding="utf-8")
    text = space.config.read_text(encoding="utf-8")
    space.config.write_text(text + '\n[roster]\nfile = "don-vi.csv"\n' + extra, encoding="utf-8")
    return space


def mails(rules: Rules, *labels: str) -> list[DemoMail]:
    """The demo's messages with these labels, in delivery order."""
    chosen = [m for m in demo_mails(rules, "example.org") if m.label in labels]
    assert len(chosen) == len(labels), [m.label for m in chosen]
    return chosen


def own_mail(space: Workspace, prefix: str = "") -> list[EmailMessage]:
    """Mail mailbot sent of its own accord (a job key), whose key starts with `prefix`, by job key and recipient."""
    found = [r for r in space.replies() if str(r.get("X-Mailbot-Job", "")).startswith(prefix or "")]
    found = [r for r in found if r.get("X-Mailbot-Job")]
    return sorted(found, key=lambda r: (str(r["X-Mailbot-Job"]), str(r["To"])))


def jobs(space: Workspace) -> list[str]:
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:
        return [str(r[0]) for r in db.execute("SELECT key FROM jobs ORDER BY key")]


def outbox_rows(space: Workspace, kind: str) -> list[tuple[str, str, str]]:
    """(reply id, recipient, state) of every outbox row of one kind."""
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:
        rows = db.execute("SELECT reply_id, recipient, state FROM outbox WHERE kind = ? ORDER BY id", (kind,))
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def run_mailbot(space: Workspace, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mailbot ARGS` in a process of its own (so a SIGKILL kills only it)."""
    env = {k: v for k, v in os.environ.items() if k != "MAILBOT_CRASH_AT"}
    if crash_at:
        env["MAILBOT_CRASH_AT"] = crash_at
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
