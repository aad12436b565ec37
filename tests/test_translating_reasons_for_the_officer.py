"""Every reason the intake, the classifier and the limits write reaches the officer in Vietnamese."""

from __future__ import annotations

import re

import pytest

from mailbot.adapters.xlsx_labels import reason_text, status_label
from mailbot.adapters.xlsx_tracker_files import distinct, safe_name

REASONS = [
    "late",
    "loop: our own reply",
    "auto-submitted: auto-replied",
    "auto-submitted: auto-generated",
    "null return path",
    "automatic sender: mailer-daemon",
    "delivery or read report",
    "delivery or read report; bounce of <mailbot.1@example.org>",
    "precedence: bulk",
    "precedence: list",
    "mailing list",
    "auto-response suppressed: All",
    "autoresponder header: X-Autoreply",
    "out-of-office subject",
    "sender address cannot be parsed",
    "same message as #1 (acknowledged)",
    "no address to reply to",
    "a@b.vn: per-sender limit",
    "overall reply limit",
    "message larger than 25 MB",
    "attachments could not be taken out: ValueError",
    "message could not be parsed: bad bytes",
    "MIME structure cannot be trusted: StartBoundaryNotFoundDefect",
]


@pytest.mark.parametrize("reason", REASONS)
def test_a_known_reason_is_a_vietnamese_sentence_without_its_code(reason: str) -> None:
    text = reason_text(reason)
    assert not text.startswith("Lý do khác")
    words = re.findall(r"[A-Za-z]{4,}", re.sub(r"(mailer-daemon|a@b\.vn)", "", reason))
    assert not [w for w in words if w.lower() in text.lower()], text
    assert re.search("[àáảãạăâđêôơưếềểễệốồổỗộớờởỡợứừửữự]", text.lower())


def test_an_unknown_reason_says_so_in_vietnamese_and_keeps_the_code() -> None:
    assert reason_text("something new") == "Lý do khác (mã kỹ thuật: something new)"


def test_the_four_states_have_their_labels_and_an_old_late_status_reads_as_late_and_accepted() -> None:
    assert status_label("accepted", False) == "Đã tiếp nhận"
    assert status_label("needs_correction", False) == "Cần chỉnh sửa"
    assert status_label("accepted", True) == "Nộp muộn"
    assert status_label("needs_correction", True) == "Nộp muộn – cần chỉnh sửa"
    assert status_label("late", False) == "Nộp muộn"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Phụ lục 1.xlsx", "Phụ lục 1.xlsx"),
        ('a<b>:"c"|d?*#%.docx', "a_b___c__d____.docx"),
        ("CON.xlsx", "_CON.xlsx"),
        ("ghi chú. ", "ghi chú"),
        ("", "tep"),
        ("x" * 300 + ".xlsx", "x" * 95 + ".xlsx"),
    ],
)
def test_a_file_name_is_made_safe_for_every_file_system_and_a_link(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_names_that_collide_in_one_folder_are_numbered_ignoring_case() -> None:
    assert distinct(["A.xlsx", "a.xlsx", "a.xlsx"]) == ["A.xlsx", "a (2).xlsx", "a (3).xlsx"]
