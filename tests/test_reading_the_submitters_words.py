"""The submitter's own words in a message (quoted replies and signatures cut), and the rule that says they ask."""

from __future__ import annotations

import pytest

from mailbot.notes import asks_for_something, own_words
from tests.builders.emails import email_bytes


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            "Đã nhận, cảm ơn.\n\nVào 10 thg 4, 2023 lúc 09:00 Vụ TKNL <a@b.vn>\nđã viết:\n> Số tiếp nhận X\n",
            "Đã nhận, cảm ơn.",
        ),
        ("Xin gửi lại.\n\nOn Mon, 10 Apr 2023 at 09:00, Vụ TKNL <a@b.vn> wrote:\n> cũ\n", "Xin gửi lại."),
        ("Gửi bản sửa.\n-----Original Message-----\nFrom: a@b.vn\n", "Gửi bản sửa."),
        ("Gửi bản sửa.\n________________________________\nTừ: Vụ TKNL <a@b.vn>\n", "Gửi bản sửa."),
        (
            "Kính gửi Vụ,\nĐơn vị gửi hồ sơ.\n\nTrân trọng,\nNguyễn Văn A\n0900000000\n",
            "Kính gửi Vụ, Đơn vị gửi hồ sơ.",
        ),
        ("Gửi hồ sơ.\n-- \nPhòng Kế hoạch\n", "Gửi hồ sơ."),
        ("Gửi hồ sơ.\n\nSent from my iPhone\n", "Gửi hồ sơ."),
    ],
)
def test_quoted_replies_and_signatures_are_cut(body: str, words: str) -> None:
    assert own_words(email_bytes(body=body)) == words


@pytest.mark.parametrize(
    "text",
    [
        "Viện xin gia hạn nộp đến 5/5.",
        "Cho hỏi có cần bản giấy không",
        "Có cần gửi bản giấy không?",
        "Kính đề nghị Vụ xem xét.",
        "Vui lòng xác nhận giúp.",
        "Xin hoi co can ban giay khong",  # typed without diacritics
    ],
)
def test_words_that_ask_for_something_are_recognised(text: str) -> None:
    assert asks_for_something(text)


@pytest.mark.parametrize(
    "text", ["Đơn vị gửi hồ sơ đề xuất.", "Xem https://example.vn/a?b=1", "Cảm ơn Quý Vụ.", "", None]
)
def test_words_that_ask_nothing_are_not_flagged(text: str | None) -> None:
    assert not asks_for_something(text)
