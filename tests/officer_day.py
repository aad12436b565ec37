"""A realistic month of mail for the officer's workbook, run through `mailbot once` on a Maildir workspace.

The demo's messages (acknowledged, a correction and its resubmission, an out-of-office, a newsletter, a
duplicate, a late submission), then: a late submission with errors, a submission whose covering letter
asks for more time (forwarded to the officer), a thank-you with a question replying to an
acknowledgement (noted), a message with a broken MIME structure (quarantined), and one that hits a fault
in the program (failed). Each `once` is its own run, as in production.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mailbot.demo import demo_mails
from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.intake import parse_message
from mailbot.replies import reply_message_id
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.mailflow import Workspace, make_workspace

OFFICER = "quangch@moit.example.vn"
LATE_WITH_ERRORS = "SXTDBV-2024-0007"
ASKING = "SXTDBV-2024-0006"
EXTENSION_NOTE = "Kính gửi Vụ TKNL, Viện xin gia hạn nộp bản giấy đến ngày 5/5/2023."
QUESTION = "Cảm ơn Quý Vụ. Cho hỏi đơn vị có cần gửi bản giấy không?"


def files(rules: Rules, organization: str, *, total: float = 500, state: float = 500) -> list[tuple[str, bytes]]:
    tasks = [task("Nhiệm vụ thử nghiệm của " + organization, 2, "2024-01", "2024-06", total, state, organization)]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, organization, tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def run(space: Workspace, mails: list[DemoMail], *, fault: str | None = None) -> None:
    import os

    space.deliver(mails)
    if fault:
        os.environ["MAILBOT_CRASH_AT"] = fault
    try:
        result = space.cli("once")
    finally:
        os.environ.pop("MAILBOT_CRASH_AT", None)
    assert result.exit_code == 0, result.output


def officer_day(root: Path, rules: Rules) -> Workspace:
    space = make_workspace(root)
    with space.config.open("a", encoding="utf-8") as config:
        config.write(f'\n[officer]\nemail = "{OFFICER}"\n')
    demo = demo_mails(rules, "example.org")
    run(space, demo)
    leather_ack = reply_message_id(parse_message(demo[0].raw), "example.org")
    after = dt.datetime(2023, 5, 4, 9, 0, tzinfo=VN)
    more = [
        DemoMail(
            "late, with errors",
            email_bytes(
                sender="Công ty Gốm <gom@gom.example.vn>",
                subject="Đề xuất nhiệm vụ (muộn)",
                attachments=files(rules, "Công ty Gốm", total=500, state=900),  # NSNN above the total: an error
            ),
            after,
            "correction_sent",
        ),
        DemoMail(
            "asks for more time",
            email_bytes(
                sender="Viện Cơ khí <ck@ck.example.vn>",
                subject="Đề xuất nhiệm vụ 2024",
                body=f"{EXTENSION_NOTE}\n\nTrân trọng,\nNguyễn Văn C\nĐT 0900000000\n",
                attachments=files(rules, "Viện Cơ khí"),
            ),
            dt.datetime(2023, 4, 25, 9, 0, tzinfo=VN),
            "acknowledged",
        ),
        DemoMail(
            "a question replying to an acknowledgement",
            email_bytes(
                sender="Viện Da Giày <leather@leather.example.vn>",
                subject="Re: Xác nhận đã nhận hồ sơ",
                body=f"{QUESTION}\n\nVào ngày 10/4/2023 Vụ TKNL đã viết:\n> Số tiếp nhận SXTDBV-2024-0001\n",
                in_reply_to=leather_ack,
            ),
            dt.datetime(2023, 4, 26, 9, 0, tzinfo=VN),
            "noted",
        ),
    ]
    run(space, more)
    raw = email_bytes(sender="Ai đó <x@x.example.vn>", attachments=files(rules, "Đơn vị X"))
    boundary = raw.split(b'boundary="')[1].split(b'"')[0]
    broken = raw.replace(b'boundary="' + boundary, b'boundary="not-' + boundary, 1)
    run(space, [DemoMail("broken MIME", broken, dt.datetime(2023, 4, 27, 9, 0, tzinfo=VN), "quarantined")])
    poison = email_bytes(sender="Đơn vị Y <y@y.example.vn>", attachments=files(rules, "Đơn vị Y"))
    run(space, [DemoMail("a fault", poison, dt.datetime(2023, 4, 28, 9, 0, tzinfo=VN), "failed")], fault="read:1:raise")
    return space
