"""A reply's subject decodes to exactly the intended text: long Vietnamese unit names and ASCII runs between
Vietnamese words make Python's own header folding put two encoded words side by side, and decoders drop the
space between them ("Viện Nghiêncứu"). Checked with `email.policy.default` and with the older, independent
`email.header` decoder, for every reply kind and for alert mail."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
from email.header import decode_header, make_header

import pytest

from mailbot.alerts import CONDITIONS
from mailbot.intake import parse_message
from mailbot.replies import ReplyContent, ReplyKind, build_reply, encoded_subject, subject_for
from mailbot.validation.schema import Rules

UNITS = [
    "Viện Nghiên cứu Da - Giày",
    "Trung tâm Sản xuất sạch hơn Việt Nam (VNCPC) – Viện Khoa học và Công nghệ Môi trường, Đại học Bách khoa Hà Nội",
    "Công ty TNHH MTV Nhựa Xanh ABC Việt Nam và Tổng công ty Thép Việt Nam - CTCP (VNSTEEL) chi nhánh Hà Nội",
]
KINDS: list[ReplyKind] = ["acknowledgement", "correction", "late", "unreadable"]
INBOUND = parse_message(b"From: A <a@vien.example.vn>\r\nSubject: s\r\nMessage-ID: <m@vien.example.vn>\r\n\r\nb\r\n")


def subject_header(raw: bytes) -> str:
    """The Subject field of `raw` as written on the wire (its folded lines kept), without the name."""
    lines = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Subject: "))
    field = [lines[start].removeprefix("Subject: ")]
    for line in lines[start + 1 :]:
        if line[:1] not in (" ", "\t"):
            break
        field.append(line)
    return "\r\n".join(field)


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_space_of_a_reply_subject_survives_both_decoders(rules: Rules, kind: ReplyKind, unit: str) -> None:
    content = ReplyContent(kind, "SXTDBV-2024-0001", 2, unit, [], [], dt.datetime(2023, 4, 20, tzinfo=dt.UTC))
    intended = subject_for(content, rules)
    raw = build_reply(
        inbound=INBOUND,
        sender="Vụ TKNL <nop-de-xuat@example.org>",
        recipient="a@vien.example.vn",
        subject=intended,
        text="t",
        html="<p>h</p>",
        message_id="<mailbot.1@example.org>",
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == intended
    assert str(make_header(decode_header(subject_header(raw)))) == intended
    assert all(len(line) <= 78 for line in subject_header(raw).split("\r\n"))


def test_every_space_of_an_alert_subject_survives() -> None:
    for condition in CONDITIONS.values():
        text = f"[mailbot sxtdbv-2024] Cảnh báo: {condition.vi} / Alert: {condition.en}"
        msg = email.message.EmailMessage(policy=email.policy.SMTP)
        msg["Subject"] = encoded_subject(text)
        raw = msg.as_bytes()
        assert str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]) == text
        assert str(make_header(decode_header(subject_header(raw)))) == text
