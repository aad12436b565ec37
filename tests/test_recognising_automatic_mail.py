"""classify: automatic mail (our own replies, bounces, lists, out-of-office) is recorded, never answered."""

from __future__ import annotations

import pytest

from mailbot.intake import classify, parse_message
from tests.builders.emails import email_bytes, with_header

OWN_DOMAIN = "example.org"
OWN_ADDRESSES = ["nop-de-xuat@example.org"]


def reason(raw: bytes) -> str | None:
    return classify(parse_message(raw), own_addresses=OWN_ADDRESSES, own_domain=OWN_DOMAIN)


def test_a_plain_submission_is_answered() -> None:
    assert reason(email_bytes(attachments=[("Danh mục.xlsx", b"PK\x03\x04")])) is None


def test_a_reply_to_our_acknowledgement_from_a_person_is_answered() -> None:
    raw = email_bytes(subject="Re: Đã nhận hồ sơ", in_reply_to="<mailbot.ab12@example.org>")
    assert reason(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        email_bytes(message_id="<mailbot.0f3a9c@example.org>"),
        email_bytes(message_id="<MAILBOT.0F3A9C@Example.ORG>"),
        email_bytes(headers={"X-Mailbot-Loop": "1"}),
        email_bytes(sender="Nộp đề xuất <Nop-De-Xuat@Example.org>"),
    ],
    ids=["our message id", "our message id in capitals", "our loop header", "our own address"],
)
def test_our_own_reply_coming_back_is_a_loop(raw: bytes) -> None:
    assert reason(raw) == "loop: our own reply"


def test_a_mailbot_id_of_another_domain_is_not_ours() -> None:
    assert reason(email_bytes(message_id="<mailbot.0f3a9c@other.example>")) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto-replied", "auto-submitted: auto-replied"),
        ("Auto-Generated", "auto-submitted: auto-generated"),
        ("auto-notified; owner-email=x@y.vn", "auto-submitted: auto-notified"),
        ("no", None),
        ("No ; comment", None),
    ],
)
def test_auto_submitted_other_than_no_is_not_answered(value: str, expected: str | None) -> None:
    assert reason(email_bytes(headers={"Auto-Submitted": value})) == expected


@pytest.mark.parametrize("value", ["<>", "< >"])
def test_a_null_return_path_is_not_answered(value: str) -> None:
    assert reason(with_header(email_bytes(), "Return-Path", value)) == "null return path"


def test_an_ordinary_return_path_is_answered() -> None:
    assert reason(with_header(email_bytes(), "Return-Path", "<a@vien.example.vn>")) is None


@pytest.mark.parametrize(
    "local",
    [
        "MAILER-DAEMON",
        "postmaster",
        "noreply",
        "No-Reply",
        "do-not-reply",
        "donotreply",
        "bounce",
        "bounces",
        "vien-list-request",
        "owner-vien-list",
    ],
)
def test_an_automatic_sender_is_not_answered(local: str) -> None:
    raw = email_bytes(sender=f"Hệ thống <{local}@vien.example.vn>")
    assert reason(raw) == f"automatic sender: {local.lower()}"


def test_a_mailer_daemon_without_a_domain_is_still_an_automatic_sender() -> None:
    raw = with_header(email_bytes(), "From", "Mail Delivery System <MAILER-DAEMON>")
    assert reason(raw) == "automatic sender: mailer-daemon"


def test_a_person_whose_name_merely_contains_reply_is_answered() -> None:
    assert reason(email_bytes(sender="reply.team@vien.example.vn")) is None


def test_a_delivery_report_is_not_answered() -> None:
    raw = email_bytes()
    raw = with_header(raw, "Content-Type", 'multipart/report; report-type=delivery-status; boundary="R"')
    raw = raw.replace(b"Content-Transfer-Encoding: 8bit\r\n", b"", 1)
    head, _, _ = raw.partition(b"\r\n\r\n")
    body = (
        b"--R\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; x@y.vn\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--R--\r\n"
    )
    assert reason(head + b"\r\n\r\n" + body) == "delivery or read report"


@pytest.mark.parametrize("value", ["bulk", "Junk", "list"])
def test_bulk_junk_and_list_precedence_is_not_answered(value: str) -> None:
    assert reason(email_bytes(headers={"Precedence": value})) == f"precedence: {value.lower()}"


def test_first_class_precedence_is_answered() -> None:
    assert reason(email_bytes(headers={"Precedence": "first-class"})) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("List-Id", "Vien list <vien.lists.example.vn>"),
        ("List-Unsubscribe", "<mailto:leave@lists.example.vn>"),
        ("List-Post", "<mailto:vien@lists.example.vn>"),
    ],
)
def test_mailing_list_mail_is_not_answered(name: str, value: str) -> None:
    assert reason(email_bytes(headers={name: value})) == "mailing list"


@pytest.mark.parametrize("value", ["All", "OOF", "DR, OOF, AutoReply", "dr autoreply"])
def test_exchange_auto_response_suppression_is_honoured(value: str) -> None:
    assert reason(email_bytes(headers={"X-Auto-Response-Suppress": value})) == f"auto-response suppressed: {value}"


def test_suppressing_only_delivery_receipts_still_gets_an_answer() -> None:
    assert reason(email_bytes(headers={"X-Auto-Response-Suppress": "DR, RN, NRN"})) is None


@pytest.mark.parametrize(
    "name",
    [
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
        "X-Auto-Reply",
        "X-AutoReply-From",
        "X-Mail-Autoreply",
        "X-Cron-Env",
        "X-Loop",
    ],
)
def test_an_autoresponder_header_is_not_answered(name: str) -> None:
    assert reason(email_bytes(headers={name: "yes"})) == f"autoresponder header: {name}"


def test_an_autoresponder_message_class_is_not_answered() -> None:
    raw = email_bytes(headers={"X-POST-MessageClass": "9; Autoresponder"})
    assert reason(raw) == "autoresponder header: X-POST-MessageClass"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Đề xuất nhiệm vụ 2024",
        "Automatic reply: Đề xuất nhiệm vụ 2024",
        "Auto-Reply: Đề xuất",
        "AutoReply",
        "Trả lời tự động: Đề xuất nhiệm vụ",
        "TRẢ LỜI TỰ ĐỘNG",
        "Vắng mặt từ 1/5 đến 5/5",
    ],
)
def test_an_out_of_office_subject_is_not_answered(subject: str) -> None:
    assert reason(email_bytes(subject=subject)) == "out-of-office subject"


def test_a_subject_mentioning_an_absence_later_on_is_answered() -> None:
    assert reason(email_bytes(subject="Đề xuất nhiệm vụ (gửi lại do vắng mặt)")) is None


def test_a_sender_that_cannot_be_parsed_is_not_answered() -> None:
    assert reason(with_header(email_bytes(), "From", "alice@x.org)<bob@y.org>")) == "sender address cannot be parsed"


def test_the_first_matching_rule_wins() -> None:
    raw = email_bytes(
        sender="noreply@vien.example.vn",
        subject="Automatic reply: x",
        headers={"Auto-Submitted": "auto-replied", "List-Id": "<l.example.vn>", "Precedence": "bulk"},
    )
    assert reason(raw) == "auto-submitted: auto-replied"
    assert reason(with_header(raw, "X-Mailbot-Loop", "1")) == "loop: our own reply"
