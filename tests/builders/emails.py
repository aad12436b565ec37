"""Build real received messages in memory for tests: plain submissions, zips, forwarded messages, winmail.dat,
and raw bytes written the way Outlook, Exchange and Postfix write them (base64 forwards, delivery reports)."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import email.utils
import re
import struct
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from mailbot.demo_mail import zip_of as zip_of  # re-exported for the tests

#: The Date of every built message unless a test gives one: a weekday morning in Hà Nội.
DEFAULT_DATE = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))

_TYPES = {
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "xlsm": ("application", "vnd.ms-excel.sheet.macroEnabled.12"),
    "xls": ("application", "vnd.ms-excel"),
    "docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "doc": ("application", "msword"),
    "pdf": ("application", "pdf"),
    "zip": ("application", "zip"),
    "txt": ("text", "plain"),
    "dat": ("application", "ms-tnef"),
}


def email_bytes(
    *,
    sender: str = "Nguyễn Văn A <a@vien.example.vn>",
    to: str = "nop-de-xuat@example.org",
    subject: str = "Đề xuất nhiệm vụ 2024",
    body: str = "Kính gửi Vụ TKNL,\n\nViện xin gửi danh mục đề xuất nhiệm vụ.\n",
    attachments: Sequence[tuple[str, bytes]] = (),
    message_id: str | None = "<auto>",
    headers: Mapping[str, str] = {},
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    date: dt.datetime | None = None,
) -> bytes:
    """A message as a mail client sends it (CRLF, RFC 2047/2231 encoded), attachments typed by extension.

    `message_id="<auto>"` makes a fresh one; None leaves the header out. `date=None` uses `DEFAULT_DATE`.
    """
    msg = _message(sender, to, subject, body, message_id, headers, in_reply_to, references, date)
    for name, data in attachments:
        maintype, subtype = _TYPES.get(name.rpartition(".")[2].lower(), ("application", "octet-stream"))
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=email.policy.SMTP)


def forwarded(inner: bytes, **kw: Any) -> bytes:
    """A message carrying `inner` as a message/rfc822 part, as "Forward as attachment" does."""
    kw.setdefault("subject", "Fwd: Đề xuất nhiệm vụ 2024")
    outer = email.message_from_bytes(email_bytes(**kw), policy=email.policy.default)
    assert isinstance(outer, EmailMessage)
    outer.add_attachment(email.message_from_bytes(inner, policy=email.policy.default))
    return outer.as_bytes(policy=email.policy.SMTP)


def with_header(raw: bytes, name: str, value: bytes | str) -> bytes:
    """`raw` with header `name` set to `value` byte for byte (replacing the first one), for hostile headers."""
    line = name.encode("ascii") + b": " + (value.encode("utf-8") if isinstance(value, str) else value)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    pattern = re.compile(rb"^" + re.escape(name.encode("ascii")) + rb":.*(?:\r\n[ \t].*)*$", re.I | re.M)
    head, found = pattern.subn(lambda _: line, head, count=1)
    return (head if found else line + b"\r\n" + head) + sep + rest


def without_header(raw: bytes, name: str) -> bytes:
    """`raw` with every `name` header removed."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    pattern = re.compile(rb"^" + re.escape(name.encode("ascii")) + rb":.*(?:\r\n[ \t].*)*\r\n", re.I | re.M)
    return pattern.sub(b"", head + b"\r\n").removesuffix(b"\r\n") + sep + rest


def winmail_dat(files: Sequence[tuple[str, bytes]], *, name_encoding: str = "utf-8") -> bytes:
    """A minimal Outlook TNEF stream (winmail.dat) carrying `files`, their names written in `name_encoding`."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # TNEF version
    out += _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # OEM code page
    for name, data in files:
        out += _tnef_attribute(2, 0x9002, 0x0006, b"\x01\x00" + b"\xff" * 4 + b"\x00" * 8)  # rendering: starts one
        out += _tnef_attribute(2, 0x8010, 0x0001, name.encode(name_encoding) + b"\x00")  # file name
        out += _tnef_attribute(2, 0x800F, 0x0006, data)  # the file itself
    return out


def _tnef_attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def _message(
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str | None,
    headers: Mapping[str, str],
    in_reply_to: str | None,
    references: Sequence[str],
    date: dt.datetime | None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(date or DEFAULT_DATE)
    if message_id is not None:
        msg["Message-ID"] = email.utils.make_msgid(domain="vien.example.vn") if message_id == "<auto>" else message_id
    if in_reply_to is not None:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    return msg


def base64_lines(data: bytes) -> bytes:
    """`data` in base64, 76 characters a line, CRLF, as mail clients write it."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def forwarded_in_base64(
    inner: bytes, *, sender: str = "a@vien.example.vn", message_id: str = "<fwd1@vien.example.vn>"
) -> bytes:
    """A forward as attachment whose message/rfc822 part is base64-encoded (Outlook and Exchange write these)."""
    return (
        (
            f"From: Nguyen Van A <{sender}>\r\nTo: nop-de-xuat@example.org\r\n"
            "Subject: =?utf-8?b?RndkOiDEkOG7gSB4deG6pXQgbmhp4buHbSB24bulIDIwMjQ=?=\r\n"
            f"Date: Mon, 06 May 2024 09:00:00 +0700\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="_002_fwd_"\r\n\r\n'
            "--_002_fwd_\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            "Forwarding the plan.\r\n\r\n--_002_fwd_\r\n"
            'Content-Type: message/rfc822; name="De xuat.eml"\r\nContent-Transfer-Encoding: base64\r\n'
            'Content-Disposition: attachment; filename="De xuat.eml"\r\n\r\n'
        ).encode()
        + base64_lines(inner)
        + b"\r\n--_002_fwd_--\r\n"
    )


def delivery_report(
    original: bytes,
    *,
    quoted_as: str = "message/rfc822",
    encoding: str = "base64",
    recipient: str = "a@vien.example.vn",
) -> bytes:
    """A Postfix-style delivery report (multipart/report) quoting `original` as `quoted_as`, in `encoding`."""
    quoted = original if quoted_as == "message/rfc822" else original.partition(b"\r\n\r\n")[0] + b"\r\n"
    body = base64_lines(quoted) if encoding == "base64" else quoted
    return (
        (
            "From: MAILER-DAEMON@mx.vien.example.vn (Mail Delivery System)\r\nTo: nop-de-xuat@example.org\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nDate: Mon, 06 May 2024 09:05:00 +0700\r\n"
            "Message-ID: <20240506020500.1A2B3C@mx.vien.example.vn>\r\nAuto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="1A2B3C.1714960500/mx"\r\n\r\n'
            "--1A2B3C.1714960500/mx\r\nContent-Description: Notification\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            f"\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n<{recipient}>: "
            "mailbox full\r\n\r\n--1A2B3C.1714960500/mx\r\nContent-Description: Delivery report\r\n"
            f"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.vien.example.vn\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.2.2\r\n\r\n"
            f"--1A2B3C.1714960500/mx\r\nContent-Description: Undelivered Message\r\nContent-Type: {quoted_as}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
        ).encode()
        + body
        + b"\r\n--1A2B3C.1714960500/mx--\r\n"
    )
