"""Headers of absurd size are cut to the limits documented in mailbot.intake.headers, and the reply still threads
(RELIABILITY #69)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.intake import parse_message
from mailbot.intake.headers import HEADER_BLOCK_BYTES, MESSAGE_ID_CHARS, REFERENCES_KEPT_LAST, bounded
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes, with_header
from tests.mailflow import Workspace, make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
PARENT = "<CAH+w=7Zq3x9Lk2sR8vN0pT5mY6uB1cD4eF7gH0jK3lM6nP9qS2t@mail.gmail.com>"
THREAD = [f"<{n}.thread-{n:06d}@relay.example.net>" for n in range(100_000)]


def _files(rules: Rules) -> list[tuple[str, bytes]]:
    tasks = [task("Nhiệm vụ thử nghiệm", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def _received(count: int) -> bytes:
    """A mail loop's trace: `count` Received fields on top, as relays prepend them."""
    return b"".join(
        b"Received: from relay%d.example.net (relay%d.example.net [192.0.2.%d])\r\n"
        b"\tby mx.example.org (Postfix) with ESMTPS id %X; Thu, 20 Apr 2023 09:00:00 +0700\r\n" % (n, n, n % 250, n)
        for n in range(count)
    )


def _once(space: Workspace, raw: bytes) -> None:
    space.deliver([DemoMail("absurd", raw, WHEN, "")])
    result = space.cli("once")
    assert result.exit_code == 0, result.output


def _head_lines(reply: bytes) -> list[bytes]:
    return reply.partition(b"\r\n\r\n")[0].split(b"\r\n")


def _reply_bytes(space: Workspace) -> bytes:
    [path] = sorted(space.outbox.glob("*.eml"))
    return path.read_bytes()


# ---------------------------------------------------------------- parsing


def test_a_megabyte_of_received_fields_keeps_the_fields_mailbot_reads() -> None:
    raw = _received(12_000) + email_bytes(message_id=PARENT)
    assert len(raw) > 1_500_000
    inbound = parse_message(raw)
    assert inbound.from_addr == "a@vien.example.vn" and inbound.message_id == PARENT
    assert inbound.content_type == "multipart/mixed" or inbound.content_type == "text/plain"
    assert "HeaderBlockTruncatedDefect" in inbound.defects
    assert inbound.raw == raw  # the archive keeps every byte
    parsed, _ = bounded(raw)
    assert len(parsed.partition(b"\r\n\r\n")[0]) <= HEADER_BLOCK_BYTES


def test_references_with_a_hundred_thousand_ids_keep_the_first_and_the_last() -> None:
    inbound = parse_message(with_header(email_bytes(message_id=PARENT), "References", " ".join(THREAD)))
    assert inbound.references == [THREAD[0], *THREAD[-REFERENCES_KEPT_LAST:]]
    assert "ReferencesTruncatedDefect" in inbound.defects


def test_a_five_thousand_character_message_id_counts_as_none() -> None:
    inbound = parse_message(with_header(email_bytes(), "Message-ID", "<" + "x" * 5000 + "@vien.example.vn>"))
    assert inbound.message_id is None and "MessageIdTooLongDefect" in inbound.defects


def test_a_message_id_at_the_limit_is_kept_whole() -> None:
    longest = "<" + "x" * (MESSAGE_ID_CHARS - len("<@vien.example.vn>")) + "@vien.example.vn>"
    assert parse_message(email_bytes(message_id=longest)).message_id == longest


def test_one_megabyte_field_is_cut_and_the_subject_kept_within_its_limit() -> None:
    raw = with_header(with_header(email_bytes(), "X-Junk", "a" * 1_000_000), "Subject", "Đề xuất " * 5000)
    inbound = parse_message(raw)
    assert "HeaderFieldTruncatedDefect" in inbound.defects
    assert len(inbound.subject) <= 998 and inbound.subject.startswith("Đề xuất")
    assert all(len(v) <= 16 * 1024 for values in inbound.headers.values() for v in values)


def test_an_ordinary_message_is_parsed_from_its_own_bytes_unchanged() -> None:
    raw = email_bytes(message_id=PARENT, references=THREAD[:5])
    assert bounded(raw) == (raw, [])


# ---------------------------------------------------------------- processed by `once`, the reply threads


@pytest.mark.parametrize(
    "absurd",
    [
        pytest.param(lambda raw: _received(12_000) + raw, id="megabyte-header-block"),
        pytest.param(lambda raw: with_header(raw, "X-Junk", "a" * 2_000_000), id="two-megabyte-field"),
        pytest.param(lambda raw: with_header(raw, "References", " ".join(THREAD)), id="hundred-thousand-references"),
        pytest.param(
            lambda raw: with_header(raw, "References", "\r\n ".join(THREAD)), id="hundred-thousand-folded-references"
        ),
    ],
)
def test_an_absurd_header_block_is_answered_in_the_thread_with_headers_within_limits(
    tmp_path: Path, rules: Rules, absurd: object
) -> None:
    space = make_workspace(tmp_path)
    raw = email_bytes(message_id=PARENT, references=THREAD[:3], attachments=_files(rules))
    _once(space, absurd(raw))  # type: ignore[operator]  # the parametrised builder
    [message] = space.export()["messages"]
    assert message["action"] == "acknowledged"
    reply = _reply_bytes(space)
    assert all(len(line) <= 998 for line in _head_lines(reply))
    parsed = email.message_from_bytes(reply, policy=email.policy.default)
    assert parsed["In-Reply-To"] == PARENT
    references = str(parsed["References"]).split()
    assert references[-1] == PARENT and len(references) <= REFERENCES_KEPT_LAST + 1


def test_a_message_with_a_five_thousand_character_id_is_answered_threaded_by_references_and_receipt(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    raw = email_bytes(references=THREAD[:2], attachments=_files(rules))
    _once(space, with_header(raw, "Message-ID", "<" + "x" * 5000 + "@vien.example.vn>"))
    [message] = space.export()["messages"]
    assert message["action"] == "acknowledged" and message["message_id"] is None
    reply = _reply_bytes(space)
    assert all(len(line) <= 998 for line in _head_lines(reply))
    parsed = email.message_from_bytes(reply, policy=email.policy.default)
    assert parsed["In-Reply-To"] is None
    assert str(parsed["References"]).split() == THREAD[:2]
    assert str(parsed["Subject"]).startswith("[SXTDBV-2024-0001]")


def test_a_long_ordinary_message_id_is_echoed_whole_not_encoded(tmp_path: Path, rules: Rules) -> None:
    outlook = "<SG2PR06MB5310A1B2C3D4E5F60718293A4B5C6D7E8F90@SG2PR06MB5310.apcprd06.prod.outlook.com>"
    longest = "<" + "y" * (MESSAGE_ID_CHARS - len("<@vien.example.vn>")) + "@vien.example.vn>"
    space = make_workspace(tmp_path)
    _once(space, with_header(email_bytes(message_id=longest, attachments=_files(rules)), "References", outlook))
    reply = _reply_bytes(space)
    for name in (b"In-Reply-To", b"References"):
        [field] = re.findall(rb"^" + name + rb":.*(?:\r\n[ \t].*)*", reply.partition(b"\r\n\r\n")[0], re.M)
        assert b"=?" not in field  # written whole, not as encoded-words
    assert all(len(line) <= 998 for line in _head_lines(reply))
    parsed = email.message_from_bytes(reply, policy=email.policy.default)
    assert parsed["In-Reply-To"] == longest
    assert str(parsed["References"]).split() == [outlook, longest]


def test_references_a_sender_wrote_as_encoded_words_still_thread() -> None:
    outlook = "<SG2PR06MB5310A1B2C3D4E5F60718293A4B5C6D7E8F90@SG2PR06MB5310.apcprd06.prod.outlook.com>"
    raw = email_bytes(references=[outlook])  # Python's email package encodes an id this long
    assert b"References: =?utf-8?" in raw
    assert parse_message(raw).references == [outlook]
