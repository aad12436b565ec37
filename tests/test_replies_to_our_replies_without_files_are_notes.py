"""A reply to our reply that carries no appendix is a note on the submission (RELIABILITY #72): a thank-you,
an out-of-office quoting the receipt, a read receipt inside multipart/mixed. It never becomes a new, empty
version that replaces an accepted one, and never triggers a correction reply."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.mailflow import Workspace, make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
SENDER = "Nguyễn Văn A <a@vien.example.vn>"


@pytest.fixture
def accepted(tmp_path: Path, rules: Rules) -> Workspace:
    """A workspace where one submission was acknowledged."""
    tasks = [task("Nhiệm vụ thử nghiệm", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]
    space = make_workspace(tmp_path)
    space.deliver([DemoMail("plan", email_bytes(sender=SENDER, attachments=files), WHEN, "acknowledged")])
    assert space.cli("once").exit_code == 0
    assert space.export()["submissions"][0]["status"] == "accepted"
    return space


def read_receipt(reply_id: str) -> bytes:
    """A read receipt as some clients send it: inside multipart/mixed, not a top-level multipart/report."""
    return (
        f"From: {SENDER}\r\nTo: nop-de-xuat@example.org\r\nSubject: =?utf-8?q?=C4=90=C3=A3_=C4=91=E1=BB=8Dc?=\r\n"
        f"Message-ID: <mdn-1@vien.example.vn>\r\nIn-Reply-To: {reply_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
        "Your message was read.\r\n--m\r\nContent-Type: message/disposition-notification\r\n\r\n"
        f"Original-Message-ID: {reply_id}\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n--m--\r\n"
    ).encode()


def test_a_thank_you_to_our_acknowledgement_is_a_note_not_a_version(accepted: Workspace) -> None:
    [reply] = accepted.replies()
    body = "Đã nhận, cảm ơn Quý Vụ.\n\nVào ngày 20/4/2023 Vụ TKNL đã viết:\n> Số tiếp nhận SXTDBV-2024-0001\n"
    raw = email_bytes(sender=SENDER, subject="Re: " + str(reply["Subject"]), body=body, in_reply_to=reply["Message-ID"])
    accepted.deliver([DemoMail("thanks", raw, WHEN + dt.timedelta(hours=1), "noted")])
    assert accepted.cli("once").exit_code == 0

    document = accepted.export()
    [submission] = document["submissions"]
    assert submission["version"] == 1 and submission["status"] == "accepted"
    note = document["messages"][1]
    assert note["action"] == "noted" and note["receipt"] == "SXTDBV-2024-0001"
    assert note["reason"] == "Đã nhận, cảm ơn Quý Vụ."  # the quoted part is left out
    assert len(accepted.replies()) == 1  # no correction, no second acknowledgement
    log = openpyxl.load_workbook(accepted.tracker)["Nhật ký"]
    assert ["Ghi nhận lời nhắn", "Đã nhận, cảm ơn Quý Vụ."] in [  # "Xử lý" and "Lời nhắn"
        [row[3].value, row[5].value] for row in log.iter_rows(min_row=2)
    ]


def test_a_read_receipt_inside_multipart_mixed_is_a_note(accepted: Workspace) -> None:
    [reply] = accepted.replies()
    accepted.deliver([DemoMail("mdn", read_receipt(reply["Message-ID"]), WHEN + dt.timedelta(hours=1), "noted")])
    assert accepted.cli("once").exit_code == 0
    document = accepted.export()
    assert document["messages"][1]["action"] in ("noted", "ignored")
    assert document["submissions"][0]["version"] == 1 and len(accepted.replies()) == 1


def test_an_out_of_office_quoting_the_receipt_tag_adds_no_version(accepted: Workspace) -> None:
    raw = email_bytes(
        sender=SENDER,
        subject="Vắng mặt: [SXTDBV-2024-0001] Đã tiếp nhận hồ sơ",
        body="Tôi đang đi công tác đến 25/4, sẽ trả lời sau.",
    )
    accepted.deliver([DemoMail("oof", raw, WHEN + dt.timedelta(hours=2), "noted")])
    assert accepted.cli("once").exit_code == 0
    document = accepted.export()
    assert document["messages"][1]["action"] in ("noted", "ignored")
    assert document["submissions"][0]["version"] == 1 and document["submissions"][0]["status"] == "accepted"
    assert len(accepted.replies()) == 1


def test_a_reply_with_only_a_logo_image_is_still_a_note(accepted: Workspace) -> None:
    [reply] = accepted.replies()
    logo = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    raw = email_bytes(sender=SENDER, body="Cảm ơn.", attachments=[("logo.png", logo)], in_reply_to=reply["Message-ID"])
    accepted.deliver([DemoMail("logo", raw, WHEN + dt.timedelta(hours=1), "noted")])
    assert accepted.cli("once").exit_code == 0
    assert accepted.export()["messages"][1]["action"] == "noted"


def test_a_first_message_without_files_still_gets_a_correction(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    space.deliver([DemoMail("empty", email_bytes(sender=SENDER, body="Xin hỏi hạn nộp?"), WHEN, "correction_sent")])
    assert space.cli("once").exit_code == 0
    assert space.export()["messages"][0]["action"] == "correction_sent"
