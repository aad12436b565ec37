"""Nothing recorded wrongly: a reused Message-ID is not a duplicate, forwards and delivery reports written in
base64 are read as if unencoded (RELIABILITY #71, #73)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.intake import extract_attachments, parse_message
from mailbot.intake.bounce import quoted_reply_ids
from mailbot.validation.schema import Rules
from tests.builders.emails import delivery_report, email_bytes, forwarded_in_base64
from tests.mailflow import Workspace, make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
REUSED_ID = "<reused-0001@mailer.vien.example.vn>"


def _files(rules: Rules, organization: str = "Viện Cơ khí") -> list[tuple[str, bytes]]:
    tasks = [task(f"Nhiệm vụ của {organization}", 2, "2024-01", "2024-06", 500, 500, organization)]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, organization, tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def _run(space: Workspace, *raws: bytes) -> None:
    space.deliver([DemoMail("test", raw, WHEN + dt.timedelta(minutes=n), "") for n, raw in enumerate(raws)])
    result = space.cli("once")
    assert result.exit_code == 0, result.output


def _outbox(space: Workspace) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:
        return db.execute("SELECT reply_id, state, last_error FROM outbox ORDER BY id").fetchall()


# ---------------------------------------------------------------- a Message-ID reused for different content


def test_two_different_messages_with_the_same_message_id_are_both_recorded_and_answered(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    one = email_bytes(sender="Viện Cơ khí <a@vien.example.vn>", message_id=REUSED_ID, attachments=_files(rules))
    other = email_bytes(
        sender="Viện Dệt May <b@det-may.example.vn>",
        message_id=REUSED_ID,
        attachments=_files(rules, "Viện Dệt May"),
    )
    _run(space, one, other)
    assert [m["action"] for m in space.export()["messages"]] == ["acknowledged", "acknowledged"]
    replies = space.replies()
    assert sorted(r["To"] for r in replies) == ["a@vien.example.vn", "b@det-may.example.vn"]
    assert [r["In-Reply-To"] for r in replies] == [REUSED_ID, REUSED_ID]
    assert len({r["Message-ID"] for r in replies}) == 2


def test_an_identical_redelivery_of_a_message_is_a_duplicate(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    raw = email_bytes(message_id=REUSED_ID, attachments=_files(rules))
    _run(space, raw, raw)
    assert [m["action"] for m in space.export()["messages"]] == ["acknowledged", "duplicate"]
    assert len(space.replies()) == 1


def test_a_message_seen_again_after_a_crash_gets_the_same_reply_id() -> None:
    from mailbot.replies import reply_message_id

    raw = email_bytes(message_id=REUSED_ID)
    assert reply_message_id(parse_message(raw), "example.org") == reply_message_id(parse_message(raw), "example.org")


# ---------------------------------------------------------------- a forward whose message/rfc822 part is base64


def test_a_forwarded_submission_in_base64_yields_the_real_spreadsheet(rules: Rules) -> None:
    files = _files(rules)
    raw = forwarded_in_base64(email_bytes(attachments=files))
    assert b"PhuLuc1" not in raw  # nothing readable without decoding
    extraction = extract_attachments(parse_message(raw))
    assert [(a.name, a.data) for a in extraction.attachments] == files
    assert extraction.findings == [] and extraction.quarantine is None


def test_a_forwarded_submission_in_base64_is_acknowledged_with_its_tasks(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, forwarded_in_base64(email_bytes(attachments=_files(rules, "Viện Hóa học"))))
    [message] = space.export()["messages"]
    [submission] = space.export()["submissions"]
    assert message["action"] == "acknowledged"
    assert submission["organization"] == "Viện Hóa học" and len(submission["tasks"]) == 1
    [reply] = space.replies()
    assert reply["In-Reply-To"] == "<fwd1@vien.example.vn>"


def test_a_forward_whose_base64_cannot_be_decoded_is_a_finding_not_a_failure() -> None:
    raw = forwarded_in_base64(b"x").replace(b"eA==", b"!!!!")
    extraction = extract_attachments(parse_message(raw))
    assert extraction.attachments == [] and extraction.quarantine is None


# ---------------------------------------------------------------- a delivery report quoting our reply in base64


def test_a_delivery_report_quoting_our_reply_in_base64_marks_it_undeliverable(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _run(space, email_bytes(attachments=_files(rules)))
    [reply] = space.replies()
    report = delivery_report(reply.as_bytes())
    assert reply["Message-ID"].encode() not in report  # only the decoded original names it
    _run(space, report)
    bounce = space.export()["messages"][1]
    assert bounce["action"] == "ignored" and reply["Message-ID"] in bounce["reason"]
    assert _outbox(space) == [(reply["Message-ID"], "failed", "bounced: undeliverable")]
    assert len(space.replies()) == 1


def test_a_delivery_report_quoting_only_the_headers_in_base64_marks_the_reply_undeliverable(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    _run(space, email_bytes(attachments=_files(rules)))
    [reply] = space.replies()
    _run(space, delivery_report(reply.as_bytes(), quoted_as="text/rfc822-headers"))
    assert _outbox(space) == [(reply["Message-ID"], "failed", "bounced: undeliverable")]


def test_the_quoted_reply_ids_are_found_however_the_original_is_written() -> None:
    ours = "<mailbot.0123456789abcdef0123456789abcdef@example.org>"
    original = email_bytes(message_id=ours, sender="nop-de-xuat@example.org")
    for quoted_as in ("message/rfc822", "text/rfc822-headers"):
        for encoding in ("base64", "7bit"):
            report = delivery_report(original, quoted_as=quoted_as, encoding=encoding)
            assert quoted_reply_ids(report, "example.org") == {ours}, (quoted_as, encoding)
    assert quoted_reply_ids(delivery_report(original), "other.example") == set()


def test_a_report_nested_deeper_than_the_limit_is_not_searched_further() -> None:
    ours = "<mailbot.0123456789abcdef0123456789abcdef@example.org>"
    report = email_bytes(message_id=ours)
    for _ in range(6):
        report = delivery_report(report)
    assert quoted_reply_ids(report, "example.org") == set()


def test_a_delay_warning_a_read_receipt_or_an_out_of_office_reply_is_no_bounce() -> None:
    ours = "<mailbot.0123456789abcdef0123456789abcdef@example.org>"
    original = email_bytes(message_id=ours, sender="nop-de-xuat@example.org")
    delayed = delivery_report(original).replace(b"Action: failed", b"Action: delayed")
    receipt = delivery_report(original).replace(b"report-type=delivery-status", b"report-type=disposition-notification")
    away = email_bytes(subject="Trả lời tự động: Vắng mặt", in_reply_to=ours, references=[ours])
    for message in (delayed, receipt, away):
        assert quoted_reply_ids(message, "example.org") == set()
