"""The officer's daily digest, end to end on the Maildir workspace with a roster: once a day from its hour,
exactly once across restarts (separate runs of `once`, and `mailbot run` stopped and started), with counts,
arrivals, what needs the officer, the days left and the workbook attached."""

from __future__ import annotations

import datetime as dt
import io
import signal
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo_mail import VN, DemoMail
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace
from tests.officer_workspace import OFFICER, jobs, mails, officer_workspace, outbox_rows, own_mail

DEPUTY = "pho-vu@moit.example.vn"
DIGEST = f'\n[digest]\nto = ["{OFFICER}", "{DEPUTY}"]\nat = "08:00"\n'
LEATHER, WRONG, PLASTIC, CLEANER = "valid xlsx + docx", "row errors", "a zip of both files", "Phụ lục 1 as a Word table"


def once(space: Workspace, at: str) -> None:
    result = space.cli("once", "--at", at)
    assert result.exit_code == 0, result.output


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]  # a text part


def broken_mail() -> DemoMail:
    """A multipart message whose parts never start: quarantined."""
    raw = (
        "From: Ai đó <ai@broken.example.vn>\r\nTo: nop-de-xuat@example.org\r\nSubject: Ho so\r\n"
        "Message-ID: <broken.1@broken.example.vn>\r\nDate: Sun, 16 Apr 2023 09:00:00 +0700\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="zz"\r\n\r\nno part starts here\r\n'
    ).encode()
    return DemoMail("broken", raw, dt.datetime(2023, 4, 16, 9, tzinfo=VN), "quarantined")


def test_the_digest_is_sent_once_a_day_from_its_hour_across_restarts(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, DIGEST)
    space.deliver(mails(rules, LEATHER, WRONG))
    once(space, "2023-04-21T07:59")
    assert own_mail(space, "digest:") == []  # not before 08:00

    once(space, "2023-04-21T08:00")
    once(space, "2023-04-21T20:00")  # each `once` is a new process's worth of state: the ledger decides
    first = own_mail(space, "digest:")
    assert sorted(str(m["To"]) for m in first) == sorted([OFFICER, DEPUTY])
    assert {str(m["X-Mailbot-Job"]) for m in first} == {"digest:2023-04-21"}
    assert first[0]["Auto-Submitted"] == "auto-generated" and first[0]["X-Auto-Response-Suppress"] == "All"

    once(space, "2023-04-22T07:30")
    assert len(own_mail(space, "digest:")) == 2
    once(space, "2023-04-22T08:30")
    assert [k for k in jobs(space) if k.startswith("digest:")] == ["digest:2023-04-21", "digest:2023-04-22"]
    assert len(own_mail(space, "digest:")) == 4
    assert len(outbox_rows(space, "digest")) == 4


def test_the_digest_attaches_the_workbook(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, DIGEST)
    space.deliver(mails(rules, LEATHER, WRONG))
    once(space, "2023-04-21T08:00")
    digest = own_mail(space, "digest:")[0]
    attachment, compiled = list(digest.iter_attachments())
    assert attachment.get_filename() == "tracker.xlsx"
    assert compiled.get_filename() == "tong-hop-de-xuat-nhiem-vu-2024.xlsx"  # the compiled plan beside it
    assert "Kèm theo bản tổng hợp đề xuất" in digest.get_body(("plain",)).get_content()
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    receipts = [r[0] for r in book["Hồ sơ"].iter_rows(min_row=2, values_only=True) if r[0]]
    book.close()
    assert sorted(receipts) == ["SXTDBV-2024-0001", "SXTDBV-2024-0002"]
    assert "Đính kèm: tracker.xlsx" in text_of(digest)


def test_a_workbook_larger_than_the_limit_is_named_not_attached(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, DIGEST + "max_attachment_mb = 0.001\n")
    space.deliver(mails(rules, LEATHER))
    once(space, "2023-04-21T08:00")
    digest = own_mail(space, "digest:")[0]
    assert list(digest.iter_attachments()) == []
    assert "lớn hơn giới hạn đính kèm 0.001 MB" in text_of(digest) and str(space.tracker) in text_of(digest)


def test_the_digest_tells_counts_arrivals_what_needs_the_officer_and_the_days_left(
    tmp_path: Path, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = officer_workspace(tmp_path, DIGEST)
    space.deliver(mails(rules, LEATHER, WRONG))
    once(space, "2023-04-14T10:00")  # the first digest: leather and textile arrived
    space.deliver(mails(rules, CLEANER))
    monkeypatch.setenv("MAILBOT_CRASH_AT", "parsed:1:raise")  # a bug this message triggers: failed
    once(space, "2023-04-14T11:00")
    monkeypatch.delenv("MAILBOT_CRASH_AT")
    space.deliver([*mails(rules, PLASTIC), broken_mail()])
    once(space, "2023-04-16T07:00")  # before the hour: no digest that day yet
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:  # the plastic company's note asks
        db.execute("UPDATE versions SET note = 'Xin gia hạn đến 5/5', note_asks = 1 WHERE version = 1 AND id = 3")

    once(space, "2023-04-21T08:00")
    text = text_of(own_mail(space, "digest:2023-04-21")[0])
    assert "Ngày 21/04/2023" in text and "còn 9 ngày" in text
    assert "  - Đã tiếp nhận: 2\n  - Cần chỉnh sửa: 1\n" in text
    assert "ĐƠN VỊ TRONG DANH SÁCH (4 đơn vị)" in text
    assert "  - Chưa nộp: 2\n  - Đã nộp: 1\n  - Cần chỉnh sửa: 1\n" in text and "  - Ngoài danh sách: 1\n" in text
    arrived = text.split("THƯ ĐẾN TỪ 14/04/2023 10:00", 1)[1].split("CẦN CÁN BỘ XỬ LÝ", 1)[0]
    assert "(2 thư)" in arrived  # the failed one came into the mailbox on 12/4: listed as failed below
    assert arrived.splitlines()[1:3] == [
        "  - 15/04/2023 09:00 – plastic@plastic.example.vn – Đã gửi xác nhận – SXTDBV-2024-0003",
        "  - 16/04/2023 09:00 – ai@broken.example.vn – Cách ly",
    ]
    needs = text.split("CẦN CÁN BỘ XỬ LÝ", 1)[1]
    assert "Thư không xử lý được (1)" in needs and "cleaner@cleaner.example.vn – “Gửi đề xuất nhiệm vụ 2024”" in needs
    assert "Thư bị cách ly từ 14/04/2023 10:00 (1)" in needs and "ai@broken.example.vn – “Ho so”" in needs
    assert "SXTDBV-2024-0003 – Công ty Cổ phần Nhựa Xanh: “Xin gia hạn đến 5/5”" in needs
    assert "Hồ sơ chờ chỉnh sửa quá 5 ngày (1)" in needs
    assert "SXTDBV-2024-0002 – Viện Dệt May: 7 ngày (từ 14/04/2023)" in needs
    subject = str(own_mail(space, "digest:2023-04-21")[0]["Subject"])
    assert subject == "[mailbot sxtdbv-2024] Bản tin ngày 21/04/2023: 3 hồ sơ, 2 thư mới, 4 việc cần xử lý, còn 9 ngày"


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]  # a callable
            return True
        time.sleep(0.25)
    return False


def _run(space: Workspace) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "mailbot", "--config", str(space.config), "run"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    return err


def test_mailbot_run_sends_the_day_s_digest_once_across_a_restart(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, DIGEST.replace('"08:00"', '"00:00"') + "\n[schedule]\ninterval_seconds = 5\n")
    space.deliver(mails(rules, LEATHER))
    heartbeat = space.root / "var" / "heartbeat"

    first = _run(space)
    try:
        assert _wait_for(lambda: len(own_mail(space, "digest:")) == 2, 60)
    finally:
        logs = _stop(first)
    second = _run(space)
    try:
        started = time.time()
        assert _wait_for(lambda: heartbeat.stat().st_mtime > started + 6, 60)  # polled, and checked what is due
    finally:
        logs += _stop(second)

    assert logs.count('"digest_queued"') == 1
    assert len([k for k in jobs(space) if k.startswith("digest:")]) == 1
    assert len(outbox_rows(space, "digest")) == 2 and len(own_mail(space, "digest:")) == 2
