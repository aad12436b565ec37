"""A Maildir message arrived when its delivery name says, not when its file was last copied."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from mailbot.adapters.maildir import MaildirMailbox, name_time
from mailbot.demo_mail import VN, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.mailflow import make_workspace

BEFORE_DEADLINE = dt.datetime(2023, 4, 29, 9, 0, tzinfo=VN)  # the call closes on 30/4/2023


def _submission(rules: Rules) -> bytes:
    tasks = [task("Nhiệm vụ thử nghiệm", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]
    return email_bytes(attachments=files)


def _received(raw: bytes, when: str) -> bytes:
    trace = f"Received: from mail.vien.example.vn by mx.example.org with ESMTPS id 4Vb;\r\n\t{when}\r\n"
    return trace.encode() + raw


def _copy_into_new(maildir: Path, name: str, raw: bytes) -> Path:
    """What `cp message new/` does: the bytes under `name`, with a fresh modification time."""
    maildir.parent.mkdir(parents=True, exist_ok=True)
    MaildirMailbox(maildir)
    path = maildir / "new" / name
    path.write_bytes(raw)
    return path


def test_the_delivery_time_is_read_from_a_maildir_name_with_its_microseconds() -> None:
    assert name_time("1682733600.M123456P789Q1.mx.example.org") == dt.datetime(
        2023, 4, 29, 2, 0, 0, 123456, tzinfo=dt.UTC
    )
    assert name_time("1682733600.12345_1.mx.example.org:2,S") == dt.datetime(2023, 4, 29, 2, 0, tzinfo=dt.UTC)
    assert name_time("message-1.eml") is None and name_time("1682733600") is None


def test_a_message_copied_into_new_later_is_not_late_when_its_name_says_it_came_in_time(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    stamp = int(BEFORE_DEADLINE.timestamp())
    path = _copy_into_new(space.maildir, f"{stamp}.M512000P4242Q1.mx.example.org", _submission(rules))
    assert path.stat().st_mtime > BEFORE_DEADLINE.timestamp() + 86400  # the copy is much later than the deadline
    assert space.cli("once").exit_code == 0
    [submission] = space.export()["submissions"]
    assert submission["status"] == "accepted"
    assert space.export()["messages"][0]["received_at"].startswith("2023-04-29T02:00:00")


def test_a_file_without_a_maildir_name_arrived_at_its_topmost_received_date(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    raw = _received(_received(_submission(rules), "Fri, 28 Apr 2023 23:00:00 +0700"), "Sat, 29 Apr 2023 10:15:00 +0700")
    _copy_into_new(space.maildir, "submission-from-backup.eml", raw)
    assert space.cli("once").exit_code == 0
    assert space.export()["submissions"][0]["status"] == "accepted"
    assert space.export()["messages"][0]["received_at"].startswith("2023-04-29T03:15:00")


def test_a_file_with_neither_arrived_at_its_modification_time(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    path = _copy_into_new(space.maildir, "no-trace.eml", _submission(rules))
    after = dt.datetime(2023, 5, 2, 8, 0, tzinfo=VN).timestamp()
    os.utime(path, (after, after))
    assert space.cli("once").exit_code == 0
    assert space.export()["submissions"][0]["late"] is True


def test_new_messages_are_listed_oldest_first_by_the_same_time(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "mail")
    late = int(dt.datetime(2023, 4, 29, 9, 0, tzinfo=VN).timestamp())
    _copy_into_new(tmp_path / "mail", f"{late}.M2P1Q1.mx", email_bytes())
    _copy_into_new(tmp_path / "mail", f"{late}.M1P1Q2.mx", email_bytes())
    _copy_into_new(tmp_path / "mail", "old.eml", _received(email_bytes(), "Thu, 20 Apr 2023 09:00:00 +0700"))
    assert box.list_new() == ["old.eml", f"{late}.M1P1Q2.mx", f"{late}.M2P1Q1.mx"]
