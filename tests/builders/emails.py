"""Build real received messages in memory for tests: plain submissions, zips, forwarded messages, winmail.dat."""

from __future__ import annotations

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
