"""parse_message: a received message's bytes become an Inbound, whatever the bytes are."""

from __future__ import annotations

import email
import hashlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.intake import classify, extract_attachments, parse_message
from mailbot.model import Inbound
from tests.builders.emails import email_bytes, with_header, without_header


def verdict(inbound: Inbound) -> str | None:
    return classify(inbound, own_addresses=["nop-de-xuat@example.org"], own_domain="example.org")


def test_a_plain_submission_gives_its_sender_subject_id_and_hash() -> None:
    raw = email_bytes(message_id="<abc.123@vien.example.vn>")
    inbound = parse_message(raw)
    assert inbound.from_addr == "a@vien.example.vn"
    assert inbound.from_name == "Nguyễn Văn A"
    assert inbound.subject == "Đề xuất nhiệm vụ 2024"
    assert inbound.message_id == "<abc.123@vien.example.vn>"
    assert inbound.sha256 == hashlib.sha256(raw).hexdigest()
    assert inbound.raw == raw
    assert inbound.content_type == "text/plain"
    assert inbound.parse_error is None
    assert inbound.defects == []


def test_a_message_without_message_id_parses_with_message_id_none() -> None:
    inbound = parse_message(email_bytes(message_id=None))
    assert inbound.message_id is None
    assert "message-id" not in inbound.headers


def test_a_folded_message_id_loses_its_white_space() -> None:
    raw = with_header(email_bytes(), "Message-ID", "\r\n <folded.id@vien.example.vn> ")
    assert parse_message(raw).message_id == "<folded.id@vien.example.vn>"


def test_the_sender_domain_is_lower_cased_and_the_local_part_kept() -> None:
    inbound = parse_message(email_bytes(sender="Trần Thị B <Tran.Thi.B@Vien.Example.VN>"))
    assert inbound.from_addr == "Tran.Thi.B@vien.example.vn"
    assert inbound.from_name == "Trần Thị B"


@pytest.mark.parametrize(
    ("header", "address", "name"),
    [
        ("a@vien.example.vn", "a@vien.example.vn", ""),
        ("<a@vien.example.vn>", "a@vien.example.vn", ""),
        ('"Nguyễn, Văn A" <a@vien.example.vn>', "a@vien.example.vn", "Nguyễn, Văn A"),
        ("a@vien.example.vn (Nguyễn Văn A)", "a@vien.example.vn", ""),
        ('"=?utf-8?b?Tmd1eeG7hW4gVsSDbiBB?=" <a@vien.example.vn>', "a@vien.example.vn", "Nguyễn Văn A"),
        ('"john \\"jr\\" doe"@vien.example.vn', '"john \\"jr\\" doe"@vien.example.vn', ""),
    ],
)
def test_a_well_formed_single_sender_is_accepted(header: str, address: str, name: str) -> None:
    inbound = parse_message(with_header(email_bytes(), "From", header))
    assert (inbound.from_addr, inbound.from_name) == (address, name)


def test_a_display_name_sent_as_raw_utf8_is_decoded_to_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn A")
    raw = with_header(email_bytes(), "From", f"{nfd} <a@vien.example.vn>".encode())
    inbound = parse_message(raw)
    assert inbound.from_addr == "a@vien.example.vn"
    assert inbound.from_name == "Nguyễn Văn A"


@pytest.mark.parametrize(
    "header",
    [
        "alice@x.org)<bob@y.org>",
        "alice@x.org)",
        "alice@x.org<bob@y.org>",
        "alice@x.org, bob@y.org",
        "<alice@x.org> <bob@y.org>",
        '"alice" <alice@x.org> bob@y.org',
        "(alice@x.org",
        "alice@x.org>",
        "friends: alice@x.org;",
        "alice@",
        "@x.org",
        "alice",
        "alice@x..org",
        "alice smith@x.org",
        "",
    ],
)
def test_a_sender_that_is_not_exactly_one_clean_address_gives_no_address(header: str) -> None:
    inbound = parse_message(with_header(email_bytes(), "From", header))
    assert inbound.from_addr is None


def test_the_hidden_address_in_a_confusing_from_is_never_the_sender() -> None:
    inbound = parse_message(with_header(email_bytes(), "From", "alice@x.org)<bob@y.org>"))
    assert inbound.from_addr is None
    assert verdict(inbound) == "sender address cannot be parsed"


def test_two_from_headers_give_no_address() -> None:
    raw = email_bytes()
    raw = raw.replace(b"To:", b"From: b@other.example.vn\r\nTo:", 1)
    assert parse_message(raw).from_addr is None


def test_reply_to_is_parsed_as_strictly_as_from() -> None:
    assert parse_message(email_bytes(headers={"Reply-To": "Văn phòng <VP@Vien.Example.VN>"})).reply_to == (
        "VP@vien.example.vn"
    )
    assert parse_message(email_bytes()).reply_to is None
    assert parse_message(with_header(email_bytes(), "Reply-To", "a@x.org, b@y.org")).reply_to is None


@pytest.mark.parametrize(
    "encoded",
    ["=?UTF-8?Q?=0A?=Bcc: attacker@x.example", "=?UTF-8?Q?a=0D=0ABcc:_attacker@x.example?=", "=?UTF-8?B?DQpCY2M6?="],
)
def test_a_subject_with_encoded_line_breaks_comes_out_on_one_line(encoded: str) -> None:
    subject = parse_message(with_header(email_bytes(), "Subject", encoded)).subject
    assert "\r" not in subject
    assert "\n" not in subject
    assert "Bcc:" in subject


def test_control_characters_in_a_subject_become_single_spaces() -> None:
    raw = with_header(
        email_bytes(), "Subject", "=?UTF-8?Q?=C4=90=E1=BB=81_xu=E1=BA=A5t=07=09=09nhi=E1=BB=87m_v=E1=BB=A5?="
    )
    assert parse_message(raw).subject == "Đề xuất nhiệm vụ"


def test_a_subject_in_nfd_comes_out_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Đề xuất nhiệm vụ")
    subject = parse_message(email_bytes(subject=nfd)).subject
    assert subject == "Đề xuất nhiệm vụ"
    assert unicodedata.is_normalized("NFC", subject)


def test_in_reply_to_and_references_are_message_id_tokens_in_order() -> None:
    raw = email_bytes(
        in_reply_to="<one@example.org> <two@example.org>", references=["<r1@a.vn>", "<r2@b.vn>", "<r3@c.vn>"]
    )
    inbound = parse_message(raw)
    assert inbound.in_reply_to == "<one@example.org>"
    assert inbound.references == ["<r1@a.vn>", "<r2@b.vn>", "<r3@c.vn>"]
    assert parse_message(email_bytes()).in_reply_to is None
    assert parse_message(email_bytes()).references == []


def test_headers_are_keyed_by_lower_case_name_with_every_value_decoded() -> None:
    raw = email_bytes(headers={"X-Đơn-Vị": "x", "X-Note": "Ghi chú"})
    raw = raw.replace(b"To:", b"Received: from a\r\nReceived: from b\r\n  by c\r\nTo:", 1)
    headers = parse_message(raw).headers
    assert headers["received"] == ["from a", "from b by c"]
    assert headers["x-note"] == ["Ghi chú"]
    assert headers["subject"] == ["Đề xuất nhiệm vụ 2024"]


def test_unknown_and_mislabelled_charsets_parse_without_exception() -> None:
    raw = email_bytes(body="Kính gửi")
    raw = with_header(raw, "Subject", "=?unknown-8bit?Q?B=E1o_c=E1o?= caf\xe9".encode("latin-1"))
    raw = with_header(raw, "X-Org", b"Vi\xea\xf2n")  # windows-1258 bytes in a header
    raw = raw.replace(b'charset="utf-8"', b"charset=unknown-8bit").replace("Kính gửi".encode(), b"K\xednh g\xf2i")
    inbound = parse_message(raw)
    assert "\ufffd" in inbound.subject
    assert "\ufffd" in inbound.headers["x-org"][0]
    assert inbound.from_addr == "a@vien.example.vn"
    assert extract_attachments(inbound).quarantine is None


def test_a_body_labelled_utf8_but_written_in_windows_1252_parses() -> None:
    raw = email_bytes(body="Kính gửi").replace("Kính gửi".encode(), "Kính gửi".encode("cp1252", "replace"))
    inbound = parse_message(raw)
    assert inbound.subject == "Đề xuất nhiệm vụ 2024"
    assert extract_attachments(inbound).attachments == []


def test_mime_defects_of_every_part_are_listed_by_name() -> None:
    raw = (
        b"From: a@vien.example.vn\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nYWJj\r\n"
    )
    assert "CloseBoundaryNotFoundDefect" in parse_message(raw).defects


def test_bytes_the_parser_rejects_still_give_an_inbound_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(raw: bytes, **kwargs: object) -> email.message.Message:
        raise ValueError("parser gave up")

    monkeypatch.setattr("email.message_from_bytes", refuse)
    raw = email_bytes(message_id="<kept@vien.example.vn>")
    inbound = parse_message(raw)
    assert inbound.parse_error == "ValueError: parser gave up"
    assert inbound.message_id == "<kept@vien.example.vn>"
    assert inbound.sha256 == hashlib.sha256(raw).hexdigest()


def test_empty_bytes_give_an_empty_inbound() -> None:
    inbound = parse_message(b"")
    assert (inbound.message_id, inbound.from_addr, inbound.subject) == (None, None, "")
    assert verdict(inbound) == "sender address cannot be parsed"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_no_bytes_make_intake_raise(raw: bytes) -> None:
    inbound = parse_message(raw)
    verdict(inbound)
    extract_attachments(inbound)


_SEED = email_bytes(attachments=[("Danh mục.xlsx", b"PK\x03\x04data")])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_SEED) - 1), st.binary(min_size=1, max_size=40))
def test_damaged_real_messages_do_not_make_intake_raise(at: int, junk: bytes) -> None:
    inbound = parse_message(_SEED[:at] + junk + _SEED[at:])
    verdict(inbound)
    extract_attachments(inbound)


def test_a_message_without_from_or_subject_keeps_its_bytes() -> None:
    raw = without_header(without_header(email_bytes(), "From"), "Subject")
    inbound = parse_message(raw)
    assert inbound.from_addr is None
    assert inbound.raw == raw
