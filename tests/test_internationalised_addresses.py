"""Internationalised addresses (RFC 6531/6532, RELIABILITY #67, #68): domains go on the wire as A-labels,
accented local parts travel with SMTPUTF8 or fail permanently with a reason the officer can read, and no
address is ever altered on its way into To and the envelope."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import smtplib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from mailbot.adapters.smtp import SmtpSender
from mailbot.adapters.tls import Login
from mailbot.addresses import ascii_domain, readable_address
from mailbot.config import SmtpSender as SmtpSettings
from mailbot.demo import CONFIG
from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.errors import ReplyBuildError
from mailbot.intake.mime import parse_message
from mailbot.ports import SendError
from mailbot.replies import build_reply, choose_recipient
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes, with_header
from tests.mailflow import Workspace, make_workspace
from tests.servers.smtp import SmtpEnvelope, SmtpSink

SENDER = "Vụ TKNL <nop-de-xuat@example.org>"
OURS = "nop-de-xuat@example.org"
ACCENTED = "jdöe@mächine.example"
ACCENTED_WIRE = "jdöe@xn--mchine-bua.example"
IDN_ONLY = "user@mächine.example"
IDN_ONLY_WIRE = "user@xn--mchine-bua.example"
NO_SMTPUTF8 = "máy chủ thư không hỗ trợ địa chỉ có dấu"
WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def received(from_header: str, reply_to: str | None = None) -> bytes:
    """A submission whose From (and Reply-To) are written byte for byte in UTF-8, as RFC 6532 mail is."""
    raw = with_header(email_bytes(), "From", from_header)
    return raw if reply_to is None else with_header(raw, "Reply-To", reply_to)


def reply(recipient: str, *, sender: str = SENDER, subject: str = "[SXTDBV-2024-0001] Đã nhận", **kw: str) -> bytes:
    source = parse_message(email_bytes())
    return build_reply(
        inbound=source,
        sender=sender,
        recipient=recipient,
        subject=subject,
        text=kw.get("text", "Kính gửi Quý cơ quan,\n"),
        html="<p>Kính gửi Quý cơ quan,</p>",
        message_id="<mailbot.1@example.org>",
    )


def reply_to(raw_inbound: bytes) -> tuple[str, bytes]:
    """The recipient mailbot picks for a received message, and the reply built for it."""
    recipient = choose_recipient(parse_message(raw_inbound))
    assert recipient is not None
    return recipient, reply(recipient)


def header_line(raw: bytes, name: str) -> str:
    """The header `name` exactly as written, decoded as UTF-8 (RFC 6532)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    [line] = [line for line in head.split("\r\n") if line.lower().startswith(name.lower() + ":")]
    return line.split(":", 1)[1].strip()


def envelope(seen: SmtpEnvelope) -> tuple[str, list[str], list[str]]:
    """MAIL FROM, RCPT TO and the MAIL parameters but SIZE (which smtplib adds by itself)."""
    return seen.mail_from, seen.rcpt_tos, [o for o in seen.mail_options if not o.startswith("SIZE=")]


def smtp_sender(sink: SmtpSink, envelope_from: str = OURS) -> SmtpSender:
    settings = SmtpSettings.model_validate(
        {"kind": "smtp", "host": sink.host, "port": sink.port, "security": "none", "from": SENDER}
    )
    return SmtpSender(settings, Login(None), envelope_from=envelope_from)


# ---------------------------------------------------------------- the SMTP envelope


def test_with_smtputf8_the_reply_to_an_accented_address_arrives_with_the_a_label_domain_and_the_smtputf8_option(
    start_smtp_sink: Callable[..., SmtpSink],
) -> None:
    sink = start_smtp_sink(smtputf8=True)
    recipient, raw = reply_to(received(f'"Jöhn" <{ACCENTED}>'))
    smtp_sender(sink).send("<mailbot.1@example.org>", recipient, raw)
    [seen] = sink.smtp_envelopes
    assert envelope(seen) == (OURS, [ACCENTED_WIRE], ["SMTPUTF8", "BODY=8BITMIME"]) and seen.smtputf8
    [arrived] = sink.raw()
    assert arrived == raw and header_line(arrived, "To") == ACCENTED
    assert str(email.message_from_bytes(arrived, policy=email.policy.default)["To"]) == ACCENTED


def test_without_smtputf8_the_reply_to_an_accented_address_fails_permanently_saying_so_in_vietnamese(
    start_smtp_sink: Callable[..., SmtpSink],
) -> None:
    sink = start_smtp_sink(smtputf8=False)
    recipient, raw = reply_to(received(f'"Jöhn" <{ACCENTED}>'))
    with pytest.raises(SendError) as failure:
        smtp_sender(sink).send("<mailbot.1@example.org>", recipient, raw)
    assert failure.value.permanent and not failure.value.server_down
    assert NO_SMTPUTF8 in str(failure.value) and ACCENTED in str(failure.value)
    assert sink.attempts == 0 and sink.raw() == []


def test_an_idn_domain_with_an_ascii_local_part_goes_as_a_labels_through_a_server_without_smtputf8(
    start_smtp_sink: Callable[..., SmtpSink],
) -> None:
    sink = start_smtp_sink(smtputf8=False)
    recipient, raw = reply_to(received(f"Nguyễn Văn A <{IDN_ONLY}>"))
    assert recipient == IDN_ONLY and raw.isascii()
    smtp_sender(sink).send("<mailbot.1@example.org>", recipient, raw)
    [seen] = sink.smtp_envelopes
    assert envelope(seen) == (OURS, [IDN_ONLY_WIRE], []) and not seen.smtputf8
    assert header_line(sink.raw()[0], "To") == IDN_ONLY_WIRE


def test_mail_from_and_the_from_header_carry_the_a_label_of_an_idn_sender_domain(
    start_smtp_sink: Callable[..., SmtpSink],
) -> None:
    sink = start_smtp_sink(smtputf8=False)
    raw = reply("a@vien.example.vn", sender="Vụ TKNL <nop@bộ-công-thương.vn>")
    smtp_sender(sink, envelope_from="nop@bộ-công-thương.vn").send("<mailbot.1@example.org>", "a@vien.example.vn", raw)
    [seen] = sink.smtp_envelopes
    assert seen.mail_from == "nop@xn--b-cng-thng-tbb59rtf7231b.vn" and seen.rcpt_tos == ["a@vien.example.vn"]
    message = email.message_from_bytes(sink.raw()[0], policy=email.policy.default)
    assert str(message["From"]) == "Vụ TKNL <nop@xn--b-cng-thng-tbb59rtf7231b.vn>"
    assert str(message["X-Mailbot-Loop"]) == "xn--b-cng-thng-tbb59rtf7231b.vn"


@pytest.mark.parametrize(
    ("recipient", "envelope_from", "role"),
    [
        ("ab\udcffc@example.org", OURS, "RCPT TO"),
        ("user@ä_b.example", OURS, "RCPT TO"),
        ("a@vien.example.vn", "nop@ä_b.example", "MAIL FROM"),
    ],
)
def test_an_address_that_cannot_go_on_the_wire_is_a_permanent_send_error_with_a_reason(
    start_smtp_sink: Callable[..., SmtpSink], recipient: str, envelope_from: str, role: str
) -> None:
    sink = start_smtp_sink(smtputf8=True)
    with pytest.raises(SendError, match=f"cannot send, the {role} address is not usable") as failure:
        smtp_sender(sink, envelope_from).send("<mailbot.1@example.org>", recipient, b"Subject: x\r\n\r\nbody\r\n")
    assert failure.value.permanent and sink.attempts == 0


def test_8bit_headers_need_smtputf8_even_when_both_addresses_are_ascii(
    start_smtp_sink: Callable[..., SmtpSink],
) -> None:
    raw = "Subject: Đã nhận\r\nTo: a@vien.example.vn\r\n\r\nbody\r\n".encode()
    with pytest.raises(SendError, match=NO_SMTPUTF8) as failure:
        smtp_sender(start_smtp_sink(smtputf8=False)).send("<mailbot.1@example.org>", "a@vien.example.vn", raw)
    assert failure.value.permanent
    sink = start_smtp_sink(smtputf8=True)
    smtp_sender(sink).send("<mailbot.1@example.org>", "a@vien.example.vn", raw)
    assert sink.smtp_envelopes[0].smtputf8 and sink.raw() == [raw]


# ---------------------------------------------------------------- addresses that look like encoded words


@pytest.mark.parametrize(
    "address", ['"=?utf-8?q?x?="@example.org', "a=?b@example.org", '"=?utf-8?q?=0A?=Bcc"@example.org']
)
def test_an_address_that_looks_like_an_encoded_word_reaches_to_and_the_envelope_unchanged(
    start_smtp_sink: Callable[..., SmtpSink], address: str
) -> None:
    sink = start_smtp_sink()
    recipient, raw = reply_to(received(f"Nguyễn Văn A <{address}>"))
    assert recipient == address and header_line(raw, "To") == address
    smtp_sender(sink).send("<mailbot.1@example.org>", recipient, raw)
    assert sink.smtp_envelopes[0].rcpt_tos == [address] and sink.raw() == [raw]
    assert b"\r\nBcc:" not in raw


@pytest.mark.parametrize(
    "recipient", ["a@vien.example.vn\r\nBcc: x@evil.example", "a@vien.example.vn\nBcc: x@evil.example"]
)
def test_a_line_break_in_an_address_never_adds_a_header(recipient: str) -> None:
    with pytest.raises(ReplyBuildError, match="U\\+000"):
        reply(recipient)
    assert choose_recipient(parse_message(email_bytes())) == "a@vien.example.vn"
    hostile = parse_message(with_header(email_bytes(), "From", recipient.replace("\n", "\n ")))
    assert choose_recipient(hostile) is None  # unfolded, the value holds two "@": not one mailbox


def test_encoded_words_are_still_broken_up_in_the_subject_and_the_sender_name() -> None:
    raw = reply(
        "a@vien.example.vn",
        sender='"=?UTF-8?Q?=0A?=Bcc: x@evil.example" <nop-de-xuat@example.org>',
        subject="[SXTDBV-2024-0001] =?UTF-8?Q?=0A?=Bcc: y@evil.example",
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None and b"\r\nBcc:" not in raw
    assert "\n" not in str(message["Subject"]) and "\n" not in str(message["From"])


# ---------------------------------------------------------------- what the message is made of


def test_an_ascii_local_part_gives_a_plain_ascii_reply_and_an_accented_one_a_utf8_reply() -> None:
    assert reply(IDN_ONLY).isascii()
    raw = reply(ACCENTED)
    assert header_line(raw, "From") == '"Vụ TKNL" <nop-de-xuat@example.org>'
    assert header_line(raw, "Subject") == "[SXTDBV-2024-0001] Đã nhận"


@pytest.mark.parametrize(
    ("recipient", "reason"),
    [
        ("not-an-address", "not an address"),
        ("a@vien.example.vn, b@vien.example.vn", "exactly one"),
        ("user@ä_b.example", "not a valid internationalised domain"),
        ("a b@vien.example.vn", "space"),
        ("jd\udcffe@example.org", "U\\+DCFF"),
    ],
)
def test_a_recipient_that_is_not_one_valid_address_is_a_reply_build_error_saying_why(
    recipient: str, reason: str
) -> None:
    with pytest.raises(ReplyBuildError, match=reason):
        reply(recipient)


def test_a_lone_surrogate_in_the_sender_name_or_the_text_is_a_reply_build_error() -> None:
    with pytest.raises(ReplyBuildError, match="U\\+DCFF"):
        reply("a@vien.example.vn", sender="Vụ \udcff <nop-de-xuat@example.org>")
    with pytest.raises(ReplyBuildError, match="cannot be encoded"):
        reply("a@vien.example.vn", text="Kính gửi \udcff")


@pytest.mark.parametrize("recipient", ["a@vien.example.vn", ACCENTED])
def test_a_lone_surrogate_in_the_subject_becomes_a_replacement_character(recipient: str) -> None:
    raw = reply(recipient, subject="[SXTDBV-2024-0001] Viện \udcff")
    assert str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]).endswith("Viện \ufffd")


# ---------------------------------------------------------------- who gets the reply


def test_an_accented_reply_to_is_preferred_over_from_and_display_names_do_not_matter() -> None:
    raw = received("Phòng Kế hoạch <ketoan@vien-da-giay.vn>", reply_to=f'"Văn thư Nguyễn Thị Ánh" <{ACCENTED}>')
    assert choose_recipient(parse_message(raw)) == ACCENTED
    encoded = received("=?utf-8?b?UGjDsm5nIEvhur8gaG/huqFjaA==?= <ketoan@vien-da-giay.vn>", reply_to=IDN_ONLY)
    assert choose_recipient(parse_message(encoded)) == IDN_ONLY


def test_a_reply_to_whose_domain_is_not_a_valid_idn_gives_way_to_from() -> None:
    raw = received(f'"Jöhn" <{ACCENTED}>', reply_to="Văn thư <vanthu@ä_b.example>")
    assert choose_recipient(parse_message(raw)) == ACCENTED


def test_domains_become_a_labels_the_uts46_way_and_ascii_domains_stay_as_written() -> None:
    assert ascii_domain("MÄCHINE.example") == "xn--mchine-bua.example"
    assert ascii_domain("straße.de") == "xn--strae-oqa.de"  # IDNA 2008: not "strasse.de"
    assert ascii_domain("Exa_mple.ORG") == "Exa_mple.ORG" and ascii_domain("[127.0.0.1]") == "[127.0.0.1]"
    assert readable_address("user@xn--mchine-bua.example") == IDN_ONLY
    assert readable_address("user@xn--zz.example") == "user@xn--zz.example"  # not a valid A-label: as received


# ---------------------------------------------------------------- the whole run: mailbot once, the tracker


def _submission(rules: Rules, raw_from: str) -> DemoMail:
    tasks = [task("Nhiệm vụ thử nghiệm", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [("PL1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)), ("PL2.docx", descriptions_docx(rules, tasks))]
    return DemoMail("idn", with_header(email_bytes(attachments=files), "From", raw_from), WHEN, "acknowledged")


def _smtp_workspace(root: Path, sink: SmtpSink) -> Workspace:
    space = make_workspace(root)
    smtp = f'kind = "smtp"\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
    space.config.write_text(CONFIG.replace('kind = "outbox"\npath = "./var/outbox"\n', smtp), encoding="utf-8")
    return space


def _once(space: Workspace, mail: DemoMail) -> None:
    space.deliver([mail])
    result = space.cli("once")
    assert result.exit_code == 0, result.output


def _senders_in_tracker(space: Workspace) -> tuple[str, str, str]:
    book = openpyxl.load_workbook(space.tracker)
    log = book["Nhật ký"]
    return book["Hồ sơ"]["C2"].value, log["B2"].value, log["H2"].value  # "Người gửi", "Thư trả lời"


def test_mailbot_once_answers_an_accented_address_through_an_smtputf8_server_and_the_tracker_shows_it(
    tmp_path: Path, rules: Rules, start_smtp_sink: Callable[..., SmtpSink]
) -> None:
    sink = start_smtp_sink(smtputf8=True)
    space = _smtp_workspace(tmp_path, sink)
    _once(space, _submission(rules, f'"Jöhn" <{ACCENTED}>'))
    assert [e.rcpt_tos for e in sink.smtp_envelopes] == [[ACCENTED_WIRE]]
    assert header_line(sink.raw()[0], "To") == ACCENTED
    assert _senders_in_tracker(space) == (ACCENTED, ACCENTED, "Đã gửi")
    assert space.export()["messages"][0]["from"] == ACCENTED


def test_mailbot_once_records_the_reply_failed_when_the_server_lacks_smtputf8(
    tmp_path: Path, rules: Rules, start_smtp_sink: Callable[..., SmtpSink]
) -> None:
    sink = start_smtp_sink(smtputf8=False)
    space = _smtp_workspace(tmp_path, sink)
    _once(space, _submission(rules, f'"Jöhn" <{ACCENTED}>'))
    assert sink.attempts == 0
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:
        [(state, error)] = db.execute("SELECT state, last_error FROM outbox").fetchall()
    assert state == "failed" and NO_SMTPUTF8 in error and ACCENTED in error
    submission_sender, log_sender, reply = _senders_in_tracker(space)
    assert (submission_sender, log_sender) == (ACCENTED, ACCENTED)
    assert reply.startswith("Gửi lỗi: ") and NO_SMTPUTF8 in reply  # the officer reads why


def test_the_file_outbox_keeps_a_utf8_reply_as_built(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    _once(space, _submission(rules, f'"Nguyễn Thị Ánh" <{ACCENTED}>'))
    [path] = sorted(space.outbox.glob("*.eml"))
    assert header_line(path.read_bytes(), "To") == ACCENTED
    [message] = space.replies()
    assert "Đã nhận" in str(message["Subject"])


def test_a_sender_written_with_a_labels_is_shown_with_u_labels_in_the_tracker_and_unchanged_in_the_export(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    _once(space, _submission(rules, f"Nguyễn Văn A <{IDN_ONLY_WIRE}>"))
    assert _senders_in_tracker(space)[:2] == (IDN_ONLY, IDN_ONLY)
    export = space.export()
    assert export["messages"][0]["from"] == IDN_ONLY_WIRE and export["submissions"][0]["sender"] == IDN_ONLY_WIRE


# ---------------------------------------------------------------- the test server itself


@pytest.mark.parametrize("offered", [False, True])
def test_the_sink_offers_smtputf8_only_when_started_with_it(
    start_smtp_sink: Callable[..., SmtpSink], offered: bool
) -> None:
    sink = start_smtp_sink(smtputf8=offered)
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("smtputf8") is offered
